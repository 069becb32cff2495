//! End-to-end tests of `Gate::decide` with inline providers. The remote-provider (JWKS
//! fetching) cases are in `gate_remote_tests.rs`.

use super::*;
use crate::b64;
use crate::decision::{Allowed, Denial};
use crate::error::AuthError;
use crate::fetched::{FetchEvent, FetchMethod, FetchResult};
use crate::test_support::*;
use jwt_simple::prelude::ES256KeyPair;
use serde_json::json;

#[path = "gate_remote_tests.rs"]
mod remote;

#[path = "gate_cache_tests.rs"]
mod cache;

#[path = "gate_async_tests.rs"]
mod asynchronous;

#[path = "gate_hardening_tests.rs"]
mod hardening;

#[path = "gate_introspect_tests.rs"]
mod introspect;
#[path = "gate_revocation_tests.rs"]
mod revocation;

#[path = "gate_discovery_tests.rs"]
mod discovery;

/// When a test request arrived: just now (the hold may still run), or a whole
/// `startup_hold_ms` before the decision (the hold has ended).
#[derive(Clone, Copy, Debug)]
enum Hold {
    Fresh,
    Expired,
}

impl Hold {
    fn arrived(self, w: &World, now: u64) -> u64 {
        match self {
            Hold::Fresh => now,
            Hold::Expired => now.saturating_sub(w.gate.config().startup_hold_ms),
        }
    }
}

/// Every identity header in `sent` is removed (the gate lists only headers present).
fn strips(a: &Allowed, sent: &[&str]) -> bool {
    sent.iter().all(|h| a.remove.iter().any(|r| r.eq_ignore_ascii_case(h)))
}

const SPOOFED: [(&str, &str); 3] = [("x-jwt-sub", "admin"), ("x-jwt-iss", "evil"), ("x-jwt-scope", "admin")];

/// A bearer request that also carries spoofed identity headers.
fn spoofed_bearer(path: &str, token: &str) -> Req {
    let auth = format!("Bearer {token}");
    let mut headers = vec![("authorization", auth.as_str())];
    headers.extend(SPOOFED);
    req("GET", path, &headers)
}

/// A 401 `invalid_token` whose reason is `reason`.
fn assert_invalid_token(d: Decision, reason: AuthError) {
    let d = denied(d);
    assert_eq!(d.reason, reason);
    assert_eq!(d.status, 401);
    let www = d.www_authenticate.as_deref().expect("401 has WWW-Authenticate");
    assert!(www.starts_with("Bearer realm=\"jwtgate\", error=\"invalid_token\""), "{www}");
}

fn assert_allows_identity(w: &mut World, token: &str) {
    let a = allowed(decide(w, &spoofed_bearer("/api/orders", token)));
    assert_eq!(set(&a, "x-jwt-sub"), Some("user-1"));
    assert_eq!(set(&a, "x-jwt-iss"), Some(ISS_A));
    assert_eq!(set(&a, "x-jwt-scope"), Some("read"));
    assert!(strips(&a, &["x-jwt-sub", "x-jwt-iss", "x-jwt-scope"]), "{:?}", a.remove);
    assert!(a.remove.iter().any(|h| h == "authorization"), "token is not forwarded by default");
    assert_eq!(a.token_hash, Some(fingerprint(token)));
}

#[test]
fn valid_es256_token_is_allowed_with_identity_headers() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    assert_allows_identity(&mut w, &t);
}

#[test]
fn valid_eddsa_token_is_allowed() {
    let mut w = world();
    let t = ed_token(&w.ed_a, &payload(json!({})));
    assert_allows_identity(&mut w, &t);
}

#[test]
fn valid_rs256_token_is_allowed() {
    let mut w = world();
    let t = rsa_token(&rsa_key(), &payload(json!({})));
    assert_allows_identity(&mut w, &t);
}

#[test]
fn forward_token_keeps_the_authorization_header() {
    let mut w = world_with(|c| c["providers"]["a"]["forward_token"] = json!(true));
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let a = allowed(decide(&mut w, &spoofed_bearer("/api/orders", &t)));
    assert!(!a.remove.iter().any(|h| h == "authorization"), "{:?}", a.remove);
    assert!(strips(&a, &["x-jwt-sub", "x-jwt-iss", "x-jwt-scope"]), "{:?}", a.remove);
}

#[test]
fn missing_token_is_401_with_realm_only() {
    let mut w = world();
    let d = denied(decide(&mut w, &req("GET", "/api/orders", &[])));
    assert_eq!((d.status, &d.reason), (401, &AuthError::MissingToken));
    assert_eq!(d.www_authenticate.as_deref(), Some("Bearer realm=\"jwtgate\""));
    assert_eq!(d.token_hash, None);
}

#[test]
fn expired_token_is_401_invalid_token() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({"iat": NOW_S - 4000, "exp": NOW_S - 3600})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &t)), AuthError::Expired);
}

#[test]
fn wrong_audience_is_refused() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({"aud": "api://other"})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &t)), AuthError::WrongAudience);
}

#[test]
fn alg_none_is_refused() {
    let mut w = world();
    let body = b64::encode(payload(json!({})).to_string().as_bytes());
    let unsigned = format!("{}.{body}.", b64::encode(br#"{"alg":"none","kid":"ec-a"}"#));
    let d = denied(decide(&mut w, &bearer("/api/orders", &unsigned)));
    assert_eq!(d.status, 401);
    // Even with a (meaningless) signature segment, `none` is never an algorithm.
    let with_sig = sign_es256_raw(&w.ec_a, r#"{"alg":"none","kid":"ec-a"}"#, &payload(json!({})).to_string());
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &with_sig)), AuthError::AlgorithmNotAllowed);
}

#[test]
fn hs256_signed_with_the_rsa_public_key_is_refused() {
    // The classic key-confusion attack: the RSA public key (PEM) used as an HMAC secret.
    let mut w = world();
    let t = hs256_token(RSA2048_PUB_PEM.as_bytes(), Some("rsa-2048"), &payload(json!({})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &t)), AuthError::AlgorithmNotAllowed);
}

#[test]
fn rsa_key_never_verifies_hmac_even_when_hmac_is_allowed() {
    // Provider `a` allows HS256 and RS256 and has an RSA key without `alg` plus a secret.
    let mut w = world_with(|c| {
        let mut rsa = rsa_jwk();
        rsa.as_object_mut().expect("object").remove("alg");
        let oct = json!({"kty": "oct", "kid": "hmac", "k": b64::encode(&[3u8; 32])});
        c["providers"]["a"]["algorithms"] = json!(["RS256", "HS256"]);
        c["providers"]["a"]["jwks"] = json!({"inline": jwks(&[rsa, oct])});
    });
    let forged = hs256_token(RSA2048_PUB_PEM.as_bytes(), Some("rsa-2048"), &payload(json!({})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &forged)), AuthError::UnknownKey);
    let kidless = hs256_token(RSA2048_PUB_PEM.as_bytes(), None, &payload(json!({})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &kidless)), AuthError::BadSignature);
    let genuine = hs256_token(&[3u8; 32], Some("hmac"), &payload(json!({})));
    allowed(decide(&mut w, &bearer("/api/orders", &genuine)));
}

#[test]
fn flipped_signature_is_bad_signature() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let (signing_input, sig) = t.rsplit_once('.').expect("three segments");
    let mut raw = b64::decode(sig).expect("signature is base64url");
    raw[10] ^= 0x01;
    let flipped = format!("{signing_input}.{}", b64::encode(&raw));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &flipped)), AuthError::BadSignature);
    // Claims swapped under a valid signature from another token: also BadSignature.
    let other = es256_token(&w.ec_a, &payload(json!({"sub": "admin"})));
    let spliced = format!("{}.{}", other.rsplit_once('.').expect("segments").0, sig);
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &spliced)), AuthError::BadSignature);
}

#[test]
fn unknown_kid_on_an_inline_provider_is_401_without_waiting() {
    let mut w = world();
    let stranger = ec_key("ec-unknown");
    let t = es256_token(&stranger, &payload(json!({})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &t)), AuthError::UnknownKey);
    let fetches = w.gate.poll_fetches(NOW_MS);
    assert!(fetches.iter().all(|f| f.doc.provider == PROVIDER_R), "inline providers never fetch: {fetches:?}");
    // A known kid with a key that did not sign the token is a bad signature, not unknown.
    let impostor = ec_key("ec-a");
    let t = es256_token(&impostor, &payload(json!({})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &t)), AuthError::BadSignature);
}

#[test]
fn token_type_is_enforced_when_configured() {
    let mut w = world_with(|c| c["providers"]["a"]["token_type"] = json!("at+jwt"));
    let body = payload(json!({})).to_string();
    let with_typ = |w: &World, typ: &str| {
        sign_es256_raw(&w.ec_a, &format!(r#"{{"alg":"ES256","kid":"ec-a","typ":"{typ}"}}"#), &body)
    };
    for ok in ["at+jwt", "application/at+jwt", "AT+JWT"] {
        let t = with_typ(&w, ok);
        allowed(decide(&mut w, &bearer("/api/orders", &t)));
    }
    for bad in ["JWT", "id_token+jwt", "application/jwt"] {
        let t = with_typ(&w, bad);
        assert_invalid_token(decide(&mut w, &bearer("/api/orders", &t)), AuthError::WrongTokenType);
    }
    let no_typ = sign_es256_raw(&w.ec_a, r#"{"alg":"ES256","kid":"ec-a"}"#, &body);
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &no_typ)), AuthError::WrongTokenType);
}

#[test]
fn crit_and_duplicate_members_are_refused_even_when_signed() {
    let mut w = world();
    let body = payload(json!({})).to_string();
    let crit = sign_es256_raw(&w.ec_a, r#"{"alg":"ES256","kid":"ec-a","crit":["exp"]}"#, &body);
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &crit)), AuthError::UnsupportedHeader("crit"));
    let dup_alg = sign_es256_raw(&w.ec_a, r#"{"alg":"ES256","kid":"ec-a","alg":"HS256"}"#, &body);
    let d = denied(decide(&mut w, &bearer("/api/orders", &dup_alg)));
    assert!(matches!(d.reason, AuthError::Malformed(m) if m.contains("duplicate")), "{:?}", d.reason);
    let dup_sub = format!(r#"{{"sub":"admin",{}"#, &body[1..]);
    let t = sign_es256_raw(&w.ec_a, r#"{"alg":"ES256","kid":"ec-a"}"#, &dup_sub);
    let d = denied(decide(&mut w, &bearer("/api/orders", &t)));
    assert!(matches!(d.reason, AuthError::Malformed(m) if m.contains("duplicate")), "{:?}", d.reason);
}

#[test]
fn signed_tokens_with_odd_time_claims_are_refused() {
    let mut w = world();
    let header = r#"{"alg":"ES256","kid":"ec-a"}"#;
    for exp in [json!(NOW_S as f64 + 600.5), json!(1e300), json!((NOW_S + 600).to_string()), json!(-1)] {
        let t = sign_es256_raw(&w.ec_a, header, &payload(json!({ "exp": exp })).to_string());
        let d = denied(decide(&mut w, &bearer("/api/orders", &t)));
        assert_eq!(d.status, 401, "exp={exp}");
        assert!(matches!(d.reason, AuthError::BadClaim("exp") | AuthError::Malformed(_)), "exp={exp}: {:?}", d.reason);
    }
    let no_exp = sign_es256_raw(&w.ec_a, header, &payload(json!({"exp": null})).to_string());
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &no_exp)), AuthError::MissingExpiry);
}

#[test]
fn issuer_selects_the_provider_and_its_keys() {
    let mut w = world();
    let for_b = es256_token(&w.ec_b, &payload(json!({"iss": ISS_B})));
    let a = allowed(decide(&mut w, &bearer("/api/orders", &for_b)));
    assert_eq!(set(&a, "x-jwt-iss"), Some(ISS_B));
    // A's issuer, signed with B's key: only A's keys are tried.
    let forged = es256_token(&w.ec_b, &payload(json!({})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &forged)), AuthError::UnknownKey);
    let relabelled = es256_token(
        &ES256KeyPair::from_bytes(&w.ec_b.to_bytes()).expect("copy").with_key_id("ec-a"),
        &payload(json!({})),
    );
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &relabelled)), AuthError::BadSignature);
    // B's token on a route that only trusts A, and a token from nobody we know.
    assert_invalid_token(decide(&mut w, &bearer("/admin/x", &for_b)), AuthError::WrongIssuer);
    let nobody = es256_token(&w.ec_a, &payload(json!({"iss": "https://evil.example"})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &nobody)), AuthError::WrongIssuer);
}

#[test]
fn allow_missing_allows_no_token_but_not_a_bad_one() {
    let mut w = world();
    let a = allowed(decide(&mut w, &req("GET", "/opt/x", &[("x-jwt-sub", "admin")])));
    assert!(a.set.is_empty(), "{:?}", a.set);
    assert!(strips(&a, &["x-jwt-sub"]), "{:?}", a.remove);
    assert_eq!(a.token_hash, None);
    let d = denied(decide(&mut w, &bearer("/opt/x", "garbage")));
    assert_eq!(d.status, 401);
    let good = es256_token(&w.ec_a, &payload(json!({})));
    assert_eq!(set(&allowed(decide(&mut w, &bearer("/opt/x", &good))), "x-jwt-sub"), Some("user-1"));
}

#[test]
fn public_route_strips_spoofed_identity_headers() {
    let mut w = world();
    let r =
        req("GET", "/public/x", &[("x-jwt-sub", "admin"), ("X-Jwt-Scope", "admin"), ("authorization", "Bearer junk")]);
    let a = allowed(decide(&mut w, &r));
    assert!(strips(&a, &["x-jwt-sub", "x-jwt-scope"]), "{:?}", a.remove);
    assert!(!a.remove.iter().any(|h| h == "x-jwt-iss"), "absent headers need no removal: {:?}", a.remove);
    assert!(a.set.is_empty());
}

#[test]
fn unmatched_route_is_403_access_denied() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let d = denied(decide(&mut w, &bearer("/elsewhere", &t)));
    assert_eq!((d.status, &d.reason, d.www_authenticate.as_deref()), (403, &AuthError::NoMatchingRule, None));
    assert!(d.body.contains("\"access_denied\""), "{}", d.body);
}

#[test]
fn path_tricks_get_the_decision_of_the_real_path() {
    let mut w = world();
    for sneaky in ["/public/../api/x", "/public/%2e%2e/api/x", "/%61pi/x", "//api//x", "/public/./../api/x?/public/"] {
        let d = denied(decide(&mut w, &req("GET", sneaky, &[])));
        assert_eq!(d.reason, AuthError::MissingToken, "{sneaky} must get the /api rule's decision");
    }
    for broken in ["/public/%2F..%2Fapi/x", "/public/..%2fapi", "/public\\..\\api", "/api/%00"] {
        let d = denied(decide(&mut w, &req("GET", broken, &[])));
        assert_eq!((d.status, &d.reason), (400, &AuthError::BadPath), "{broken}");
    }
}

#[test]
fn missing_scope_is_403_insufficient_scope() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let d = denied(decide(&mut w, &bearer("/admin/users", &t)));
    assert_eq!((d.status, d.reason.clone()), (403, AuthError::InsufficientScope("admin".into())));
    let www = d.www_authenticate.expect("403 scope has WWW-Authenticate");
    assert!(www.contains("error=\"insufficient_scope\"") && www.ends_with("scope=\"admin\""), "{www}");
    let admin = es256_token(&w.ec_a, &payload(json!({"scope": "read admin"})));
    allowed(decide(&mut w, &bearer("/admin/users", &admin)));
    let scp = es256_token(&w.ec_a, &payload(json!({"scope": null, "scp": ["admin"]})));
    allowed(decide(&mut w, &bearer("/admin/users", &scp)));
}

#[test]
fn several_tokens_are_refused() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let auth = format!("Bearer {t}");
    let r = req("GET", "/api/x", &[("authorization", &auth), ("authorization", &auth)]);
    let d = denied(decide(&mut w, &r));
    assert_eq!((d.status, &d.reason), (401, &AuthError::MultipleTokens));
    assert!(d.www_authenticate.expect("401").contains("error=\"invalid_request\""));
}

#[test]
fn oversize_token_is_refused_before_verification() {
    let mut w = world_with(|c| c["providers"]["a"]["max_token_bytes"] = json!(256));
    let t = es256_token(&w.ec_a, &payload(json!({"pad": "x".repeat(300)})));
    assert_invalid_token(decide(&mut w, &bearer("/api/orders", &t)), AuthError::TokenTooLarge);
}

#[test]
fn denials_never_contain_the_token() {
    let mut w = world();
    let stranger = ec_key("nobody");
    let tokens = [
        es256_token(&w.ec_a, &payload(json!({"exp": NOW_S - 3600, "iat": NOW_S - 3700}))),
        es256_token(&w.ec_a, &payload(json!({"aud": "api://other"}))),
        es256_token(&stranger, &payload(json!({}))),
        sign_es256_raw(&w.ec_a, r#"{"alg":"ES256","kid":"ec-a","crit":["x"]}"#, &payload(json!({})).to_string()),
    ];
    let mut cases: Vec<(String, Denial)> =
        tokens.iter().map(|t| (t.clone(), denied(decide(&mut w, &bearer("/api/x", t))))).collect();
    let scoped = es256_token(&w.ec_a, &payload(json!({})));
    cases.push((scoped.clone(), denied(decide(&mut w, &bearer("/admin/x", &scoped)))));
    for (t, d) in &cases {
        assert_eq!(d.token_hash.as_deref(), Some(fingerprint(t).as_str()));
        let texts = [d.body.clone(), d.log_line(), d.www_authenticate.clone().unwrap_or_default()];
        for text in &texts {
            for part in t.split('.') {
                assert!(!text.contains(part), "denial text leaks a token segment: {text}");
            }
        }
    }
}

#[test]
fn token_must_come_from_its_providers_own_source() {
    let mut w = world_with(|c| c["providers"]["b"]["from"] = json!([{"query": "access_token"}]));
    let for_b = es256_token(&w.ec_b, &payload(json!({"iss": ISS_B})));
    let a = allowed(decide(&mut w, &req("GET", &format!("/api/x?a=1&access_token={for_b}"), &[])));
    assert_eq!(set(&a, "x-jwt-iss"), Some(ISS_B));
    assert_eq!(set(&a, ":path"), Some("/api/x?a=1"), "the query token is not forwarded");
    // B's token in A's header, and A's token in B's query parameter: refused.
    assert_invalid_token(decide(&mut w, &bearer("/api/x", &for_b)), AuthError::WrongSource);
    let for_a = es256_token(&w.ec_a, &payload(json!({})));
    let r = req("GET", &format!("/api/x?access_token={for_a}"), &[]);
    assert_invalid_token(decide(&mut w, &r), AuthError::WrongSource);
}

#[test]
fn all_of_needs_every_providers_token() {
    let mut w = world_with(|c| {
        c["providers"]["b"]["from"] = json!([{"header": "x-b-token"}]);
        let both = json!({"match": {"prefix": "/both/"}, "requires": {"all_of": ["a", "b"]}});
        c["rules"].as_array_mut().expect("rules").insert(0, both);
    });
    let for_a = es256_token(&w.ec_a, &payload(json!({})));
    let for_b = es256_token(&w.ec_b, &payload(json!({"iss": ISS_B})));
    let auth = format!("Bearer {for_a}");
    let a = allowed(decide(&mut w, &req("GET", "/both/x", &[("authorization", &auth), ("x-b-token", &for_b)])));
    assert!(["authorization", "x-b-token"].iter().all(|h| a.remove.iter().any(|r| r == h)), "{:?}", a.remove);
    let d = denied(decide(&mut w, &req("GET", "/both/x", &[("authorization", &auth)])));
    assert_eq!(d.reason, AuthError::MissingToken);
    let swapped = req("GET", "/both/x", &[("authorization", &auth), ("x-b-token", &for_a)]);
    assert_invalid_token(decide(&mut w, &swapped), AuthError::WrongIssuer);
}

#[test]
fn the_upstream_gets_the_path_the_decision_was_made_on() {
    let mut w = world();
    let a = allowed(decide(&mut w, &req("GET", "//public/./x?y=1#frag", &[])));
    assert_eq!(set(&a, ":path"), Some("/public/x?y=1"));
    let a = allowed(decide(&mut w, &req("GET", "/public/x?y=1", &[])));
    assert_eq!(set(&a, ":path"), None, "an already normal path is left alone");
    let mut w2 = world_with(|c| c["providers"]["a"]["from"] = json!([{"query": "access_token"}]));
    let t2 = es256_token(&w2.ec_a, &payload(json!({})));
    let q2 = req("GET", &format!("/api//x?access_token={t2}&k=v"), &[]);
    let a = allowed(decide(&mut w2, &q2));
    assert_eq!(set(&a, ":path"), Some("/api/x?k=v"), "normalised path and the token removed from the query");
    assert_eq!(a.set.iter().filter(|(k, _)| k == ":path").count(), 1);
}
