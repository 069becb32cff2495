//! Loading `validation`, `introspection` and rule `introspect`: defaults, and errors that
//! name the field.

use super::*;
use crate::config::GateConfig;
use crate::test_support::*;
use serde_json::{json, Value};

fn base(provider: Value) -> Value {
    json!({
        "providers": {"x": provider},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "x"}}]
    })
}

fn intro_provider() -> Value {
    json!({
        "issuer": ISS_A, "audiences": [AUD], "validation": "introspection",
        "introspection": {"uri": "https://idp.example/token/introspection", "client_id": "gate", "client_secret": "s"}
    })
}

fn error_of(v: Value) -> (String, String) {
    let e = GateConfig::from_json(&v.to_string()).expect_err("must be refused");
    (e.field, e.problem)
}

/// A change to a config document.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn an_introspection_provider_needs_no_jwks_and_gets_defaults() {
    let c = GateConfig::from_json(&base(intro_provider()).to_string()).expect("valid");
    let p = &c.providers[0];
    assert_eq!(p.validation, Validation::Introspection);
    let i = p.introspection.as_ref().expect("block");
    assert_eq!((i.authority.as_str(), i.path.as_str()), ("idp.example", "/token/introspection"));
    assert_eq!((i.max_ttl_s, i.negative_ttl_s, i.stale_if_error_s, i.timeout_ms), (60, 5, 0, 2000));
    assert_eq!(i.shared_cache_size, 1024);
    assert_eq!(i.auth, ClientAuth::SecretBasic { secret: "s".into() });
    assert_eq!(c.provider_for_issuer(ISS_A, &[0]), Some(0));
    assert_eq!(c.provider_for_issuer(ISS_B, &[0]), None);
}

#[test]
fn errors_name_the_field() {
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|p| p["validation"] = json!("opaque")), "providers.x.validation"),
        (Box::new(|p| p["introspection"] = Value::Null), "providers.x.introspection"),
        (Box::new(|p| p["validation"] = json!("hybrid")), "providers.x.jwks"),
        (Box::new(|p| p["introspection"]["client_id"] = Value::Null), "providers.x.introspection.client_id"),
        (Box::new(|p| p["introspection"]["client_secret"] = Value::Null), "providers.x.introspection.client_secret"),
        (Box::new(|p| p["introspection"]["auth_method"] = json!("tls")), "providers.x.introspection.auth_method"),
        (Box::new(|p| p["introspection"]["max_ttl_s"] = json!(0)), "providers.x.introspection.max_ttl_s"),
        (Box::new(|p| p["introspection"]["negative_ttl_s"] = json!(600)), "providers.x.introspection.negative_ttl_s"),
        (
            Box::new(|p| p["introspection"]["shared_cache_size"] = json!(70_000)),
            "providers.x.introspection.shared_cache_size",
        ),
        (Box::new(|p| p["introspection"]["cache_size"] = json!(0)), "providers.x.introspection.cache_size"),
        (Box::new(|p| p["introspection"]["uri"] = json!("ftp://x")), "providers.x.introspection.uri"),
        (
            Box::new(|p| {
                p["introspection"]["auth_method"] = json!("private_key_jwt");
                p["introspection"]["client_secret"] = Value::Null;
                p["introspection"]["private_key"] = json!({"kty": "EC", "crv": "P-256", "d": "AAAA"});
            }),
            "providers.x.introspection.private_key.d",
        ),
        (
            Box::new(|p| {
                p["introspection"]["auth_method"] = json!("private_key_jwt");
            }),
            "providers.x.introspection.client_secret",
        ),
    ];
    for (edit, field) in cases {
        let mut p = intro_provider();
        edit(&mut p);
        let (got, problem) = error_of(base(p));
        assert_eq!(got, field, "{problem}");
    }
}

#[test]
fn private_key_jwt_takes_a_p256_jwk_and_defaults_the_audience_to_the_endpoint() {
    let mut p = intro_provider();
    p["introspection"]["auth_method"] = json!("private_key_jwt");
    p["introspection"]["client_secret"] = Value::Null;
    let mut jwk = ec_jwk(&ec_key("gate"));
    jwk["d"] = json!(crate::b64::encode(&[5u8; 32]));
    p["introspection"]["private_key"] = jwk;
    let c = GateConfig::from_json(&base(p).to_string()).expect("valid");
    match &c.providers[0].introspection.as_ref().expect("block").auth {
        ClientAuth::PrivateKeyJwt { key, audience } => {
            assert_eq!(audience, "https://idp.example/token/introspection");
            assert!(!format!("{key:?}").contains("5, 5"), "Debug never prints the scalar");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_introspect_rule_needs_introspecting_providers() {
    let mut v = base(json!({"issuer": ISS_A, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(&ec_key("k"))])}}));
    v["rules"][0]["introspect"] = json!(true);
    assert_eq!(error_of(v.clone()).0, "rules[0].introspect");
    v["providers"]["x"]["introspection"] = intro_provider()["introspection"].clone();
    assert!(GateConfig::from_json(&v.to_string()).expect("valid").rules[0].introspect);
    let public = json!({"providers": {"x": intro_provider()}, "rules": [{"match": {"prefix": "/"}, "public": true, "introspect": true}]});
    assert_eq!(error_of(public).0, "rules[0].introspect");
}

#[test]
fn discovery_takes_true_or_a_url_and_needs_a_remote_jwks_block_without_a_location() {
    let with = |d: Value, jwks: Value| {
        json!({
            "providers": {"x": {"issuer": "https://idp.example/t1", "audiences": [AUD], "discovery": d, "jwks": jwks}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "x"}}]
        })
    };
    let c = GateConfig::from_json(&with(json!(true), json!({"cluster": "idp"})).to_string()).expect("valid");
    let d = c.providers[0].discovery.as_ref().expect("discovery");
    assert_eq!(d.remote.path, "/t1/.well-known/openid-configuration");
    assert_eq!(
        (d.remote.authority.as_str(), d.allowed_hosts.as_slice()),
        ("idp.example", &["idp.example".to_owned()][..])
    );
    let url = with(json!("https://idp.example/.well-known/oauth-authorization-server/t1"), json!({"cluster": "idp"}));
    let c = GateConfig::from_json(&url.to_string()).expect("RFC 8414 location");
    assert_eq!(
        c.providers[0].discovery.as_ref().map(|d| d.remote.path.as_str()),
        Some("/.well-known/oauth-authorization-server/t1")
    );
    assert_eq!(error_of(with(json!(false), json!({"cluster": "idp"}))).0, "providers.x.discovery");
    assert_eq!(error_of(with(json!(true), json!({"cluster": "idp", "path": "/jwks"}))).0, "providers.x.jwks");
    let mut hosts = with(json!(true), json!({"cluster": "idp"}));
    hosts["providers"]["x"]["endpoint_hosts"] = json!([]);
    assert_eq!(error_of(hosts).0, "providers.x.endpoint_hosts");
}
