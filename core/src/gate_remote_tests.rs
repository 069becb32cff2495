//! `Gate::decide` with a remote JWKS provider: holding requests for keys, 503 when the
//! gate has none, unknown-kid refetches and the stale bound. Fetches are driven the way
//! hosts drive them: `poll_fetches`, then `on_fetch_result`.

use super::*;

pub(super) fn decide_at(w: &mut World, r: &Req, now: u64, hold: Hold) -> Decision {
    let arrived = hold.arrived(w, now);
    w.gate.decide(&r.view(), now, arrived)
}

pub(super) fn ok(body: &[u8]) -> FetchResult<'_> {
    FetchResult::response(0, 200, body)
}

/// Runs every fetch the gate asks for at `now` with `result` (sent and answered at
/// `now`); returns how many ran.
pub(super) fn run_fetches(w: &mut World, now: u64, mut result: FetchResult<'_>) -> usize {
    result.sent_at_ms = now;
    let reqs = w.gate.poll_fetches(now);
    for r in &reqs {
        w.gate.on_fetch_result(r.doc, now, result).expect("provider exists");
    }
    reqs.len()
}

pub(super) fn loaded_world() -> World {
    let mut w = world();
    let body = w.remote_body();
    assert_eq!(run_fetches(&mut w, NOW_MS, ok(&body)), 1);
    assert_eq!(w.gate.key_count(PROVIDER_R), 1);
    w
}

fn assert_unavailable(d: Decision) {
    let d = denied(d);
    assert_eq!((d.status, &d.reason), (503, &AuthError::KeysUnavailable));
    assert_eq!(d.retry_after_s, Some(5));
    assert_eq!(d.www_authenticate, None, "a 503 must not blame the client's token");
    assert!(d.body.contains("\"temporarily_unavailable\""), "{}", d.body);
}

#[test]
fn the_core_ends_the_hold_startup_hold_ms_after_arrival() {
    let mut w = world_with(|c| c["startup_hold_ms"] = json!(1500));
    let r = bearer("/remote/x", &w.remote_token());
    let arrived = NOW_MS;
    for now in [arrived, arrived + 1499] {
        assert_eq!(w.gate.decide(&r.view(), now, arrived), Decision::NeedKeys { provider: PROVIDER_R });
    }
    assert_unavailable(w.gate.decide(&r.view(), arrived + 1500, arrived));
    // A request that arrives later gets its own hold.
    assert_eq!(w.gate.decide(&r.view(), arrived + 1500, arrived + 1500), Decision::NeedKeys { provider: PROVIDER_R });
    // No hold at all: answered at once.
    let mut w = world_with(|c| c["startup_hold_ms"] = json!(0));
    assert_unavailable(w.gate.decide(&r.view(), NOW_MS, NOW_MS));
}

#[test]
fn cold_remote_provider_holds_then_503s_then_allows_after_the_fetch() {
    let mut w = world();
    let r = bearer("/remote/x", &w.remote_token());
    assert_eq!(decide_at(&mut w, &r, NOW_MS, Hold::Fresh), Decision::NeedKeys { provider: PROVIDER_R });
    assert_unavailable(decide_at(&mut w, &r, NOW_MS, Hold::Expired));

    let reqs = w.gate.poll_fetches(NOW_MS);
    assert_eq!(reqs.len(), 1, "only the remote provider fetches: {reqs:?}");
    let f = &reqs[0];
    assert_eq!(f.doc.provider, PROVIDER_R);
    assert_eq!(f.uri.as_deref(), Some("https://idp-r.example/jwks.json"));
    assert_eq!((f.path.as_str(), f.authority.as_str(), f.cluster.as_deref()), ("/jwks.json", "idp-r.example", None));
    assert!(w.gate.poll_fetches(NOW_MS + 10).is_empty(), "no duplicate fetch while one is in flight");

    let body = w.remote_body();
    let ev =
        w.gate.on_fetch_result(DocId::jwks(PROVIDER_R), NOW_MS + 20, FetchResult { sent_at_ms: NOW_MS, ..ok(&body) });
    assert_eq!(ev, Some(DocEvent::Keys(FetchEvent::Loaded(crate::fetched::KeysLoaded { keys: 1, skipped: vec![] }))));
    let a = allowed(decide_at(&mut w, &r, NOW_MS + 30, Hold::Fresh));
    assert_eq!(set(&a, "x-jwt-iss"), Some(ISS_R));
}

#[test]
fn cold_provider_with_a_failed_fetch_still_never_allows_or_401s() {
    let mut w = world();
    let r = bearer("/remote/x", &w.remote_token());
    assert_eq!(run_fetches(&mut w, NOW_MS, FetchResult::response(0, 502, b"")), 1);
    assert_eq!(decide_at(&mut w, &r, NOW_MS + 100, Hold::Fresh), Decision::NeedKeys { provider: PROVIDER_R });
    assert_unavailable(decide_at(&mut w, &r, NOW_MS + 3000, Hold::Expired));
    // Even a forged token (right kid, wrong key) gets 503, not 401: the gate cannot judge it.
    let forged = es256_token(&ec_key("ec-r"), &payload(json!({"iss": ISS_R})));
    assert_unavailable(decide_at(&mut w, &bearer("/remote/x", &forged), NOW_MS + 3000, Hold::Expired));
}

#[test]
fn inline_routes_work_while_the_remote_provider_is_cold() {
    let mut w = world();
    let t = es256_token(&w.ec_a, &payload(json!({})));
    allowed(decide_at(&mut w, &bearer("/api/x", &t), NOW_MS, Hold::Expired));
}

#[test]
fn unknown_kid_on_remote_waits_once_then_401s_within_the_cooldown() {
    let mut w = loaded_world();
    let t1 = NOW_MS + 60_000;
    let body = w.remote_body();
    let unknown = es256_token(&ec_key("ec-new"), &payload(json!({"iss": ISS_R})));
    let r = bearer("/remote/x", &unknown);
    assert_eq!(decide_at(&mut w, &r, t1, Hold::Fresh), Decision::NeedKeys { provider: PROVIDER_R });
    assert_eq!(run_fetches(&mut w, t1, ok(&body)), 1, "the unknown kid triggers one early refetch");
    assert_invalid_token(decide_at(&mut w, &r, t1 + 10, Hold::Fresh), AuthError::UnknownKey);

    // A spray of random kids inside the cooldown: all 401 at once, no further fetches.
    let mut fetches = 0;
    for i in 0..50u64 {
        let now = t1 + 100 + i * 100;
        let t = es256_token(&ec_key(&format!("spray-{i}")), &payload(json!({"iss": ISS_R})));
        assert_invalid_token(decide_at(&mut w, &bearer("/remote/x", &t), now, Hold::Fresh), AuthError::UnknownKey);
        fetches += run_fetches(&mut w, now, ok(&body));
    }
    assert_eq!(fetches, 0);
    // After the cooldown an unknown kid may wait for one more refetch.
    let later = t1 + REMOTE_COOLDOWN_S * 1000;
    assert_eq!(decide_at(&mut w, &r, later, Hold::Fresh), Decision::NeedKeys { provider: PROVIDER_R });
    // Once the hold has expired the host asks again without waiting: 401.
    assert_invalid_token(decide_at(&mut w, &r, later + 3000, Hold::Expired), AuthError::UnknownKey);
}

#[test]
fn newly_rotated_key_is_picked_up_by_the_unknown_kid_refetch() {
    let mut w = loaded_world();
    let new_key = ec_key("ec-r2");
    let t = es256_token(&new_key, &payload(json!({"iss": ISS_R})));
    let r = bearer("/remote/x", &t);
    let t1 = NOW_MS + 5000;
    assert_eq!(decide_at(&mut w, &r, t1, Hold::Fresh), Decision::NeedKeys { provider: PROVIDER_R });
    let rotated = jwks(&[ec_jwk(&w.ec_r), ec_jwk(&new_key)]).to_string().into_bytes();
    assert_eq!(run_fetches(&mut w, t1, ok(&rotated)), 1);
    assert_eq!(w.gate.key_count(PROVIDER_R), 2);
    allowed(decide_at(&mut w, &r, t1 + 10, Hold::Fresh));
}

#[test]
fn a_key_rotated_while_a_scheduled_refresh_is_in_flight_is_allowed_on_its_first_request() {
    let mut w = loaded_world();
    // A kid refetch just happened: the cooldown is running.
    let warm = es256_token(&ec_key("ec-unknown"), &payload(json!({"iss": ISS_R})));
    let body = w.remote_body();
    let t0 = NOW_MS + 1000;
    assert_eq!(
        decide_at(&mut w, &bearer("/remote/x", &warm), t0, Hold::Fresh),
        Decision::NeedKeys { provider: PROVIDER_R }
    );
    assert_eq!(run_fetches(&mut w, t0, ok(&body)), 1);
    // The scheduled refresh leaves (with the old set) ...
    let sched = NOW_MS + 400_000;
    let reqs = w.gate.poll_fetches(sched);
    assert_eq!(reqs.len(), 1);
    // ... then the IdP rotates and the first token with the new kid arrives.
    let new_key = ec_key("ec-r2");
    let r = bearer("/remote/x", &es256_token(&new_key, &payload(json!({"iss": ISS_R}))));
    assert_eq!(decide_at(&mut w, &r, sched + 30, Hold::Fresh), Decision::NeedKeys { provider: PROVIDER_R });
    let old = FetchResult { sent_at_ms: sched, ..ok(&body) };
    w.gate.on_fetch_result(DocId::jwks(PROVIDER_R), sched + 60, old).expect("provider exists");
    assert_eq!(
        decide_at(&mut w, &r, sched + 61, Hold::Fresh),
        Decision::NeedKeys { provider: PROVIDER_R },
        "a fetch sent before the token arrived cannot prove its kid unknown"
    );
    let rotated = jwks(&[ec_jwk(&w.ec_r), ec_jwk(&new_key)]).to_string().into_bytes();
    assert_eq!(run_fetches(&mut w, sched + 70, ok(&rotated)), 1, "one early refetch");
    allowed(decide_at(&mut w, &r, sched + 80, Hold::Fresh));
}

#[test]
fn outage_past_max_stale_is_503_never_401_never_allow() {
    let mut w = loaded_world();
    let long_lived = payload(json!({"iss": ISS_R, "exp": NOW_S + REMOTE_MAX_STALE_S + 600}));
    let good = es256_token(&w.ec_r, &long_lived);
    let stale_at = NOW_MS + REMOTE_MAX_STALE_S * 1000;
    // The IdP goes down: every fetch from now on fails.
    let mut now = NOW_MS + 1;
    let mut failed = 0;
    while now <= stale_at + 1 {
        failed += run_fetches(&mut w, now, FetchResult::no_response(0));
        now += 10_000;
    }
    assert!(failed > 10, "refreshes were attempted and failed ({failed})");
    // Up to the bound the last good keys still serve, flagged as stale.
    let served = allowed(decide_at(&mut w, &bearer("/remote/x", &good), stale_at, Hold::Expired));
    assert!(served.stale_keys, "keys served after a failed refresh are reported stale");

    let mut flipped = good.clone();
    let last = flipped.pop().expect("non-empty");
    flipped.push(if last == 'A' { 'Q' } else { 'A' });
    let unknown = es256_token(&ec_key("ec-other"), &payload(json!({"iss": ISS_R})));
    for t in [&good, &flipped, &unknown] {
        for hold in [Hold::Fresh, Hold::Expired] {
            assert_unavailable(decide_at(&mut w, &bearer("/remote/x", t), stale_at + 1, hold));
        }
    }
    // Recovery: one good fetch and tokens are judged again.
    let body = w.remote_body();
    let later = stale_at + 120_000;
    assert_eq!(run_fetches(&mut w, later, ok(&body)), 1);
    let fresh = allowed(decide_at(&mut w, &bearer("/remote/x", &good), later, Hold::Expired));
    assert!(!fresh.stale_keys, "after a successful refresh keys are fresh again");
}

#[test]
fn fetch_body_cap_follows_the_config() {
    let w = world_with(|c| c["providers"]["r"]["jwks"]["max_body_bytes"] = json!(4096));
    assert_eq!(w.gate.fetch_body_cap(DocId::jwks(PROVIDER_R)), 4096);
    assert_eq!(w.gate.fetch_body_cap(DocId::jwks(0)), 0, "inline providers fetch nothing");
    assert_eq!(w.gate.fetch_body_cap(DocId::jwks(99)), 0);
}

#[test]
fn remote_docs_name_every_fetched_document_and_only_those() {
    let w = world();
    let docs = w.gate.remote_docs();
    assert_eq!(docs.iter().map(|(d, _)| *d).collect::<Vec<_>>(), vec![DocId::jwks(PROVIDER_R)]);
    assert_eq!(Some(docs[0].1.clone()), w.gate.fetch_identity(DocId::jwks(PROVIDER_R)));
    assert_eq!(w.gate.fetch_identity(DocId::jwks(0)), None, "inline keys are not fetched");
    assert_eq!(w.gate.fetch_identity(DocId::jwks(99)), None);
}

#[test]
fn fetch_requests_carry_their_document_and_a_plain_get() {
    let mut w = world();
    let reqs = w.gate.poll_fetches(NOW_MS);
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.doc, DocId::jwks(PROVIDER_R));
    assert_eq!((r.method, r.body.is_empty(), r.headers.is_empty()), (FetchMethod::Get, true, true));
    assert!(r.accept.contains("application/jwk-set+json"), "{}", r.accept);
}

#[test]
fn doc_events_and_gauges_report_the_key_set() {
    let mut w = world();
    let body = w.remote_body();
    let doc = DocId::jwks(PROVIDER_R);
    w.gate.poll_fetches(NOW_MS);
    let ev = w.gate.on_fetch_result(doc, NOW_MS, FetchResult { sent_at_ms: NOW_MS, ..ok(&body) }).expect("exists");
    assert!(!ev.failed() && !ev.unchanged(), "{ev}");
    let name = &w.gate.config().providers[PROVIDER_R].name;
    assert_eq!(w.gate.doc_gauges(doc), vec![(format!("jwks_keys.{name}"), 1)]);
    w.gate.poll_fetches(NOW_MS + 400_000);
    let failed = w.gate.on_fetch_result(doc, NOW_MS + 400_000, FetchResult::no_response(NOW_MS + 400_000));
    let failed = failed.expect("exists");
    assert!(failed.failed(), "{failed}");
    assert!(failed.to_string().starts_with("JWKS fetch failed"), "{failed}");
}
