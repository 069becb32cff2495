//! API keys through `Gate::decide`: key-only and key-or-token routes, rotation,
//! disabled/expired/unknown/malformed keys (one answer for all), sources, stripping,
//! policy over an application's scopes and metadata, and load-time errors.

use super::*;
use crate::apikey::{generate, NewKey};
use crate::decision::Decision;
use crate::error::AuthError;
use crate::test_support::*;
use serde_json::{json, Value};

struct Keys {
    old: NewKey,
    new: NewKey,
    disabled: NewKey,
    expired: NewKey,
    other: NewKey,
}

fn keys() -> Keys {
    Keys {
        old: generate([1; 32]),
        new: generate([2; 32]),
        disabled: generate([3; 32]),
        expired: generate([4; 32]),
        other: generate([5; 32]),
    }
}

fn entry(k: &NewKey, client: &str, extra: Value) -> Value {
    let mut e = json!({"digest": k.digest_line(), "client": client, "scopes": ["reports:read"],
        "metadata": {"tenant": "acme", "tier": 2}});
    if let (Some(e), Some(extra)) = (e.as_object_mut(), extra.as_object()) {
        e.extend(extra.clone());
    }
    e
}

/// The test world plus provider `svc` (index 3) and three rules in front of the others.
fn key_world(k: &Keys, edit: impl FnOnce(&mut Value)) -> World {
    world_with(|c| {
        c["providers"]["svc"] = json!({"kind": "api_keys", "keys": [
            entry(&k.old, "reports", json!({})),
            entry(&k.new, "reports", json!({})),
            entry(&k.disabled, "reports", json!({"disabled": true})),
            entry(&k.expired, "reports", json!({"expires_at": NOW_S})),
            entry(&k.other, "billing", json!({"scopes": [], "metadata": {"tenant": "globex"}})),
        ]});
        let rules = c["rules"].as_array_mut().expect("rules");
        rules.insert(0, json!({"match": {"prefix": "/keys/"}, "requires": {"provider": "svc"}}));
        rules.insert(1, json!({"match": {"prefix": "/either/"}, "requires": {"any_of": ["a", "svc"]}}));
        rules.insert(
            2,
            json!({"match": {"prefix": "/reports/"}, "requires": {"any_of": ["a", "svc"]},
            "scopes": ["reports:read"], "require": {"claim": "tenant", "op": "eq", "value": "acme"}}),
        );
        edit(c);
    })
}

fn with_key(path: &str, k: &NewKey) -> Req {
    req("GET", path, &[("x-api-key", &k.key)])
}

#[test]
fn a_key_opens_a_key_route_and_forwards_the_application_not_the_key() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    let a = allowed(decide(&mut w, &with_key("/keys/x", &k.old)));
    assert_eq!(set(&a, "x-jwt-client"), Some("reports"));
    assert_eq!(set(&a, "x-jwt-scope"), Some("reports:read"));
    assert_eq!(set(&a, "x-jwt-meta-tenant"), Some("acme"));
    assert_eq!(set(&a, "x-jwt-meta-tier"), Some("2"));
    assert!(a.remove.contains(&"x-api-key".to_owned()), "the key is stripped: {:?}", a.remove);
    assert_eq!(a.token_hash.as_deref(), Some(&crate::hex::encode(&k.old.digest)[..12]), "logs carry a digest prefix");
    assert!(!a.log_line().contains(&k.old.key));
    assert_eq!(w.gate.api_key_count(3), 5);
}

#[test]
fn the_authorization_apikey_scheme_works_and_is_stripped() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    let r = req("GET", "/keys/x", &[("authorization", &format!("ApiKey {}", k.new.key))]);
    let a = allowed(decide(&mut w, &r));
    assert_eq!(set(&a, "x-jwt-client"), Some("reports"));
    assert!(a.remove.contains(&"authorization".to_owned()));
}

#[test]
fn rotation_two_keys_of_one_application_both_work() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    for key in [&k.old, &k.new] {
        assert_eq!(set(&allowed(decide(&mut w, &with_key("/keys/x", key))), "x-jwt-client"), Some("reports"));
    }
}

#[test]
fn missing_unknown_disabled_expired_and_mistyped_keys_get_one_answer() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    let unknown = generate([9; 32]);
    let mut typo = k.old.key.clone().into_bytes();
    typo[10] = if typo[10] == b'A' { b'B' } else { b'A' };
    let typo = String::from_utf8(typo).expect("ascii");
    let requests = [
        req("GET", "/keys/x", &[]),
        with_key("/keys/x", &unknown),
        with_key("/keys/x", &k.disabled),
        with_key("/keys/x", &k.expired),
        req("GET", "/keys/x", &[("x-api-key", &typo)]),
        req("GET", "/keys/x", &[("x-api-key", "jg_short")]),
        req("GET", "/keys/x", &[("x-api-key", "two words")]),
        req("GET", "/keys/x", &[("x-api-key", &format!("{}\u{1}", k.old.key))]),
    ];
    let answers: Vec<_> = requests.iter().map(|r| denied(decide(&mut w, r))).collect();
    for d in &answers {
        assert_eq!(d.reason, AuthError::InvalidApiKey);
        assert_eq!((d.status, d.www_authenticate.as_deref()), (401, Some("ApiKey realm=\"jwtgate\"")));
        assert_eq!((&d.body, d.headers()), (&answers[0].body, answers[0].headers()), "never says which part");
    }
}

#[test]
fn a_key_route_ignores_tokens_and_a_token_route_ignores_keys() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    let t = es256_token(&w.ec_a, &payload(json!({})));
    assert_eq!(denied(decide(&mut w, &bearer("/keys/x", &t))).reason, AuthError::InvalidApiKey);
    assert_eq!(denied(decide(&mut w, &with_key("/admin/x", &k.old))).reason, AuthError::MissingToken);
}

#[test]
fn either_route_takes_a_token_or_a_key_but_not_both() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let a = allowed(decide(&mut w, &bearer("/either/x", &t)));
    assert_eq!((set(&a, "x-jwt-sub"), set(&a, "x-jwt-client")), (Some("user-1"), None));
    let a = allowed(decide(&mut w, &with_key("/either/x", &k.old)));
    assert_eq!((set(&a, "x-jwt-sub"), set(&a, "x-jwt-client")), (None, Some("reports")));
    let both = req("GET", "/either/x", &[("authorization", &format!("Bearer {t}")), ("x-api-key", &k.old.key)]);
    assert_eq!(denied(decide(&mut w, &both)).reason, AuthError::MultipleTokens);
    let d = denied(decide(&mut w, &req("GET", "/either/x", &[])));
    assert_eq!(d.reason, AuthError::MissingCredential);
    assert_eq!(d.www_authenticate.as_deref(), Some("Bearer realm=\"jwtgate\", ApiKey realm=\"jwtgate\""));
    // A key in the Authorization header next to a Bearer one: two headers, refused.
    let two = req(
        "GET",
        "/either/x",
        &[("authorization", &format!("Bearer {t}")), ("authorization", &format!("ApiKey {}", k.old.key))],
    );
    assert_eq!(denied(decide(&mut w, &two)).reason, AuthError::MultipleTokens);
}

#[test]
fn scopes_and_conditions_apply_to_the_application_as_to_token_claims() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    assert!(matches!(decide(&mut w, &with_key("/reports/x", &k.old)), Decision::Allow(_)));
    // `billing` has no scope: 403 insufficient_scope, as a token without it.
    let d = denied(decide(&mut w, &with_key("/reports/x", &k.other)));
    assert_eq!((d.status, d.reason.metric_reason()), (403, "scope"));
    // Give billing the scope: its tenant metadata (globex) fails the condition.
    let mut w = key_world(&k, |c| c["providers"]["svc"]["keys"][4]["scopes"] = json!(["reports:read"]));
    let d = denied(decide(&mut w, &with_key("/reports/x", &k.other)));
    assert_eq!((d.status, d.body.contains("access_denied")), (403, true));
    // A token is held to the same rule.
    let t = es256_token(&w.ec_a, &payload(json!({"scope": "reports:read", "tenant": "acme"})));
    assert!(matches!(decide(&mut w, &bearer("/reports/x", &t)), Decision::Allow(_)));
}

#[test]
fn the_query_source_is_opt_in_and_the_key_is_removed_from_the_query() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    let in_query = req("GET", &format!("/keys/x?api_key={}&page=2", k.old.key), &[]);
    assert_eq!(denied(decide(&mut w, &in_query)).reason, AuthError::InvalidApiKey, "off by default");
    let mut w = key_world(&k, |c| {
        c["providers"]["svc"]["from"] = json!([{"header": "x-api-key"}, {"query": "api_key"}]);
    });
    let a = allowed(decide(&mut w, &in_query));
    assert_eq!(set(&a, "x-jwt-client"), Some("reports"));
    assert_eq!(a.target, "/keys/x?page=2", "the key never reaches the upstream");
    let decoded_name = req("GET", &format!("/keys/x?api%5Fkey={}", k.old.key), &[("x-api-key", &k.new.key)]);
    assert_eq!(denied(decide(&mut w, &decoded_name)).reason, AuthError::MultipleTokens);
}

#[test]
fn duplicate_key_headers_are_refused() {
    let k = keys();
    let mut w = key_world(&k, |_| {});
    let r = req("GET", "/keys/x", &[("x-api-key", &k.old.key), ("X-Api-Key", &k.new.key)]);
    assert_eq!(denied(decide(&mut w, &r)).reason, AuthError::MultipleTokens);
    let r = req("GET", "/keys/x", &[("x-api-key", &format!("{},{}", k.old.key, k.new.key))]);
    assert_eq!(denied(decide(&mut w, &r)).reason, AuthError::MultipleTokens);
}

#[test]
fn forged_application_headers_are_stripped_on_every_route() {
    let k = keys();
    let mut w = key_world(&k, |c| c["providers"]["svc"]["client_header"] = json!("x-app-name"));
    let r = req("GET", "/public/x", &[("x-app-name", "admin"), ("x_jwt_meta_tenant", "acme"), ("x-jwt-client", "a")]);
    let a = allowed(decide(&mut w, &r));
    for h in ["x-app-name", "x_jwt_meta_tenant", "x-jwt-client"] {
        assert!(a.remove.contains(&h.to_owned()), "{h}: {:?}", a.remove);
    }
    let a = allowed(decide(&mut w, &with_key("/keys/x", &k.old)));
    assert_eq!(set(&a, "x-app-name"), Some("reports"));
}

fn load_error(edit: impl FnOnce(&mut Value)) -> crate::config::ConfigError {
    let mut c = json!({
        "providers": {
            "idp": {"issuer": ISS_A, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(&ec_key("k"))])}},
            "svc": {"kind": "api_keys", "keys": [{"digest": generate([1; 32]).digest_line(), "client": "c"}]}
        },
        "rules": [{"match": {"prefix": "/"}, "requires": {"any_of": ["idp", "svc"]}}]
    });
    GateConfig::from_json(&c.to_string()).expect("the base config loads");
    edit(&mut c);
    GateConfig::from_json(&c.to_string()).expect_err("refused")
}

#[test]
fn load_time_errors_name_the_field() {
    type Edit = Box<dyn FnOnce(&mut Value)>;
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|c| c["providers"]["svc"]["issuer"] = json!("x")), "providers.svc.issuer"),
        (Box::new(|c| c["providers"]["svc"]["forward_token"] = json!(true)), "providers.svc.forward_token"),
        (Box::new(|c| c["providers"]["svc"]["kind"] = json!("apikeys")), "providers.svc.kind"),
        (Box::new(|c| c["providers"]["idp"]["keys"] = json!([])), "providers.idp.keys"),
        (Box::new(|c| c["providers"]["svc"]["keys"][0]["digest"] = json!("abc")), "providers.svc.keys[0].digest"),
        (Box::new(|c| c["providers"]["svc"]["keys"][0]["scope"] = json!("x")), "providers.svc.keys[0].scope"),
        (Box::new(|c| c["providers"]["svc"]["feed"] = json!({"uri": "https://x/keys"})), "providers.svc.keys"),
        (Box::new(|c| c["providers"]["svc"]["from"] = json!([{"cookie": "k"}])), "providers.svc.from[0]"),
        (
            Box::new(|c| c["providers"]["svc"]["from"] = json!([{"header": "authorization", "prefix": "Bearer "}])),
            "providers.svc.from[0]",
        ),
        (Box::new(|c| c["rules"][0]["requires"] = json!({"all_of": ["idp", "svc"]})), "rules[0].requires.all_of[1]"),
        (
            Box::new(|c| c["rules"][0]["requires"] = json!({"allow_missing": ["svc"]})),
            "rules[0].requires.allow_missing[0]",
        ),
        (Box::new(|c| c["providers"]["svc"]["client_header"] = json!("bad header")), "providers.svc.client_header"),
    ];
    for (edit, field) in cases {
        let e = load_error(edit);
        assert_eq!(e.field, field, "{e}");
    }
}

#[test]
fn a_feed_provider_holds_then_answers_503_until_its_feed_loads() {
    let k = keys();
    let mut w = key_world(&k, |c| {
        c["providers"]["svc"] = json!({"kind": "api_keys", "feed": {"uri": "https://keys.example/feed.json"}});
    });
    assert!(matches!(decide(&mut w, &with_key("/keys/x", &k.old)), Decision::NeedKeys { provider: 3 }));
    let late = w.gate.decide(&with_key("/keys/x", &k.old).view(), NOW_MS + 10_000, NOW_MS);
    let d = denied(late);
    assert_eq!((d.status, d.retry_after_s, d.www_authenticate.as_deref()), (503, Some(5), None));
    assert_eq!(d.reason, AuthError::KeyFeedUnavailable);
    assert!(d.body.contains("temporarily_unavailable") && d.body.contains("API keys are temporarily unavailable"));
}

#[test]
fn defaults_of_an_api_keys_provider() {
    let k = keys();
    let w = key_world(&k, |c| {
        c["providers"]["feed"] = json!({"kind": "api_keys", "feed": {"uri": "https://keys.example/feed.json"}});
    });
    let p = w.gate.config().providers.iter().find(|p| p.name == "feed").expect("provider");
    let keys = p.api_keys().expect("api_keys");
    let crate::config::KeySource::Feed(r) = &keys.keys else { panic!("a feed") };
    assert_eq!((r.refresh_interval_s, r.max_stale_s), (60, 900));
    assert_eq!(keys.rendering, crate::apikey::Rendering::default());
    assert_eq!(keys.rendering.client_header, "x-jwt-client");
    let from: Vec<String> = p.sources.iter().map(|s| format!("{s:?}")).collect();
    assert_eq!(
        from,
        [r#"Header { name: "x-api-key", prefix: "" }"#, r#"Header { name: "authorization", prefix: "ApiKey " }"#]
    );
    assert!(!p.forward_token);
}
