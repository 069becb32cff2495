//! The verified-token cache seen through `Gate::decide`: a hit must give exactly the
//! decision a fresh verification would, at the time of the hit.

use super::remote::{decide_at, loaded_world, ok, run_fetches};
use super::*;

#[test]
fn a_repeated_token_is_served_from_the_cache_with_the_same_headers() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({"sub": "u1"})));
    let first = allowed(decide(&mut w, &bearer("/api/x", &t)));
    assert_eq!(w.gate.cached_tokens(), 1);
    let second = allowed(decide(&mut w, &bearer("/api/x", &t)));
    assert_eq!(first, second);
    assert_eq!(set(&second, "x-jwt-sub"), Some("u1"));
    assert_eq!(w.gate.cached_tokens(), 1);
}

#[test]
fn failures_are_never_cached() {
    let mut w = world();
    let expired = es256_token(&w.ec_a, &payload(json!({"exp": NOW_S - 3600})));
    assert_invalid_token(decide(&mut w, &bearer("/api/x", &expired)), AuthError::Expired);
    assert_eq!(w.gate.cached_tokens(), 0);
}

#[test]
fn a_cached_token_expires_on_time() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({"exp": NOW_S + 100})));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    let skew_end = (NOW_S + 100 + 60) * 1000;
    allowed(decide_at(&mut w, &bearer("/api/x", &t), skew_end - 1000, Hold::Fresh));
    assert_invalid_token(decide_at(&mut w, &bearer("/api/x", &t), skew_end, Hold::Fresh), AuthError::Expired);
}

#[test]
fn a_cached_token_is_only_good_for_routes_its_provider_may_serve() {
    let mut w = loaded_world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    allowed(decide_at(&mut w, &bearer("/api/x", &t), NOW_MS, Hold::Fresh));
    assert_invalid_token(decide_at(&mut w, &bearer("/remote/x", &t), NOW_MS, Hold::Fresh), AuthError::WrongIssuer);
}

#[test]
fn scopes_are_checked_on_every_hit() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({"scope": "read"})));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    let d = denied(decide(&mut w, &bearer("/admin/x", &t)));
    assert_eq!((d.status, d.reason), (403, AuthError::InsufficientScope("admin".into())));
}

#[test]
fn a_key_removed_by_a_refresh_stops_cached_tokens() {
    let mut w = loaded_world();
    let t = w.remote_token();
    allowed(decide_at(&mut w, &bearer("/remote/x", &t), NOW_MS, Hold::Fresh));
    let other = jwks(&[ec_jwk(&ec_key("ec-r-next"))]).to_string().into_bytes();
    let later = NOW_MS + 400_000;
    assert_eq!(run_fetches(&mut w, later, ok(&other)), 1);
    assert_invalid_token(decide_at(&mut w, &bearer("/remote/x", &t), later, Hold::Expired), AuthError::UnknownKey);
}

#[test]
fn a_cached_token_past_the_stale_bound_gets_503() {
    let mut w = loaded_world();
    let long_lived = payload(json!({"iss": ISS_R, "exp": NOW_S + REMOTE_MAX_STALE_S + 600}));
    let t = es256_token(&w.ec_r, &long_lived);
    allowed(decide_at(&mut w, &bearer("/remote/x", &t), NOW_MS, Hold::Fresh));
    let past = NOW_MS + REMOTE_MAX_STALE_S * 1000 + 1;
    let d = denied(decide_at(&mut w, &bearer("/remote/x", &t), past, Hold::Expired));
    assert_eq!((d.status, d.reason), (503, AuthError::KeysUnavailable));
}

#[test]
fn a_zero_sized_cache_caches_nothing() {
    let mut w = world_with(|c| c["token_cache_size"] = json!(0));
    let t = es256_token(&w.ec_a, &payload(json!({})));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    assert_eq!(w.gate.cached_tokens(), 0);
}
