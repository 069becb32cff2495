use super::*;

fn config(providers: Value, rules: Value) -> String {
    json!({ "providers": providers, "rules": rules }).to_string()
}

fn idp(extra: Value) -> Value {
    let mut p = json!({ "issuer": "https://idp.example", "audiences": ["api"], "jwks": { "uri": "https://idp.example/jwks", "cluster": "idp" } });
    if let (Some(p), Some(extra)) = (p.as_object_mut(), extra.as_object()) {
        p.extend(extra.clone());
    }
    json!({ "idp": p })
}

fn fields(findings: &[Finding]) -> Vec<(Level, &str)> {
    findings.iter().map(|f| (f.level, f.field.as_str())).collect()
}

#[test]
fn a_config_the_core_refuses_is_one_error_at_its_field() {
    let text = config(idp(json!({})), json!([{ "match": { "prefix": "/" }, "requires": { "provider": "nope" } }]));
    let f = lint(&text);
    assert_eq!(fields(&f), vec![(Level::Error, "rules[0].requires.provider")]);
    assert!(f[0].message.contains("nope"));
}

#[test]
fn a_clean_config_has_no_findings() {
    let rules = json!([
        { "match": { "prefix": "/public/" }, "public": true },
        { "match": { "prefix": "/api/admin" }, "requires": { "provider": "idp" }, "scopes": ["admin"] },
        { "match": { "prefix": "/api/" }, "requires": { "provider": "idp" } }
    ]);
    assert_eq!(lint(&config(idp(json!({})), rules)), vec![]);
}

#[test]
fn risky_provider_settings_are_warned_at_their_field() {
    let p = idp(json!({
        "audiences": "*", "forward_token": true,
        "claim_to_headers": [{ "claim": "sub", "header": "x-jwt-user" }],
        "from": [{ "header": "authorization", "prefix": "Bearer " }, { "query": "access_token" }],
        "clock_skew_s": 600
    }));
    let f = lint(&config(p, json!([{ "match": { "prefix": "/api/" }, "requires": { "provider": "idp" } }])));
    assert_eq!(
        fields(&f),
        vec![
            (Level::Warning, "providers.idp.audiences"),
            (Level::Warning, "providers.idp.forward_token"),
            (Level::Warning, "providers.idp.from[1]"),
            (Level::Warning, "providers.idp.clock_skew_s"),
        ]
    );
}

#[test]
fn shadowed_rules_and_broad_public_prefixes_are_warned() {
    let rules = json!([
        { "match": { "prefix": "/api/" }, "requires": { "provider": "idp" } },
        { "match": { "prefix": "/api/admin/" }, "requires": { "provider": "idp" }, "scopes": ["admin"] },
        { "match": { "template": "/api/{t}/**" }, "requires": { "provider": "idp" } },
        { "match": { "exact": "/x", "methods": ["GET"] }, "public": true },
        { "match": { "exact": "/x", "methods": ["GET", "POST"] }, "public": true },
        { "match": { "exact": "/y", "methods": ["POST"] }, "public": true },
        { "match": { "exact": "/y", "methods": ["GET"] }, "public": true },
        { "match": { "prefix": "/pub" }, "public": true },
        { "match": { "prefix": "/" }, "public": true }
    ]);
    let f = lint(&config(idp(json!({})), rules));
    assert_eq!(
        fields(&f),
        vec![
            (Level::Warning, "rules[1]"),
            (Level::Warning, "rules[2]"),
            (Level::Warning, "rules[7].match.prefix"),
            (Level::Warning, "rules[8].match.prefix"),
        ],
        "{f:#?}"
    );
    assert!(f[0].message.contains("rules[0] (prefix /api/)"));
}

#[test]
fn host_requirements_and_gate_wide_report_only_are_warned() {
    let p = json!({ "idp": { "issuer": "https://idp.example", "audiences": ["api"], "jwks": { "uri": "https://idp.example/jwks" } } });
    let mut doc: Value = serde_json::from_str(&config(
        p,
        json!([{ "match": { "prefix": "/api/" }, "requires": { "provider": "idp" } }]),
    ))
    .unwrap();
    doc["mode"] = json!("report_only");
    let f = lint(&doc.to_string());
    assert_eq!(fields(&f), vec![(Level::Warning, "providers.idp.jwks.cluster"), (Level::Warning, "mode")]);
    assert!(f[0].message.contains("in Envoy"));
}

#[test]
fn a_revocation_feed_that_allows_when_stale_is_a_weakened_guarantee() {
    let feed = json!({ "uri": "https://idp.example/revocations", "cluster": "idp", "max_staleness_s": 30 });
    let rules = json!([{ "match": { "prefix": "/api/" }, "requires": { "provider": "idp" } }]);
    let allow = idp(json!({ "revocation": { "feed": feed, "on_stale": "allow" } }));
    let f = lint(&config(allow, rules.clone()));
    assert!(fields(&f).contains(&(Level::Warning, "providers.idp.revocation.on_stale")), "{f:?}");
    let deny = idp(json!({ "revocation": { "feed": feed } }));
    assert!(!fields(&lint(&config(deny, rules))).iter().any(|(_, field)| field.contains("on_stale")));
}
