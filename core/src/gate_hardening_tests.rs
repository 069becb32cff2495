//! Bypass classes closed at the gate (issue: "close the bypass classes an independent
//! review found"): header spellings, method overrides, same-issuer cache hits and
//! ambiguous claim headers, each seen through `Gate::decide`.

use super::*;

/// Spellings of gate-owned headers that CGI-style stacks read as the real thing.
const SPELLINGS: [(&str, &str); 6] = [
    ("x_jwt_email", "admin@example.com"),
    ("x.jwt.sub", "admin"),
    ("X-JWT-Tenant", "other"),
    ("x_jwt_scope", "admin"),
    ("x-http-method-override", "DELETE"),
    ("X_HTTP_METHOD", "DELETE"),
];

fn with_spellings(path: &str, extra: &[(&str, &str)]) -> Req {
    let mut headers: Vec<(&str, &str)> = SPELLINGS.to_vec();
    headers.extend_from_slice(extra);
    req("GET", path, &headers)
}

fn assert_strips_every_spelling(a: &Allowed) {
    for (name, _) in SPELLINGS {
        let lower = name.to_ascii_lowercase();
        assert!(a.remove.contains(&lower), "{name} not stripped: {:?}", a.remove);
    }
}

#[test]
fn every_spelling_is_stripped_on_every_route_kind() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let auth = format!("Bearer {t}");
    // Public, optional without a token, optional with one, protected.
    for r in [
        with_spellings("/public/x", &[]),
        with_spellings("/opt/x", &[]),
        with_spellings("/opt/x", &[("authorization", &auth)]),
        with_spellings("/api/x", &[("authorization", &auth)]),
    ] {
        let a = allowed(decide(&mut w, &r));
        assert_strips_every_spelling(&a);
        assert!(!a.set.iter().any(|(k, _)| k.contains('_') || k.contains('.')), "{:?}", a.set);
    }
}

#[test]
fn configured_claim_headers_and_strip_headers_are_stripped_in_any_spelling() {
    let mut w = world_with(|c| {
        c["providers"]["a"]["claim_to_headers"] = json!([{"claim": "email", "header": "x-user-email"}]);
        c["strip_headers"] = json!(["x-forwarded-user"]);
    });
    let r = req("GET", "/public/x", &[("X_User_Email", "a@b"), ("x.forwarded.user", "root"), ("x-user-emails", "k")]);
    let a = allowed(decide(&mut w, &r));
    assert_eq!(a.remove, vec!["x_user_email".to_owned(), "x.forwarded.user".to_owned()]);
}

#[test]
fn method_override_headers_can_be_kept_by_config() {
    let mut w = world_with(|c| c["strip_method_override_headers"] = json!(false));
    let a =
        allowed(decide(&mut w, &req("GET", "/public/x", &[("x-http-method-override", "DELETE"), ("x_jwt_a", "1")])));
    assert_eq!(a.remove, vec!["x_jwt_a".to_owned()], "the namespace is stripped whatever the config says");
}

/// Providers `a` (strict: `typ` must be `at+jwt`) and `z` (same issuer and keys, lax).
fn same_issuer_world() -> World {
    world_with(|c| {
        c["providers"]["a"]["token_type"] = json!("at+jwt");
        c["providers"]["z"] = c["providers"]["a"].clone();
        c["providers"]["z"].as_object_mut().expect("object").remove("token_type");
        let rules = c["rules"].as_array_mut().expect("rules");
        rules.insert(0, json!({"match": {"prefix": "/strict/"}, "requires": {"any_of": ["a", "z"]}}));
        rules.insert(0, json!({"match": {"prefix": "/lax/"}, "requires": {"provider": "z"}}));
    })
}

#[test]
fn a_cache_hit_is_judged_by_the_provider_selection_would_pick_on_this_route() {
    let mut w = same_issuer_world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    // Refused on the strict route, before and after the lax provider cached it.
    assert_invalid_token(decide(&mut w, &bearer("/strict/x", &t)), AuthError::WrongTokenType);
    allowed(decide(&mut w, &bearer("/lax/x", &t)));
    assert_invalid_token(decide(&mut w, &bearer("/strict/x", &t)), AuthError::WrongTokenType);
    // The lax route still serves it (from the cache or not).
    allowed(decide(&mut w, &bearer("/lax/x", &t)));
}

#[test]
fn a_claim_header_without_one_reading_refuses_the_token() {
    let mut w =
        world_with(|c| c["providers"]["a"]["claim_to_headers"] = json!([{"claim": "roles", "header": "x-jwt-roles"}]));
    for claims in [json!({"sub": " admin"}), json!({"roles": ["user,admin"]}), json!({"scope": "read\u{1}admin"})] {
        let t = es256_token(&w.ec_a, &payload(claims.clone()));
        let d = denied(decide(&mut w, &bearer("/api/x", &t)));
        assert!(matches!(d.reason, AuthError::UnrenderableClaim(_)), "{claims}: {:?}", d.reason);
        assert_eq!(d.status, 401, "{claims}");
        let www = d.www_authenticate.as_deref().unwrap_or_default();
        assert!(www.contains("error=\"invalid_token\""), "{www}");
    }
    let fine = es256_token(&w.ec_a, &payload(json!({"roles": ["user", "admin"]})));
    let a = allowed(decide(&mut w, &bearer("/api/x", &fine)));
    assert_eq!(set(&a, "x-jwt-roles"), Some("user,admin"));
}

#[test]
fn credentials_hidden_from_the_gate_are_refused_on_optional_routes() {
    let mut w = world_with(|c| {
        c["providers"]["a"]["from"] =
            json!([{"header": "authorization", "prefix": "Bearer "}, {"query": "access_token"}, {"cookie": "jwt"}])
    });
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let hidden = [
        req("GET", "/opt/x", &[("authorization", &format!("Bearer\u{1c}{t}"))]),
        req("GET", &format!("/opt/x?access_%74oken={t}x"), &[]),
        req("GET", "/opt/x", &[("cookie", &format!("jwt ={t}x"))]),
    ];
    for r in hidden {
        let d = denied(decide(&mut w, &r));
        assert_eq!(d.status, 401, "{:?}: {:?}", r.path, d.reason);
    }
    // Read the upstream's way, the same credential is a valid token.
    allowed(decide(&mut w, &req("GET", &format!("/opt/x?access_%74oken={t}"), &[])));
    allowed(decide(&mut w, &req("GET", "/opt/x", &[("cookie", &format!("jwt ={t}"))])));
}

#[test]
fn path_parameters_get_400_not_a_rule_of_another_path() {
    let mut w = world();
    for p in ["/public;x/../api/x", "/api;p/x", "/public/..;/admin/x", "/api/x;jsessionid=1"] {
        let d = denied(decide(&mut w, &req("GET", p, &[])));
        assert_eq!((d.status, d.reason.clone()), (400, AuthError::BadPath), "{p}");
    }
}
