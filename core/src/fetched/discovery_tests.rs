use super::*;
use serde_json::json;

fn cx() -> DiscoveryCheck {
    DiscoveryCheck {
        issuer: "https://idp.example".into(),
        allowed_hosts: vec!["idp.example".into(), "127.0.0.1".into()],
    }
}

fn parse(doc: serde_json::Value) -> Result<DiscoveryDoc, String> {
    DiscoveryDoc::parse(doc.to_string().as_bytes(), &cx())
}

#[test]
fn the_issuer_must_match_exactly_and_endpoints_pass_the_mix_up_defence() {
    let ok = parse(json!({"issuer": "https://idp.example", "jwks_uri": "https://idp.example:8443/keys"})).expect("ok");
    assert_eq!(ok.jwks_target, ("idp.example:8443".to_owned(), "/keys".to_owned()));
    let loopback = parse(json!({"issuer": "https://idp.example", "jwks_uri": "http://127.0.0.1:9403/jwks"}));
    assert!(loopback.is_ok(), "plain http is allowed on loopback");
    for (doc, why) in [
        (json!({"issuer": "https://idp.example/", "jwks_uri": "https://idp.example/k"}), "is not the configured"),
        (json!({"issuer": "https://evil.example", "jwks_uri": "https://idp.example/k"}), "mix-up"),
        (json!({"jwks_uri": "https://idp.example/k"}), "no `issuer`"),
        (json!({"issuer": "https://idp.example"}), "no `jwks_uri`"),
        (json!({"issuer": "https://idp.example", "jwks_uri": "http://idp.example/k"}), "must be https"),
        (json!({"issuer": "https://idp.example", "jwks_uri": "https://evil.example/k"}), "not in endpoint_hosts"),
        (json!({"issuer": "https://idp.example", "jwks_uri": "https://u@idp.example/k"}), "credentials"),
        (json!({"issuer": "https://idp.example", "jwks_uri": "ftp://idp.example/k"}), "absolute"),
    ] {
        let e = parse(doc.clone()).expect_err("refused");
        assert!(e.contains(why), "{doc}: {e}");
    }
    assert!(DiscoveryDoc::parse(br#"{"issuer":"a","issuer":"b"}"#, &cx()).is_err(), "duplicate members");
}

#[test]
fn a_changed_jwks_uri_is_named_in_the_log_line() {
    let l = DiscoveryLoaded {
        jwks_uri: "https://idp.example/k2".into(),
        changed_from: Some("https://idp.example/k1".into()),
    };
    assert_eq!(
        l.to_string(),
        "discovery loaded: jwks_uri CHANGED from https://idp.example/k1 to https://idp.example/k2"
    );
}
