//! Hosts that verify signatures asynchronously (WebCrypto at the edge): `decide` hands
//! out a `Decision::Verify` job, and `resume(job, verdict)` goes on with that request's
//! decision. The job carries the request and the verdicts so far, so an answer counts
//! once, for its own request, and never waits in shared state.

use super::*;
use crate::job::{KeyRef, Verifier, VerifyJob};
use crate::verify::NativeVerifier;

fn job(d: Decision) -> VerifyJob {
    match d {
        Decision::Verify(j) => *j,
        other => panic!("expected Verify, got {other:?}"),
    }
}

fn async_world_with(edit: impl FnOnce(&mut serde_json::Value)) -> World {
    world_verified_by(Verifier::Async, edit)
}

#[test]
fn the_host_answer_decides_and_is_then_cached() {
    let mut w = async_world_with(|_| {});
    let t = es256_token(&w.ec_a, &payload(json!({"sub": "u1"})));
    let j = job(decide(&mut w, &bearer("/api/x", &t)));
    assert_eq!(j.alg, crate::alg::Alg::ES256);
    assert!(j.jwk.contains("\"crv\":\"P-256\"") && !j.jwk.contains("\"d\""), "public JWK only: {}", j.jwk);
    assert_eq!(j.message, t.rsplit_once('.').map(|(m, _)| m).unwrap_or_default());
    assert_eq!(j.key_ref.to_string(), "0:1:ec-a");
    assert_eq!(set(&allowed(w.gate.resume(j, true, NOW_MS)), "x-jwt-sub"), Some("u1"));
    // Cached now: no second job for the same token.
    allowed(decide(&mut w, &bearer("/api/x", &t)));
}

#[test]
fn a_negative_answer_is_a_bad_signature() {
    let mut w = async_world_with(|_| {});
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let j = job(decide(&mut w, &bearer("/api/x", &t)));
    assert_invalid_token(w.gate.resume(j, false, NOW_MS), AuthError::BadSignature);
    assert_eq!(w.gate.cached_tokens(), 0);
}

#[test]
fn a_verdict_only_ever_applies_to_its_own_request() {
    let mut w = async_world_with(|c| c["token_cache_size"] = json!(0));
    let t = es256_token(&w.ec_a, &payload(json!({"sub": "first"})));
    let other = es256_token(&w.ec_a, &payload(json!({"sub": "second"})));
    let (j1, j2) = (job(decide(&mut w, &bearer("/api/x", &t))), job(decide(&mut w, &bearer("/api/y", &other))));
    // Answered in the other order: each verdict continues its own request.
    let a2 = allowed(w.gate.resume(j2, true, NOW_MS));
    assert_eq!((set(&a2, "x-jwt-sub"), a2.path.as_str()), (Some("second"), "/api/y"));
    assert_invalid_token(w.gate.resume(j1, false, NOW_MS), AuthError::BadSignature);
    // The same token in two requests: a "valid" for one request is not one for the other.
    let j3 = job(decide(&mut w, &bearer("/api/x", &t)));
    let j4 = job(decide(&mut w, &bearer("/api/x", &t)));
    allowed(w.gate.resume(j3, true, NOW_MS));
    job(decide(&mut w, &bearer("/api/x", &t)));
    assert_invalid_token(w.gate.resume(j4, false, NOW_MS), AuthError::BadSignature);
}

/// Providers `c` and `d` (inline ES256 keys) and a rule `/four/` needing a token from
/// each of `a`, `b`, `c` and `d`, each in its own header.
fn four_providers(c: &mut serde_json::Value, keys: [&jwt_simple::prelude::ES256KeyPair; 2]) {
    c["token_cache_size"] = json!(0);
    for (name, header) in [("b", "x-b-token"), ("c", "x-c-token"), ("d", "x-d-token")] {
        if name != "b" {
            let kp = keys[usize::from(name == "d")];
            let iss = format!("https://idp-{name}.example");
            c["providers"][name] = json!({"issuer": iss, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(kp)])}});
        }
        c["providers"][name]["from"] = json!([{ "header": header }]);
    }
    let rule = json!({"match": {"prefix": "/four/"}, "requires": {"all_of": ["a", "b", "c", "d"]}});
    c["rules"].as_array_mut().expect("rules").insert(0, rule);
}

#[test]
fn all_of_with_four_tokens_keeps_every_verdict_until_the_decision_is_final() {
    let (ec_c, ec_d) = (ec_key("ec-c"), ec_key("ec-d"));
    let mut w = async_world_with(|c| four_providers(c, [&ec_c, &ec_d]));
    let token = |kp, iss: &str| es256_token(kp, &payload(json!({"iss": iss, "sub": iss})));
    let (ta, tb) = (token(&w.ec_a, ISS_A), token(&w.ec_b, ISS_B));
    let (tc, td) = (token(&ec_c, "https://idp-c.example"), token(&ec_d, "https://idp-d.example"));
    let auth = format!("Bearer {ta}");
    let r =
        req("GET", "/four/x", &[("authorization", &auth), ("x-b-token", &tb), ("x-c-token", &tc), ("x-d-token", &td)]);
    let mut asked = Vec::new();
    let mut d = decide(&mut w, &r);
    while let Decision::Verify(j) = d {
        assert!(!asked.contains(&j.key_ref), "asked twice about {}", j.key_ref);
        asked.push(j.key_ref.clone());
        d = w.gate.resume(*j, true, NOW_MS);
    }
    let providers: Vec<usize> = asked
        .iter()
        .filter_map(|k| match k {
            KeyRef::Provider { provider, .. } => Some(*provider),
            KeyRef::Proof { .. } => None,
        })
        .collect();
    assert_eq!(providers, [0, 1, 2, 3], "one job per token, in order");
    let a = allowed(d);
    let issuers: Vec<&str> = a.set.iter().filter(|(k, _)| k == "x-jwt-iss").map(|(_, v)| v.as_str()).collect();
    assert_eq!(issuers, [ISS_A, ISS_B, "https://idp-c.example", "https://idp-d.example"]);
    assert!(["authorization", "x-b-token", "x-c-token", "x-d-token"].iter().all(|h| a.remove.iter().any(|r| r == h)));
    // The third token is forged: the decision stops there, with that token's hash.
    let mut d = decide(&mut w, &r);
    for valid in [true, true, false] {
        d = w.gate.resume(job(d), valid, NOW_MS);
    }
    let denial = denied(d);
    assert_eq!((denial.reason, denial.token_hash), (AuthError::BadSignature, Some(fingerprint(&tc))));
}

#[test]
fn the_hold_start_travels_with_the_job() {
    let mut w = super::remote::loaded_world();
    w.gate = Gate::new(w.gate.config().clone(), Verifier::Async, 1);
    let t = w.remote_token();
    let r = bearer("/remote/x", &t);
    // Cold: this new gate has no keys for `r` yet; the request is held, then fetched for.
    assert_eq!(decide(&mut w, &r), Decision::NeedKeys { provider: PROVIDER_R });
    let body = w.remote_body();
    super::remote::run_fetches(&mut w, NOW_MS, super::remote::ok(&body));
    let j = job(decide(&mut w, &r));
    assert_eq!(j.rest.arrived_ms, NOW_MS);
    allowed(w.gate.resume(j, true, NOW_MS + 60_000));
}

#[test]
fn hmac_and_software_configs_never_leave_the_core() {
    let mut w = async_world_with(|c| c["verifier"] = json!("software"));
    let t = es256_token(&w.ec_a, &payload(json!({})));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    let secret = [7u8; 32];
    let mut w = async_world_with(|c| {
        c["providers"]["a"]["algorithms"] = json!(["HS256"]);
        c["providers"]["a"]["jwks"] =
            json!({"inline": jwks(&[json!({"kty": "oct", "kid": "h", "k": b64::encode(&secret)})])});
    });
    allowed(decide(&mut w, &bearer("/api/x", &hs256_token(&secret, Some("h"), &payload(json!({}))))));
}

/// A host verifier that refuses everything: whether it was consulted shows in the answer.
struct RefusesAll;
impl NativeVerifier for RefusesAll {
    fn verify(&self, _: crate::alg::Alg, _: &[u8], _: &[u8], _: &[u8]) -> Option<bool> {
        Some(false)
    }
}

#[test]
fn a_native_verifier_is_used_unless_the_config_says_software() {
    let mut w = world_verified_by(Verifier::Native(Box::new(RefusesAll)), |_| {});
    let t = es256_token(&w.ec_a, &payload(json!({})));
    assert_invalid_token(decide(&mut w, &bearer("/api/x", &t)), AuthError::BadSignature);
    let mut w = world_verified_by(Verifier::Native(Box::new(RefusesAll)), |c| c["verifier"] = json!("software"));
    let t = es256_token(&w.ec_a, &payload(json!({})));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    assert!(matches!(w.gate.verifier(), Verifier::Software));
}
