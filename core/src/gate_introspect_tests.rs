//! `Gate::decide` with introspection (RFC 7662): single-flight calls, the positive and
//! negative TTLs, failures as 503, `stale_if_error_s`, hybrid providers and
//! `introspect: true` rules. Calls are driven the way hosts drive them:
//! `poll_fetches`, then `on_fetch_result` with the call's `DocId`.

use super::*;
use crate::fetched::{DocKind, FetchMethod, FetchRequest};

const ISS_X: &str = "https://idp-x.example";
/// Providers in name order: a, b, r, x.
const PROVIDER_X: usize = 3;
const OPAQUE: &str = "opaqueTokenAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

/// The standard world plus `x` (introspection only), an introspection block on `a`
/// (hybrid), `/intro/` (any of a, x) and `/revocable/` (a, `introspect: true`).
fn intro_world(edit: impl FnOnce(&mut serde_json::Value)) -> World {
    world_with(|c| {
        let block =
            |iss: &str| json!({"uri": format!("{iss}/introspect"), "client_id": "gate", "client_secret": "s3cret"});
        c["providers"]["x"] = json!({
            "issuer": ISS_X, "audiences": [AUD], "validation": "introspection", "introspection": block(ISS_X)
        });
        c["providers"]["a"]["validation"] = json!("hybrid");
        c["providers"]["a"]["introspection"] = block(ISS_A);
        let rules = c["rules"].as_array_mut().expect("rules");
        rules.insert(0, json!({"match": {"prefix": "/intro/"}, "requires": {"any_of": ["a", "x"]}}));
        rules.insert(0, json!({"match": {"prefix": "/revocable/"}, "requires": {"provider": "a"}, "introspect": true}));
        edit(c);
    })
}

fn active(iss: &str, changes: serde_json::Value) -> Vec<u8> {
    let mut p = payload(json!({"iss": iss, "active": true, "client_id": "svc", "sub": "svc-user"}));
    for (k, v) in changes.as_object().expect("object") {
        p[k] = v.clone();
    }
    p.to_string().into_bytes()
}

/// The introspection calls the gate asks for now.
fn calls(w: &mut World, now: u64) -> Vec<FetchRequest> {
    let all = w.gate.poll_fetches(now);
    all.into_iter().filter(|f| matches!(f.doc.kind, DocKind::Introspection(_))).collect()
}

fn result(now: u64, status: Option<u16>, body: &[u8]) -> FetchResult<'_> {
    match status {
        Some(s) => FetchResult::response(now, s, body),
        None => FetchResult::no_response(now),
    }
}

/// Answers every call the gate asks for with `status` and `body`; returns how many.
fn answer(w: &mut World, now: u64, status: Option<u16>, body: &[u8]) -> usize {
    let calls = calls(w, now);
    for c in &calls {
        let ev = w.gate.on_fetch_result(c.doc, now, result(now, status, body)).expect("provider introspects");
        assert_eq!(ev.failed(), status != Some(200) || body.len() > 16 * 1024 || !body.starts_with(b"{"));
    }
    calls.len()
}

fn at(w: &mut World, r: &Req, now: u64) -> Decision {
    w.gate.decide(&r.view(), now, now)
}

#[test]
fn an_opaque_token_is_held_for_one_call_then_decided_from_the_answer() {
    let mut w = intro_world(|_| {});
    let r = bearer("/intro/x", OPAQUE);
    // `a` is the first introspecting provider of the rule (hybrid).
    assert_eq!(at(&mut w, &r, NOW_MS), Decision::NeedKeys { provider: 0 });
    assert_eq!(at(&mut w, &r, NOW_MS), Decision::NeedKeys { provider: 0 }, "still waiting");
    let sent = calls(&mut w, NOW_MS);
    assert_eq!(sent.len(), 1, "single-flight: one call for two waiting requests");
    let c = &sent[0];
    assert_eq!(
        (c.method, c.uri.as_deref(), c.accept),
        (FetchMethod::Post, Some("https://idp-a.example/introspect"), "application/json")
    );
    assert_eq!(
        String::from_utf8(c.body.clone()).expect("utf-8"),
        format!("token={OPAQUE}&token_type_hint=access_token")
    );
    assert!(c.headers.contains(&("authorization".into(), "Basic Z2F0ZTpzM2NyZXQ=".into())));
    assert_eq!(w.gate.fetch_body_cap(c.doc), 16 * 1024);
    assert!(!c.doc.kind.shared(), "introspection answers stay in their VM");
    assert_eq!(at(&mut w, &r, NOW_MS), Decision::NeedKeys { provider: 0 });
    assert!(calls(&mut w, NOW_MS).is_empty(), "the call is in flight, not asked again");
    let body = active(ISS_A, json!({}));
    let ev = w.gate.on_fetch_result(c.doc, NOW_MS, FetchResult::response(NOW_MS, 200, &body));
    assert_eq!(ev.map(|e| e.failed()), Some(false));
    let gauges = w.gate.doc_gauges(c.doc);
    assert!(gauges.contains(&("introspection_calls.a".into(), 1)), "{gauges:?}");
    let a = allowed(at(&mut w, &r, NOW_MS + 10));
    assert_eq!(set(&a, "x-jwt-sub"), Some("svc-user"));
    assert_eq!(set(&a, "x-jwt-iss"), Some(ISS_A));
    assert_eq!(set(&a, "x-jwt-scope"), Some("read"));
    let stats = w.gate.introspection_stats(0).expect("stats");
    assert_eq!((stats.calls, stats.active, stats.hits), (1, 1, 1));
}

#[test]
fn a_positive_answer_lives_min_of_exp_and_max_ttl() {
    let mut w = intro_world(|c| c["providers"]["x"]["introspection"]["max_ttl_s"] = json!(30));
    let jwt = es256_token(&w.ec_r, &payload(json!({"iss": ISS_X})));
    let r = bearer("/intro/x", &jwt);
    // A JWT of an introspection-only provider is introspected too (no keys needed).
    assert_eq!(at(&mut w, &r, NOW_MS), Decision::NeedKeys { provider: PROVIDER_X });
    assert_eq!(answer(&mut w, NOW_MS, Some(200), &active(ISS_X, json!({}))), 1);
    allowed(at(&mut w, &r, NOW_MS + 29_999));
    assert_eq!(at(&mut w, &r, NOW_MS + 30_000), Decision::NeedKeys { provider: PROVIDER_X }, "max_ttl_s ended");
    // An answer whose exp is sooner than max_ttl_s lives until exp.
    assert_eq!(answer(&mut w, NOW_MS + 30_000, Some(200), &active(ISS_X, json!({"exp": NOW_S + 40}))), 1);
    allowed(at(&mut w, &r, NOW_MS + 39_000));
    assert_eq!(at(&mut w, &r, NOW_MS + 40_000), Decision::NeedKeys { provider: PROVIDER_X }, "exp ended it");
}

#[test]
fn inactive_is_401_and_cached_for_the_negative_ttl() {
    let mut w = intro_world(|c| c["providers"]["a"]["introspection"]["negative_ttl_s"] = json!(5));
    let r = bearer("/intro/x", OPAQUE);
    at(&mut w, &r, NOW_MS);
    assert_eq!(answer(&mut w, NOW_MS, Some(200), br#"{"active":false}"#), 1);
    let d = denied(at(&mut w, &r, NOW_MS));
    assert_eq!((d.status, &d.reason), (401, &AuthError::Inactive));
    assert!(d.www_authenticate.as_deref().is_some_and(|h| h.contains("error=\"invalid_token\"")));
    denied(at(&mut w, &r, NOW_MS + 4_999));
    assert_eq!(calls(&mut w, NOW_MS + 4_999).len(), 0, "negative answer reused");
    assert_eq!(at(&mut w, &r, NOW_MS + 5_000), Decision::NeedKeys { provider: 0 });
}

#[test]
fn an_answer_for_another_issuer_or_audience_or_a_refresh_token_is_refused() {
    for (changes, reason) in [
        (json!({"iss": ISS_B}), AuthError::WrongIssuer),
        (json!({"aud": "api://other"}), AuthError::WrongAudience),
        (json!({"exp": NOW_S - 100}), AuthError::Expired),
        (json!({"token_type": "refresh_token"}), AuthError::WrongTokenType),
    ] {
        let mut w = intro_world(|_| {});
        let r = bearer("/intro/x", OPAQUE);
        at(&mut w, &r, NOW_MS);
        assert_eq!(answer(&mut w, NOW_MS, Some(200), &active(ISS_A, changes.clone())), 1);
        let d = denied(at(&mut w, &r, NOW_MS));
        assert_eq!((d.status, &d.reason), (401, &reason), "{changes}");
    }
    // A missing `iss` is the provider's own.
    let mut w = intro_world(|_| {});
    let r = bearer("/intro/x", OPAQUE);
    at(&mut w, &r, NOW_MS);
    let body = json!({"active": true, "aud": AUD, "exp": NOW_S + 60, "sub": "s"}).to_string();
    answer(&mut w, NOW_MS, Some(200), body.as_bytes());
    assert_eq!(set(&allowed(at(&mut w, &r, NOW_MS)), "x-jwt-iss"), Some(ISS_A));
}

#[test]
fn idp_failures_are_503_with_retry_after_never_401() {
    let too_big = format!(r#"{{"active":true,"pad":"{}"}}"#, "x".repeat(20_000));
    let failures: [(Option<u16>, &[u8]); 5] = [
        (None, b""),
        (Some(500), b""),
        (Some(401), br#"{"error":"invalid_client"}"#),
        (Some(200), b"not json"),
        (Some(200), too_big.as_bytes()),
    ];
    for (status, body) in failures {
        let mut w = intro_world(|_| {});
        let r = bearer("/intro/x", OPAQUE);
        at(&mut w, &r, NOW_MS);
        assert_eq!(answer(&mut w, NOW_MS, status, body), 1);
        let d = denied(at(&mut w, &r, NOW_MS));
        assert_eq!((d.status, &d.reason, d.retry_after_s), (503, &AuthError::IntrospectionUnavailable, Some(5)));
        assert_eq!(d.www_authenticate, None, "a 503 must not blame the token");
        assert_eq!(at(&mut w, &r, NOW_MS + 1_000), Decision::NeedKeys { provider: 0 }, "asked again after a second");
    }
}

#[test]
fn the_hold_ends_with_503_while_the_call_is_unanswered() {
    let mut w = intro_world(|c| c["startup_hold_ms"] = json!(2500));
    let r = bearer("/intro/x", OPAQUE);
    assert_eq!(w.gate.decide(&r.view(), NOW_MS, NOW_MS), Decision::NeedKeys { provider: 0 });
    let d = denied(w.gate.decide(&r.view(), NOW_MS + 2_500, NOW_MS));
    assert_eq!((d.status, d.reason), (503, AuthError::IntrospectionUnavailable));
}

#[test]
fn stale_if_error_serves_an_expired_positive_answer_and_counts_it() {
    let mut w = intro_world(|c| {
        c["providers"]["a"]["introspection"]["max_ttl_s"] = json!(10);
        c["providers"]["a"]["introspection"]["stale_if_error_s"] = json!(30);
    });
    let r = bearer("/intro/x", OPAQUE);
    at(&mut w, &r, NOW_MS);
    answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({})));
    assert_eq!(at(&mut w, &r, NOW_MS + 10_000), Decision::NeedKeys { provider: 0 });
    answer(&mut w, NOW_MS + 10_000, Some(503), b"");
    allowed(at(&mut w, &r, NOW_MS + 10_000));
    assert_eq!(w.gate.introspection_stats(0).map(|s| (s.stale_served, s.failed)), Some((1, 1)));
    // Past ttl + stale_if_error_s: 503.
    at(&mut w, &r, NOW_MS + 40_000);
    answer(&mut w, NOW_MS + 40_000, None, b"");
    assert_eq!(denied(at(&mut w, &r, NOW_MS + 40_000)).status, 503);
    // Without stale_if_error_s the same outage is a 503 at once.
    let mut w = intro_world(|c| c["providers"]["a"]["introspection"]["max_ttl_s"] = json!(10));
    at(&mut w, &r, NOW_MS);
    answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({})));
    at(&mut w, &r, NOW_MS + 10_000);
    answer(&mut w, NOW_MS + 10_000, Some(503), b"");
    assert_eq!(denied(at(&mut w, &r, NOW_MS + 10_000)).status, 503);
}

#[test]
fn hybrid_checks_jwts_locally_and_an_introspect_rule_asks_the_idp_too() {
    let mut w = intro_world(|_| {});
    let jwt = es256_token(&w.ec_a, &payload(json!({})));
    allowed(at(&mut w, &bearer("/intro/x", &jwt), NOW_MS));
    assert!(calls(&mut w, NOW_MS).is_empty(), "a hybrid provider's JWT needs no call");
    let r = bearer("/revocable/x", &jwt);
    assert_eq!(at(&mut w, &r, NOW_MS), Decision::NeedKeys { provider: 0 });
    answer(&mut w, NOW_MS, Some(200), br#"{"active":false}"#);
    assert_eq!(denied(at(&mut w, &r, NOW_MS)).reason, AuthError::Inactive, "revoked at the IdP");
    // A bad signature is refused before any call.
    let forged = es256_token(&w.ec_b, &payload(json!({"sub": "other"})));
    assert_eq!(denied(at(&mut w, &bearer("/revocable/x", &forged), NOW_MS)).status, 401);
    assert!(calls(&mut w, NOW_MS).is_empty());
    // Active: allowed, with the JWT's own claim headers.
    let mut w = intro_world(|_| {});
    let jwt = es256_token(&w.ec_a, &payload(json!({})));
    let r = bearer("/revocable/x", &jwt);
    at(&mut w, &r, NOW_MS);
    answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({})));
    assert_eq!(set(&allowed(at(&mut w, &r, NOW_MS)), "x-jwt-sub"), Some("user-1"));
}

#[test]
fn opaque_tokens_without_an_introspecting_provider_fail_as_before() {
    let mut w = intro_world(|_| {});
    let d = denied(at(&mut w, &bearer("/remote/x", OPAQUE), NOW_MS));
    assert_eq!(d.status, 401);
    assert!(matches!(d.reason, AuthError::Malformed(_)), "{:?}", d.reason);
    assert!(calls(&mut w, NOW_MS).is_empty());
}

#[test]
fn the_cache_is_bounded_and_keeps_calls_in_flight() {
    let mut w = intro_world(|c| c["providers"]["a"]["introspection"]["cache_size"] = json!(2));
    for i in 0..4 {
        at(&mut w, &bearer("/intro/x", &format!("{OPAQUE}{i}")), NOW_MS);
    }
    assert_eq!(answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({}))), 4, "all four in flight");
    // Unread answers stay up to a second; after that the next call restores the bound.
    let later = NOW_MS + 1_000;
    at(&mut w, &bearer("/intro/x", "yetAnotherOpaqueTokenDDDDDDDDDDDDDDDDDDDDDD"), later);
    let stats = w.gate.introspection_stats(0).expect("stats");
    assert!(stats.evicted >= 3, "{stats:?}");
    at(&mut w, &bearer("/intro/x", &format!("{OPAQUE}0")), later);
    assert_eq!(calls(&mut w, later).len(), 2, "the new token, and the evicted answer asked again");
}

#[test]
fn an_answer_expiring_within_the_skew_still_decides_its_waiting_requests() {
    let mut w = intro_world(|_| {});
    let r = bearer("/intro/x", OPAQUE);
    at(&mut w, &r, NOW_MS);
    // exp 10 s ago: within the default 60 s skew, so accepted, and held for a second.
    assert_eq!(answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({"exp": NOW_S - 10}))), 1);
    allowed(at(&mut w, &r, NOW_MS + 500));
    assert!(calls(&mut w, NOW_MS + 500).is_empty(), "not asked again at once");
}

#[test]
fn a_full_cache_keeps_a_fresh_answer_for_the_requests_waiting_on_it() {
    let mut w = intro_world(|c| c["providers"]["a"]["introspection"]["cache_size"] = json!(1));
    let tokens: Vec<String> = (0..4).map(|i| format!("{OPAQUE}{i}")).collect();
    for t in &tokens {
        at(&mut w, &bearer("/intro/x", t), NOW_MS);
    }
    assert_eq!(answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({}))), 4);
    // Every waiting request is decided from its own answer, none asks again.
    for t in &tokens {
        allowed(at(&mut w, &bearer("/intro/x", t), NOW_MS + 10));
    }
    assert!(calls(&mut w, NOW_MS + 10).is_empty());
    // A second later (or once read) the bound applies again.
    at(&mut w, &bearer("/intro/x", "anotherOpaqueTokenCCCCCCCCCCCCCCCCCCCCCCCCC"), NOW_MS + 1_000);
    let left =
        (0..4).filter(|i| !matches!(at(&mut w, &bearer("/intro/x", &tokens[*i]), NOW_MS + 1_000), Decision::Allow(_)));
    assert!(left.count() >= 3, "older answers evicted down to the bound");
}

#[test]
fn the_denylist_applies_to_an_introspected_token_too() {
    // Provider `a` introspects opaque tokens (hybrid) and revokes subject `svc-user`
    // (a `sub` cut-off): an `active: true` answer does not outrank a known revocation.
    let mut w = intro_world(|c| {
        let cut_off = json!({"sub": "svc-user", "iat_before": NOW_S + 60, "exp": NOW_S + 3600});
        c["providers"]["a"]["revocation"] = json!({"inline": [cut_off]});
    });
    let r = bearer("/intro/x", OPAQUE);
    assert_eq!(at(&mut w, &r, NOW_MS), Decision::NeedKeys { provider: 0 });
    assert_eq!(answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({"iat": NOW_S - 10}))), 1);
    let d = denied(at(&mut w, &r, NOW_MS));
    assert_eq!((d.status, &d.reason), (401, &AuthError::Revoked), "{d:?}");
    // A later answer for a token issued after the cut-off is allowed.
    let mut w = intro_world(|c| {
        let cut_off = json!({"sub": "svc-user", "iat_before": NOW_S - 60, "exp": NOW_S + 3600});
        c["providers"]["a"]["revocation"] = json!({"inline": [cut_off]});
    });
    assert_eq!(at(&mut w, &r, NOW_MS), Decision::NeedKeys { provider: 0 });
    answer(&mut w, NOW_MS, Some(200), &active(ISS_A, json!({"iat": NOW_S - 10})));
    allowed(at(&mut w, &r, NOW_MS));
}
