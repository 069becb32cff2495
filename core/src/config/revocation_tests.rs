use crate::config::{GateConfig, OnStale};
use serde_json::{json, Value};

fn config(revocation: Value) -> Result<GateConfig, crate::config::ConfigError> {
    let c = json!({
        "providers": {"idp": {
            "issuer": "https://idp.example", "audiences": ["api"],
            "jwks": {"uri": "https://idp.example/jwks"},
            "revocation": revocation
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "idp"}}]
    });
    GateConfig::from_json(&c.to_string())
}

fn field(revocation: Value) -> String {
    config(revocation).expect_err("refused").field
}

#[test]
fn a_feed_gets_the_defaults_and_its_bound_as_max_stale() {
    let c = config(json!({"feed": {"uri": "https://idp.example/revocations"}})).unwrap();
    let r = c.providers[0].revocation.as_ref().unwrap();
    let feed = r.feed.as_ref().unwrap();
    assert_eq!((feed.path.as_str(), feed.authority.as_str()), ("/revocations", "idp.example"));
    assert_eq!(feed.refresh_interval_s, crate::config::defaults::REVOCATION_REFRESH_INTERVAL_S);
    assert_eq!(feed.max_stale_s, crate::config::defaults::REVOCATION_MAX_STALENESS_S);
    assert_eq!(feed.min_refresh_interval_s, feed.refresh_interval_s, "max-age cannot stretch polling");
    assert_eq!(r.on_stale, OnStale::Deny);
    assert!(c.warnings().is_empty());
}

#[test]
fn inline_entries_load_and_on_stale_allow_is_a_warning() {
    let c = config(json!({
        "inline": [{"jti": "a", "exp": 10}, {"sub": "u", "iat_before": 5, "exp": 10, "iss": "https://idp.example"}],
        "feed": {"cluster": "idp", "path": "/revocations", "refresh_interval_s": 2, "max_staleness_s": 10},
        "on_stale": "allow"
    }))
    .unwrap();
    let r = c.providers[0].revocation.as_ref().unwrap();
    assert_eq!((r.inline.len(), r.on_stale), (2, OnStale::Allow));
    let w = c.warnings();
    assert_eq!(w.len(), 1);
    assert!(w[0].contains("provider idp") && w[0].contains("weakened"), "{w:?}");
}

#[test]
fn errors_name_the_field() {
    let p = "providers.idp.revocation";
    assert_eq!(field(json!({})), p);
    assert_eq!(field(json!({"inline": [{"jti": "a"}]})), format!("{p}.inline[0].exp"));
    assert_eq!(field(json!({"inline": [{"jti": "a", "exp": 1, "typo": 1}]})), format!("{p}.inline[0]"));
    assert_eq!(field(json!({"inline": [{"jti": "a", "exp": 1, "iss": "https://else"}]})), format!("{p}.inline[0].iss"));
    assert_eq!(field(json!({"inline": [{"jti": "a", "exp": 1}], "on_stale": "allow"})), format!("{p}.on_stale"));
    assert_eq!(field(json!({"feed": {"uri": "https://i/r"}, "on_stale": "maybe"})), format!("{p}.on_stale"));
    assert_eq!(field(json!({"feed": {}})), format!("{p}.feed"));
    assert_eq!(field(json!({"feed": {"uri": "ftp://i/r"}})), format!("{p}.feed.uri"));
    assert_eq!(field(json!({"feed": {"uri": "https://i/r", "max_stale_s": 5}})), format!("{p}.feed.max_stale_s"));
    let tight = json!({"feed": {"uri": "https://i/r", "refresh_interval_s": 10, "max_staleness_s": 12}});
    assert_eq!(field(tight), format!("{p}.feed.max_staleness_s"));
    let huge = json!({"feed": {"uri": "https://i/r", "max_staleness_s": 100_000_000}});
    assert_eq!(field(huge), format!("{p}.feed.max_staleness_s"));
    assert_eq!(
        field(json!({"feed": {"uri": "https://i/r", "refresh_interval_s": 0}})),
        format!("{p}.feed.refresh_interval_s")
    );
    assert_eq!(field(json!({"feed": {"uri": "https://i/r", "timeout_ms": 0}})), format!("{p}.feed.timeout_ms"));
    assert_eq!(
        field(json!({"feed": {"uri": "https://i/r", "max_body_bytes": 10}})),
        format!("{p}.feed.max_body_bytes")
    );
    assert_eq!(field(json!({"feed": {"cluster": "c", "path": "r"}})), format!("{p}.feed.path"));
    assert_eq!(field(json!({"bogus": 1})), format!("{p}.bogus"));
}

#[test]
fn status_list_fields_are_checked_and_named() {
    let p = "providers.idp.revocation.status_list";
    let c =
        config(json!({"status_list": {"uri_prefix": "https://idp.example/statuslists/", "cluster": "idp"}})).unwrap();
    let s = c.providers[0].revocation.as_ref().unwrap().status_list.as_ref().unwrap();
    assert_eq!((s.uri_prefix.as_str(), s.remote.authority.as_str()), ("https://idp.example/statuslists/", ""));
    assert_eq!(s.max_lists, crate::config::defaults::STATUS_LIST_MAX_LISTS);
    assert_eq!(field(json!({"status_list": {}})), format!("{p}.uri_prefix"));
    assert_eq!(field(json!({"status_list": {"uri_prefix": "idp/statuslists/"}})), format!("{p}.uri_prefix"));
    assert_eq!(field(json!({"status_list": {"uri_prefix": "https://idp"}})), format!("{p}.uri_prefix"));
    let zero = json!({"status_list": {"uri_prefix": "https://idp/s/", "max_lists": 0}});
    assert_eq!(field(zero), format!("{p}.max_lists"));
    let tight =
        json!({"status_list": {"uri_prefix": "https://idp/s/", "refresh_interval_s": 10, "max_staleness_s": 5}});
    assert_eq!(field(tight), format!("{p}.max_staleness_s"));
    assert_eq!(field(json!({"status_list": {"uri_prefix": "https://idp/s/", "typo": 1}})), format!("{p}.typo"));
}
