use super::*;
use crate::b64;
use crate::test_support::*;
use serde_json::{json, Value};

fn inline_keys() -> Value {
    json!({ "inline": jwks(&[ec_jwk(&ec_key("k1"))]) })
}

/// A config with one inline provider `idp` and one remote provider `remote`.
fn base() -> Value {
    json!({
        "providers": {
            "idp": {
                "issuer": ISS_A,
                "audiences": [AUD],
                "jwks": inline_keys(),
                "claim_to_headers": [{"claim": "realm.roles", "header": "X-Roles"}]
            },
            "remote": {
                "issuer": ISS_R,
                "audiences": "*",
                "algorithms": ["ES256", "RS256"],
                "jwks": {"uri": "https://idp-r.example:8443/oauth/jwks.json?v=1", "cluster": "idp_r"}
            }
        },
        "rules": [
            {"match": {"prefix": "/public/"}, "public": true},
            {"match": {"prefix": "/api/", "methods": ["get", "POST"]}, "requires": {"any_of": ["idp", "remote"]}, "scopes": ["read"]},
            {"match": {"exact": "/both"}, "requires": {"all_of": ["idp", "remote"]}},
            {"match": {"exact": "/opt"}, "requires": {"allow_missing": ["idp"]}}
        ]
    })
}

fn load(v: &Value) -> Result<GateConfig, ConfigError> {
    GateConfig::from_json(&v.to_string())
}

/// Applies `edit` to the base config and returns the error it must cause.
fn error_after(edit: impl FnOnce(&mut Value)) -> ConfigError {
    let mut v = base();
    edit(&mut v);
    match load(&v) {
        Ok(_) => panic!("config should be refused: {v}"),
        Err(e) => e,
    }
}

fn provider<'c>(c: &'c GateConfig, name: &str) -> &'c ProviderConfig {
    c.providers.iter().find(|p| p.name == name).expect("provider exists")
}

#[test]
fn full_config_loads_with_defaults() {
    let c = load(&base()).expect("valid config");
    assert_eq!(c.realm, "jwtgate");
    assert_eq!(c.startup_hold_ms, 3000);
    let idp = provider(&c, "idp");
    assert_eq!(idp.issuer, ISS_A);
    assert_eq!(idp.audiences, Audiences::OneOf(vec![AUD.into()]));
    assert_eq!(idp.clock_skew_s, 60);
    assert_eq!(idp.max_token_bytes, 8192);
    assert_eq!(idp.max_lifetime_s, 86_400);
    assert_eq!(idp.token_type, None);
    assert!(!idp.forward_token);
    assert_eq!(idp.sources, [TokenSource::Header { name: "authorization".into(), prefix: "Bearer ".into() }]);
    assert!(!idp.algorithms.is_empty() && idp.algorithms.iter().all(|a| !a.is_symmetric()), "{:?}", idp.algorithms);
    assert!(matches!(&idp.jwks, JwksSource::Inline(doc) if doc.keys.len() == 1));
    let headers: Vec<(String, &str)> =
        idp.claim_headers.iter().map(|h| (h.claim.join("."), h.header.as_str())).collect();
    for (claim, header) in
        [("sub", "x-jwt-sub"), ("iss", "x-jwt-iss"), ("scope", "x-jwt-scope"), ("realm.roles", "x-roles")]
    {
        assert!(headers.contains(&(claim.to_owned(), header)), "{claim} -> {header} in {headers:?}");
    }
    for h in ["x-jwt-sub", "x-jwt-iss", "x-jwt-scope", "x-roles"] {
        assert!(c.strip_headers.iter().any(|s| s == h), "{h} in strip list {:?}", c.strip_headers);
    }
    assert_eq!(provider(&c, "remote").audiences, Audiences::Any);
}

#[test]
fn providers_are_indexed_in_name_order_and_rules_resolve_names() {
    let c = load(&base()).expect("valid config");
    let names: Vec<&str> = c.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["idp", "remote"]);
    assert_eq!(c.rules[0].requirement, Requirement::Public);
    assert_eq!(c.rules[1].requirement, Requirement::AnyOf(vec![0, 1]));
    assert_eq!(c.rules[1].methods, ["GET", "POST"]);
    assert_eq!(c.rules[1].scopes, ["read"]);
    assert_eq!(c.rules[1].path, PathMatch::Prefix("/api/".into()));
    assert_eq!(c.rules[2].requirement, Requirement::AllOf(vec![0, 1]));
    assert_eq!(c.rules[2].path, PathMatch::Exact("/both".into()));
    assert_eq!(c.rules[3].requirement, Requirement::AllowMissing(vec![0]));
}

#[test]
fn remote_jwks_uri_gives_authority_and_path_and_defaults() {
    let c = load(&base()).expect("valid config");
    let JwksSource::Remote(r) = &provider(&c, "remote").jwks else { panic!("remote provider") };
    assert_eq!(r.authority, "idp-r.example:8443");
    assert_eq!(r.path, "/oauth/jwks.json?v=1");
    assert_eq!(r.cluster.as_deref(), Some("idp_r"));
    assert_eq!(
        (
            r.refresh_interval_s,
            r.min_refresh_interval_s,
            r.timeout_ms,
            r.max_stale_s,
            r.kid_refetch_cooldown_s,
            r.max_body_bytes
        ),
        (300, 30, 2000, 86_400, 30, 256 * 1024)
    );
}

#[test]
fn cluster_with_path_and_explicit_authority() {
    let mut v = base();
    v["providers"]["remote"]["jwks"] = json!({"cluster": "idp_r", "path": "/keys", "authority": "login.example"});
    let c = load(&v).expect("valid");
    let JwksSource::Remote(r) = &provider(&c, "remote").jwks else { panic!("remote provider") };
    assert_eq!((r.path.as_str(), r.authority.as_str(), r.uri.as_deref()), ("/keys", "login.example", None));
    v["providers"]["remote"]["jwks"] = json!({"uri": "https://login.example"});
    let c = load(&v).expect("valid");
    let JwksSource::Remote(r) = &provider(&c, "remote").jwks else { panic!("remote provider") };
    assert_eq!((r.path.as_str(), r.authority.as_str()), ("/", "login.example"));
}

#[test]
fn bad_jwks_uris_are_refused() {
    for uri in ["ftp://idp/jwks", "idp.example/jwks", "https:///jwks", ""] {
        let e = error_after(|v| v["providers"]["remote"]["jwks"] = json!({ "uri": uri }));
        assert_eq!(e.field, "providers.remote.jwks.uri", "{uri:?}: {e}");
    }
    let e = error_after(|v| v["providers"]["remote"]["jwks"] = json!({"cluster": "c", "path": "keys"}));
    assert_eq!(e.field, "providers.remote.jwks.path");
    let e = error_after(|v| v["providers"]["remote"]["jwks"] = json!({"cluster": "c"}));
    assert_eq!(e.field, "providers.remote.jwks");
    let e = error_after(|v| v["providers"]["remote"]["jwks"] = json!({"path": "/keys"}));
    assert_eq!(e.field, "providers.remote.jwks");
}

#[test]
fn unknown_field_typo_names_the_provider() {
    let e = error_after(|v| v["providers"]["idp"]["audience"] = json!([AUD]));
    assert!(e.field.contains("providers.idp"), "{e}");
    assert!(e.problem.contains("audience"), "{e}");
    let e = error_after(|v| v["rules"][0]["match"]["prefx"] = json!("/x"));
    assert!(e.field.contains("rules[0]"), "{e}");
    let e = error_after(|v| v["realms"] = json!("x"));
    assert!(e.problem.contains("realms"), "{e}");
}

#[test]
fn audiences_are_required_and_non_empty() {
    let e = error_after(|v| {
        v["providers"]["idp"].as_object_mut().expect("object").remove("audiences");
    });
    assert!(e.field.contains("providers.idp") && e.problem.contains("audiences"), "{e}");
    for bad in [json!(""), json!([]), json!("foo"), json!([""]), json!(7)] {
        let e = error_after(|v| v["providers"]["idp"]["audiences"] = bad.clone());
        assert_eq!(e.field, "providers.idp.audiences", "{bad}: {e}");
    }
}

#[test]
fn algorithm_none_and_unknown_names_are_refused_by_index() {
    let e = error_after(|v| v["providers"]["idp"]["algorithms"] = json!(["none"]));
    assert_eq!(e.field, "providers.idp.algorithms[0]");
    assert!(e.problem.contains("`none` is never accepted"), "{e}");
    let e = error_after(|v| v["providers"]["idp"]["algorithms"] = json!(["ES256", "NONE"]));
    assert_eq!(e.field, "providers.idp.algorithms[1]");
    let e = error_after(|v| v["providers"]["idp"]["algorithms"] = json!(["ES256", "es384"]));
    assert_eq!(e.field, "providers.idp.algorithms[1]");
    let e = error_after(|v| v["providers"]["idp"]["algorithms"] = json!([]));
    assert_eq!(e.field, "providers.idp.algorithms");
}

#[test]
fn hmac_with_a_remote_jwks_is_refused() {
    let e = error_after(|v| v["providers"]["remote"]["algorithms"] = json!(["HS256"]));
    assert_eq!(e.field, "providers.remote.algorithms");
}

#[test]
fn hmac_with_an_inline_secret_loads() {
    let mut v = base();
    v["providers"]["idp"]["algorithms"] = json!(["HS256"]);
    v["providers"]["idp"]["jwks"] = json!({"inline": {"keys": [{"kty": "oct", "k": b64::encode(&[9u8; 32])}]}});
    let c = load(&v).expect("inline HMAC is allowed");
    assert_eq!(provider(&c, "idp").algorithms, [Alg::HS256]);
}

#[test]
fn inline_and_remote_jwks_together_are_refused() {
    let e = error_after(|v| v["providers"]["idp"]["jwks"]["cluster"] = json!("idp"));
    assert_eq!(e.field, "providers.idp.jwks");
    let e = error_after(|v| v["providers"]["idp"]["jwks"]["uri"] = json!("https://idp.example/jwks"));
    assert_eq!(e.field, "providers.idp.jwks");
}

#[test]
fn inline_jwks_without_usable_keys_is_refused() {
    let e = error_after(|v| v["providers"]["idp"]["jwks"] = json!({"inline": {"keys": []}}));
    assert_eq!(e.field, "providers.idp.jwks.inline");
    let e = error_after(|v| {
        v["providers"]["idp"]["algorithms"] = json!(["ES256"]);
        v["providers"]["idp"]["jwks"] = json!({"inline": {"keys": [rsa_jwk()]}});
    });
    assert_eq!(e.field, "providers.idp.jwks.inline");
    assert!(e.problem.contains("no usable key"), "{e}");
    let e = error_after(|v| {
        v["providers"]["idp"]["jwks"] = json!({ "inline": serde_json::from_str::<Value>(RSA1024_JWKS).expect("json") })
    });
    assert!(e.problem.contains("weaker than 2048"), "{e}");
}

#[test]
fn rule_naming_an_unknown_provider_is_refused() {
    let e = error_after(|v| v["rules"][0] = json!({"match": {"prefix": "/"}, "requires": {"provider": "idq"}}));
    assert_eq!(e.field, "rules[0].requires.provider");
    assert!(e.problem.contains("idq"));
    let e = error_after(|v| v["rules"][1]["requires"] = json!({"any_of": ["idp", "nope"]}));
    assert_eq!(e.field, "rules[1].requires.any_of[1]");
    let e = error_after(|v| v["rules"][1]["requires"] = json!({"all_of": []}));
    assert_eq!(e.field, "rules[1].requires.all_of");
    let e = error_after(|v| v["rules"][1]["requires"] = json!({"provider": "idp", "any_of": ["idp"]}));
    assert_eq!(e.field, "rules[1].requires");
    let e = error_after(|v| v["rules"][1]["requires"] = json!({}));
    assert_eq!(e.field, "rules[1].requires");
}

#[test]
fn rule_must_be_either_public_or_require_a_token() {
    let e = error_after(|v| v["rules"][0]["requires"] = json!({"provider": "idp"}));
    assert_eq!(e.field, "rules[0]");
    let e = error_after(|v| v["rules"][0] = json!({"match": {"prefix": "/"}}));
    assert_eq!(e.field, "rules[0]");
    let e = error_after(|v| v["rules"][0]["scopes"] = json!(["admin"]));
    assert_eq!(e.field, "rules[0].scopes");
}

#[test]
fn rule_match_needs_exactly_one_absolute_path() {
    for m in [json!({"prefix": "api/"}), json!({"exact": "/a", "prefix": "/b"}), json!({"methods": ["GET"]})] {
        let e = error_after(|v| v["rules"][0]["match"] = m.clone());
        assert_eq!(e.field, "rules[0].match", "{m}");
    }
}

#[test]
fn empty_rules_are_refused() {
    let e = error_after(|v| v["rules"] = json!([]));
    assert_eq!(e.field, "rules");
}

#[test]
fn bad_header_names_are_refused() {
    for bad in ["x jwt", "", "x-jwt:sub", "Host", "content-length", "x-\u{e9}"] {
        let e = error_after(|v| v["providers"]["idp"]["claim_to_headers"] = json!([{"claim": "sub", "header": bad}]));
        assert_eq!(e.field, "providers.idp.claim_to_headers[0].header", "{bad:?}");
    }
    let e = error_after(|v| v["providers"]["idp"]["claim_to_headers"] = json!([{"claim": "a..b", "header": "x-a"}]));
    assert_eq!(e.field, "providers.idp.claim_to_headers[0].claim");
    let e = error_after(|v| v["strip_headers"] = json!(["ok", "not ok"]));
    assert_eq!(e.field, "strip_headers[1]");
}

#[test]
fn token_sources_are_validated() {
    let e = error_after(|v| v["providers"]["idp"]["from"] = json!([]));
    assert_eq!(e.field, "providers.idp.from");
    let e = error_after(|v| v["providers"]["idp"]["from"] = json!([{"header": "x-t"}, {"query": "t", "cookie": "t"}]));
    assert_eq!(e.field, "providers.idp.from[1]");
    let e = error_after(|v| v["providers"]["idp"]["from"] = json!([{"query": "t", "prefix": "Bearer "}]));
    assert_eq!(e.field, "providers.idp.from[0]");
    let mut v = base();
    v["providers"]["idp"]["from"] = json!([{"header": "X-Token"}, {"query": "access_token"}, {"cookie": "jwt"}]);
    let c = load(&v).expect("valid sources");
    assert_eq!(
        provider(&c, "idp").sources,
        [
            TokenSource::Header { name: "x-token".into(), prefix: String::new() },
            TokenSource::Query("access_token".into()),
            TokenSource::Cookie("jwt".into())
        ]
    );
}

#[test]
fn numeric_bounds_and_realm_are_validated() {
    let e = error_after(|v| v["providers"]["idp"]["max_token_bytes"] = json!(10));
    assert_eq!(e.field, "providers.idp.max_token_bytes");
    let e = error_after(|v| v["providers"]["idp"]["max_lifetime_s"] = json!(0));
    assert_eq!(e.field, "providers.idp.max_lifetime_s");
    let e = error_after(|v| v["providers"]["remote"]["jwks"]["refresh_interval_s"] = json!(0));
    assert_eq!(e.field, "providers.remote.jwks.refresh_interval_s");
    let e = error_after(|v| v["providers"]["remote"]["jwks"]["timeout_ms"] = json!(0));
    assert_eq!(e.field, "providers.remote.jwks.timeout_ms");
    let e = error_after(|v| v["providers"]["idp"]["issuer"] = json!(""));
    assert_eq!(e.field, "providers.idp.issuer");
    let e = error_after(|v| v["realm"] = json!("a\"b"));
    assert_eq!(e.field, "realm");
    let e = error_after(|v| v["providers"]["idp"]["clock_skew_s"] = json!(-1));
    assert!(e.field.contains("clock_skew_s"), "{e}");
}

#[test]
fn clock_skew_is_capped_and_min_refresh_follows_refresh() {
    let mut v = base();
    v["providers"]["idp"]["clock_skew_s"] = json!(1_000_000);
    v["providers"]["remote"]["jwks"]["refresh_interval_s"] = json!(10);
    let c = load(&v).expect("valid");
    assert_eq!(provider(&c, "idp").clock_skew_s, 3600);
    let JwksSource::Remote(r) = &provider(&c, "remote").jwks else { panic!("remote provider") };
    assert_eq!((r.refresh_interval_s, r.min_refresh_interval_s), (10, 10));
}

#[test]
fn not_json_is_a_document_error() {
    let e = GateConfig::from_json("{").expect_err("not JSON");
    assert!(!e.field.is_empty() && !e.problem.is_empty(), "{e}");
    let e = GateConfig::from_json("{}").expect_err("missing providers");
    assert!(e.problem.contains("providers"), "{e}");
    assert!(e.to_string().starts_with("invalid config at `"), "{e}");
}

#[test]
fn a_provider_defined_twice_is_refused_not_replaced() {
    let text = base().to_string();
    let dup = text.replacen("\"providers\":{", "\"providers\":{\"idp\":{},", 1);
    let e = GateConfig::from_json(&dup).expect_err("duplicate provider");
    assert_eq!(e.field, "(document)");
    assert!(e.problem.contains("duplicate"), "{e}");
}

#[test]
fn a_non_object_document_is_refused() {
    let e = GateConfig::from_json("[null, {}, []]").expect_err("array document");
    assert_eq!(e.field, "(document)");
}

#[test]
fn fetch_rate_bounds_are_enforced() {
    let e = error_after(|v| v["providers"]["remote"]["jwks"]["max_stale_s"] = json!(10));
    assert_eq!(e.field, "providers.remote.jwks.max_stale_s");
    let e = error_after(|v| v["providers"]["remote"]["jwks"]["kid_refetch_cooldown_s"] = json!(0));
    assert_eq!(e.field, "providers.remote.jwks");
    let e = error_after(|v| v["providers"]["remote"]["jwks"]["max_body_bytes"] = json!(10));
    assert_eq!(e.field, "providers.remote.jwks.max_body_bytes");
    let e = error_after(|v| v["startup_hold_ms"] = json!(3_600_000));
    assert_eq!(e.field, "startup_hold_ms");
}

#[test]
fn rule_scopes_must_be_single_words() {
    let e = error_after(|v| v["rules"][1]["scopes"] = json!(["read write"]));
    assert_eq!(e.field, "rules[1].scopes[0]");
    let e = error_after(|v| v["rules"][1]["scopes"] = json!([""]));
    assert_eq!(e.field, "rules[1].scopes[0]");
}

#[test]
fn allow_missing_with_scopes_is_refused_naming_the_field() {
    let e = error_after(|v| {
        v["rules"] = json!([{"match": {"prefix": "/"}, "requires": {"allow_missing": ["idp"]}, "scopes": ["read"]}])
    });
    assert_eq!(e.field, "rules[0].scopes");
    assert!(e.problem.contains("allow_missing"), "{}", e.problem);
}

#[test]
fn method_override_headers_are_stripped_unless_kept() {
    let c = load(&base()).expect("valid");
    for h in ["x-http-method-override", "x-http-method", "x-method-override"] {
        assert!(c.strip.strips(h), "{h}");
    }
    let mut v = base();
    v["strip_method_override_headers"] = json!(false);
    let c = load(&v).expect("valid");
    assert!(!c.strip.strips("x-http-method-override"));
    assert!(c.strip.strips("x_jwt_sub"));
    let e = error_after(|v| v["strip_method_override_headers"] = json!("yes"));
    assert_eq!(e.field, "strip_method_override_headers");
}
