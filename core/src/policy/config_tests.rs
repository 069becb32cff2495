//! Load-time refusals of policy config, each naming the field.

use crate::config::{ConfigError, GateConfig};
use crate::test_support::*;
use serde_json::{json, Value};

/// A config whose only rules are `rules` (plus `top` members).
fn load(rules: Value, top: Value) -> Result<GateConfig, ConfigError> {
    let mut c = json!({
        "providers": {"a": {"issuer": ISS_A, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(&ec_key("k"))])}}},
        "rules": rules,
    });
    for (k, v) in top.as_object().expect("object") {
        c[k] = v.clone();
    }
    GateConfig::from_json(&c.to_string())
}

fn with_require(require: Value) -> Value {
    json!([{"match": {"template": "/t/{tenant}/**"}, "requires": {"provider": "a"}, "require": require}])
}

fn refused_at(result: Result<GateConfig, ConfigError>, field: &str) -> String {
    match result {
        Err(e) => {
            assert_eq!(e.field, field, "{e}");
            e.problem
        }
        Ok(_) => panic!("expected an error at {field}"),
    }
}

#[test]
fn a_policy_config_loads() {
    let require = json!({"all": [
        {"claim": "tenant", "op": "eq", "from": "path.tenant"},
        {"any": [{"claim": "roles", "op": "contains_any", "value": ["a", "b"]}, {"claim": "level", "op": "ge", "value": 3}]},
        {"not": {"claim": "email", "op": "matches", "value": ".*@evil\\.example"}},
        {"claim": "realm_access.roles", "op": "exists"}
    ]});
    let c = load(
        with_require(require),
        json!({"mode": "report_only", "report_header": "X-Report", "reason_in_body": true}),
    )
    .expect("loads");
    assert_eq!(c.policy_claims, ["tenant", "roles", "level", "email", "realm_access"]);
    assert_eq!(c.report_header.as_deref(), Some("x-report"));
    assert!(c.strip.strips("x-report"), "a client copy of the report header is stripped");
}

#[test]
fn condition_errors_name_the_field() {
    let rows = [
        (json!({"claim": "a", "op": "equals", "value": 1}), "rules[0].require.op", "unknown operator"),
        (json!({"claim": "a", "op": "eq", "from": "path.tenantx"}), "rules[0].require.from", "no capture"),
        (json!({"claim": "a", "op": "eq", "from": "query.x"}), "rules[0].require.from", "path."),
        (json!({"claim": "a", "op": "eq", "from": "header.a b"}), "rules[0].require.from", "header name"),
        (json!({"all": []}), "rules[0].require.all", "non-empty"),
        (json!({"any": []}), "rules[0].require.any", "non-empty"),
        (json!({"all": [{"any": [{}]}]}), "rules[0].require.all[0].any[0].claim", "claim"),
        (json!({"all": [], "any": []}), "rules[0].require", "stands alone"),
        (json!({"claim": "a", "op": "eq"}), "rules[0].require", "exactly one of `value` or `from`"),
        (json!({"claim": "a", "op": "eq", "value": 1, "from": "path.tenant"}), "rules[0].require", "exactly one"),
        (json!({"claim": "a", "op": "eq", "value": [1]}), "rules[0].require.value", "string, a number or a boolean"),
        (json!({"claim": "a", "op": "in", "value": []}), "rules[0].require.value", "non-empty"),
        (json!({"claim": "a", "op": "in", "value": ["1", 1]}), "rules[0].require.value[1]", "one type"),
        (json!({"claim": "a", "op": "in", "from": "path.tenant"}), "rules[0].require.from", "only `eq`"),
        (json!({"claim": "a", "op": "gt", "value": "3"}), "rules[0].require.value", "number"),
        (json!({"claim": "a", "op": "exists", "value": true}), "rules[0].require.value", "no value"),
        (json!({"claim": "a", "op": "matches", "value": "("}), "rules[0].require.value", "pattern"),
        (json!({"claim": "a", "op": "matches", "value": "a{1000}{1000}"}), "rules[0].require.value", "too large"),
        (json!({"claim": "a", "op": "matches", "value": "a".repeat(300)}), "rules[0].require.value", "longer than"),
        (json!({"claim": "a..b", "op": "exists"}), "rules[0].require.claim", "dotted path"),
        (json!({"claim": "a.b.c.d.e.f.g.h.i", "op": "exists"}), "rules[0].require.claim", "segments"),
        (json!({"claim": "a", "op": "exists", "vale": 1}), "rules[0].require.vale", "unknown member"),
        (json!({"claim": "a"}), "rules[0].require.op", "required"),
        (json!("tenant"), "rules[0].require", "object"),
    ];
    for (require, field, problem) in rows {
        let p = refused_at(load(with_require(require.clone()), json!({})), field);
        assert!(p.contains(problem), "{require}: {p}");
    }
}

#[test]
fn tree_size_is_bounded() {
    let mut deep = json!({"claim": "a", "op": "exists"});
    for _ in 0..9 {
        deep = json!({"not": deep});
    }
    assert!(refused_at(load(with_require(deep), json!({})), "rules[0].require.not.not.not.not.not.not.not.not")
        .contains("nest"));
    let many: Vec<Value> = (0..33).map(|_| json!({"claim": "a", "op": "exists"})).collect();
    assert!(refused_at(load(with_require(json!({"all": many})), json!({})), "rules[0].require.all[32]").contains("32"));
}

#[test]
fn match_errors_name_the_field() {
    let rule = |m: Value| json!([{"match": m, "requires": {"provider": "a"}}]);
    let rows = [
        (json!({"template": "/a/**/b"}), "rules[0].match.template"),
        (json!({"template": "/a/{x}/{x}"}), "rules[0].match.template"),
        (json!({"template": "/a/{x}", "prefix": "/a/"}), "rules[0].match"),
        (json!({"prefix": "/a/", "host": "a.example.com:80"}), "rules[0].match.host"),
        (json!({"prefix": "/a/", "host": "a.*.com"}), "rules[0].match.host"),
    ];
    for (m, field) in rows {
        refused_at(load(rule(m.clone()), json!({})), field);
    }
    let no_template = json!([{"match": {"prefix": "/t/"}, "requires": {"provider": "a"},
        "require": {"claim": "tenant", "op": "eq", "from": "path.tenant"}}]);
    assert!(refused_at(load(no_template, json!({})), "rules[0].require.from").contains("template"));
}

#[test]
fn the_same_template_twice_is_refused_unless_hosts_or_methods_differ() {
    let r = |t: &str, methods: Value, host: Option<&str>| {
        let mut m = json!({"template": t, "methods": methods});
        if let Some(h) = host {
            m["host"] = json!(h);
        }
        json!({"match": m, "requires": {"provider": "a"}})
    };
    let twice = json!([r("/t/{a}/**", json!([]), None), r("/t/{b}/**", json!(["GET"]), None)]);
    assert!(refused_at(load(twice, json!({})), "rules[1].match.template").contains("rules[0]"));
    let same_methods = json!([r("/t/{a}", json!(["GET", "POST"]), None), r("/t/{a}", json!(["post"]), None)]);
    refused_at(load(same_methods, json!({})), "rules[1].match.template");
    let fine = json!([
        r("/t/{a}", json!(["GET"]), None),
        r("/t/{a}", json!(["POST"]), None),
        r("/t/{a}", json!(["GET"]), Some("x.example.com")),
        r("/t/{a}/**", json!([]), None)
    ]);
    load(fine, json!({})).expect("distinct methods, hosts or shapes load");
}

#[test]
fn modes_names_and_flags_are_checked() {
    let r = |extra: Value| {
        let mut rule = json!({"match": {"prefix": "/"}, "requires": {"provider": "a"}});
        for (k, v) in extra.as_object().expect("object") {
            rule[k] = v.clone();
        }
        json!([rule])
    };
    refused_at(load(r(json!({"mode": "shadow"})), json!({})), "rules[0].mode");
    refused_at(load(r(json!({})), json!({"mode": "dry_run"})), "mode");
    refused_at(load(r(json!({})), json!({"report_header": "bad header"})), "report_header");
    refused_at(load(r(json!({"name": "Bad.Name"})), json!({})), "rules[0].name");
    refused_at(load(r(json!({"name": "unmatched"})), json!({})), "rules[0].name");
    let dup = json!([
        {"name": "x", "match": {"prefix": "/a"}, "public": true},
        {"name": "x", "match": {"prefix": "/b"}, "public": true}
    ]);
    refused_at(load(dup, json!({})), "rules[1].name");
    let public_require = json!([{"match": {"prefix": "/"}, "public": true, "require": {"claim": "a", "op": "exists"}}]);
    refused_at(load(public_require, json!({})), "rules[0].require");
    let optional_require = json!([{"match": {"prefix": "/"}, "requires": {"allow_missing": ["a"]}, "require": {"claim": "a", "op": "exists"}}]);
    refused_at(load(optional_require, json!({})), "rules[0].require");
}

/// A P-256 private JWK in place of the key tests/client_key.py makes at `make up`.
fn gate_client_jwk() -> String {
    let mut jwk = crate::test_support::ec_jwk(&crate::test_support::ec_key("gate"));
    jwk["d"] = serde_json::json!(crate::b64::encode(&[7u8; 32]));
    jwk.to_string()
}

#[test]
fn the_demo_config_loads_with_its_policy_routes() {
    let text = include_str!("../../../envoy/jwtgate.json")
        .replace("${IDP_ISSUER}", "http://127.0.0.1:9400")
        .replace("${IDP_AUTHORITY}", "127.0.0.1:9400")
        .replace("${OPAQUE_ISSUER}", "http://127.0.0.1:9403")
        .replace("${OPAQUE_AUTHORITY}", "127.0.0.1:9403")
        .replace("${THIRD_ISSUER}", "http://127.0.0.1:9404")
        .replace("${THIRD_AUTHORITY}", "127.0.0.1:9404")
        .replace("\"${GATE_CLIENT_JWK}\"", &gate_client_jwk());
    let c = GateConfig::from_json(&text).expect("envoy/jwtgate.json loads");
    let names: Vec<&str> = c.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(&names[names.len() - 4..], ["tenants", "orders_write", "verified", "shadow"]);
    assert_eq!(c.report_header.as_deref(), Some("x-jwtgate-report"));
    assert_eq!(c.policy_claims, ["tenant", "roles", "email_verified", "level"]);
}
