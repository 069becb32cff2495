//! Hosts that verify signatures asynchronously (WebCrypto at the edge): the core hands out
//! a `Decision::Verify` job and only the host's answer for that token and key counts.

use super::*;

fn job(d: Decision) -> crate::decision::SignatureJob {
    match d {
        Decision::Verify(j) => j,
        other => panic!("expected Verify, got {other:?}"),
    }
}

fn async_world() -> World {
    let mut w = world();
    w.gate.set_async_verifier(true);
    w
}

#[test]
fn the_host_answer_decides_and_is_then_cached() {
    let mut w = async_world();
    let t = es256_token(&w.ec_a, &payload(json!({"sub": "u1"})));
    let j = job(decide(&mut w, &bearer("/api/x", &t)));
    assert_eq!(j.alg, crate::alg::Alg::ES256);
    assert!(j.jwk.contains("\"crv\":\"P-256\"") && !j.jwk.contains("\"d\""), "public JWK only: {}", j.jwk);
    assert_eq!(j.message, t.rsplit_once('.').map(|(m, _)| m).unwrap_or_default());
    w.gate.complete_signature(&j.ticket, true);
    assert_eq!(set(&allowed(decide(&mut w, &bearer("/api/x", &t))), "x-jwt-sub"), Some("u1"));
    // Cached now: no second job for the same token.
    allowed(decide(&mut w, &bearer("/api/x", &t)));
}

#[test]
fn a_negative_answer_is_a_bad_signature() {
    let mut w = async_world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let j = job(decide(&mut w, &bearer("/api/x", &t)));
    w.gate.complete_signature(&j.ticket, false);
    assert_invalid_token(decide(&mut w, &bearer("/api/x", &t)), AuthError::BadSignature);
    assert_eq!(w.gate.cached_tokens(), 0);
}

#[test]
fn answers_for_another_token_or_key_do_not_count() {
    let mut w = async_world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    let j = job(decide(&mut w, &bearer("/api/x", &t)));
    let (hex, _) = j.ticket.split_once('|').expect("ticket has a key ref");
    w.gate.complete_signature(&format!("{hex}|0:99:other-key"), true);
    job(decide(&mut w, &bearer("/api/x", &t)));
    let other = es256_token(&w.ec_a, &payload(json!({"sub": "someone-else"})));
    let j2 = job(decide(&mut w, &bearer("/api/x", &other)));
    w.gate.complete_signature(&j2.ticket, true);
    job(decide(&mut w, &bearer("/api/x", &t)));
    w.gate.complete_signature("not a ticket", true);
}

#[test]
fn hmac_and_software_configs_never_leave_the_core() {
    let mut w = world_with(|c| c["verifier"] = json!("software"));
    w.gate.set_async_verifier(true);
    let t = es256_token(&w.ec_a, &payload(json!({})));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
}
