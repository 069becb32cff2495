//! `issuer_pattern` + `tenants`: one provider per tenant, rules naming the base.

use crate::config::{GateConfig, JwksSource, Requirement};
use crate::test_support::*;
use serde_json::{json, Value};

fn multi(edit: impl FnOnce(&mut Value)) -> Result<GateConfig, crate::config::ConfigError> {
    let mut v = json!({
        "providers": {
            "entra": {
                "issuer_pattern": "https://login.example/{tenant}/v2.0",
                "tenants": ["acme", "globex"],
                "audiences": [AUD],
                "jwks": {"uri": "https://login.example/{tenant}/discovery/keys"}
            },
            "a": {"issuer": ISS_A, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(&ec_key("k"))])}}
        },
        "rules": [
            {"match": {"prefix": "/t/"}, "requires": {"provider": "entra"}},
            {"match": {"prefix": "/any/"}, "requires": {"any_of": ["a", "entra"]}}
        ]
    });
    edit(&mut v);
    GateConfig::from_json(&v.to_string())
}

/// A change to a config document.
type Edit = Box<dyn Fn(&mut Value)>;

#[test]
fn each_tenant_is_a_provider_with_its_own_issuer_and_keys() {
    let c = multi(|_| {}).expect("valid");
    let names: Vec<&str> = c.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["a", "entra.acme", "entra.globex"]);
    assert_eq!(c.providers[2].issuer, "https://login.example/globex/v2.0");
    match &c.providers[1].jwks {
        JwksSource::Remote(r) => assert_eq!(r.uri.as_deref(), Some("https://login.example/acme/discovery/keys")),
        other => panic!("{other:?}"),
    }
    assert_eq!(c.rules[0].requirement, Requirement::AnyOf(vec![1, 2]));
    assert_eq!(c.rules[1].requirement, Requirement::AnyOf(vec![0, 1, 2]));
    // Selection by issuer: one map lookup; an unlisted tenant has no provider.
    assert_eq!(c.provider_for_issuer("https://login.example/globex/v2.0", &[1, 2]), Some(2));
    assert_eq!(c.provider_for_issuer("https://login.example/initech/v2.0", &[1, 2]), None);
}

#[test]
fn tenant_errors_name_the_field() {
    let cases: Vec<(Edit, &str)> = vec![
        (Box::new(|v| v["providers"]["entra"]["tenants"] = Value::Null), "providers.entra.tenants"),
        (Box::new(|v| v["providers"]["entra"]["tenants"] = json!(["a/b"])), "providers.entra.tenants[0]"),
        (Box::new(|v| v["providers"]["entra"]["tenants"] = json!(["x", "x"])), "providers.entra.tenants[1]"),
        (
            Box::new(|v| v["providers"]["entra"]["issuer_pattern"] = json!("https://x")),
            "providers.entra.issuer_pattern",
        ),
        (Box::new(|v| v["providers"]["entra"]["issuer"] = json!("https://x")), "providers.entra.issuer"),
        (Box::new(|v| v["rules"][0]["requires"] = json!({"all_of": ["entra"]})), "rules[0].requires.all_of[0]"),
    ];
    for (edit, field) in cases {
        let e = multi(edit).expect_err("refused");
        assert_eq!(e.field, field, "{}", e.problem);
    }
}
