use super::*;
use crate::fetched::{FetchReason, Fetched, Validators};
use crate::test_support::*;
use serde_json::Value;

const REFRESH_S: u64 = 300;
const MIN_REFRESH_S: u64 = 30;
const MAX_STALE_S: u64 = 3600;
const COOLDOWN_S: u64 = 30;
const T0: u64 = NOW_MS;

fn remote() -> RemoteJwks {
    RemoteJwks {
        cluster: Some("idp".into()),
        uri: Some("https://idp.example/jwks.json".into()),
        path: "/jwks.json".into(),
        authority: "idp.example".into(),
        refresh_interval_s: REFRESH_S,
        min_refresh_interval_s: MIN_REFRESH_S,
        timeout_ms: 2000,
        max_stale_s: MAX_STALE_S,
        kid_refetch_cooldown_s: COOLDOWN_S,
        max_body_bytes: 16 * 1024,
    }
}

fn cold() -> KeySet {
    KeySet::remote(3, remote(), vec![Alg::ES256, Alg::EdDSA], 0x5eed)
}

fn body(keys: &[Value]) -> Vec<u8> {
    jwks(keys).to_string().into_bytes()
}

/// A `200` with `body`; `fetch` stamps the send time.
fn ok(body: &[u8]) -> FetchResult<'_> {
    FetchResult::response(0, 200, body)
}

fn ok_at(sent_at_ms: u64, body: &[u8]) -> FetchResult<'_> {
    FetchResult::response(sent_at_ms, 200, body)
}

fn status(code: u16) -> FetchResult<'static> {
    FetchResult::response(0, code, b"")
}

fn transport_error() -> FetchResult<'static> {
    FetchResult::no_response(0)
}

fn machine(ks: &mut KeySet) -> &mut Fetched<KeySetDoc> {
    match ks {
        KeySet::Remote(f) => f,
        KeySet::Inline(_) => panic!("a remote key set"),
    }
}

fn next_due(ks: &mut KeySet) -> u64 {
    machine(ks).next_fetch_ms()
}

/// Polls, then reports `r` as sent and answered at the same instant.
fn fetch(ks: &mut KeySet, now: u64, mut r: FetchResult<'_>) -> KeySetEvent {
    ks.poll(now).expect("a fetch is due");
    r.sent_at_ms = now;
    ks.on_fetch_result(now, r)
}

/// Polls and reports `r` at the moment the next fetch is due; returns that moment.
fn fetch_due(ks: &mut KeySet, r: FetchResult<'_>) -> (u64, KeySetEvent) {
    let t = next_due(ks);
    (t, fetch(ks, t, r))
}

fn loaded(keys: usize) -> KeySetEvent {
    KeySetEvent::Loaded(KeysLoaded { keys, skipped: vec![] })
}

fn found_kid(ks: &KeySet, kid: Option<&str>, alg: Alg, now: u64) -> Option<String> {
    match ks.lookup(kid, alg, now) {
        Lookup::Found(k) => Some(k.kid.clone().unwrap_or_default()),
        _ => None,
    }
}

/// The first instant (in 100 ms steps from `from`) at which `poll` offers a fetch;
/// the offered fetch is abandoned again so the key set is left as it was.
fn next_fetch_at(ks: &mut KeySet, from: u64, limit: u64) -> u64 {
    let mut t = from;
    while t <= limit {
        if ks.poll(t).is_some() {
            machine(ks).forget_in_flight();
            return t;
        }
        t += 100;
    }
    panic!("no fetch offered before {limit}");
}

#[test]
fn cold_remote_set_requests_one_fetch_until_the_result_arrives() {
    let mut ks = cold();
    assert!(matches!(ks.lookup(Some("k"), Alg::ES256, T0), Lookup::Unavailable { cold: true, refreshable: true }));
    let req = ks.poll(T0).expect("cold start fetches at once");
    assert_eq!(req.doc.provider, 3);
    assert_eq!(req.cluster.as_deref(), Some("idp"));
    assert_eq!(req.uri.as_deref(), Some("https://idp.example/jwks.json"));
    assert_eq!((req.path.as_str(), req.authority.as_str(), req.timeout_ms), ("/jwks.json", "idp.example", 2000));
    assert_eq!(ks.poll(T0), None, "no second fetch while one is in flight");
    assert_eq!(ks.poll(T0 + 4000), None, "still in flight within 2 x timeout");
    // A host that loses the fetch does not wedge the key set forever.
    assert!(ks.poll(T0 + 2 * 2000 + 1000).is_some());
}

#[test]
fn inline_sets_never_fetch() {
    let doc = parse_jwks(&body(&[ec_jwk(&ec_key("k"))]), JwksOrigin::Inline, &[Alg::ES256]).expect("usable");
    let mut ks = KeySet::inline(0, doc);
    assert_eq!(ks.poll(T0), None);
    assert!(!ks.want_refetch(T0));
    assert_eq!(found_kid(&ks, Some("k"), Alg::ES256, u64::MAX), Some("k".into()), "inline keys never go stale");
}

#[test]
fn successful_fetch_loads_keys_and_schedules_refresh_with_jitter() {
    let mut ks = cold();
    let ev = fetch(&mut ks, T0, ok(&body(&[ec_jwk(&ec_key("a")), ec_jwk(&ec_key("b"))])));
    assert_eq!(ev, loaded(2));
    assert_eq!(ks.key_count(), 2);
    assert_eq!(found_kid(&ks, Some("b"), Alg::ES256, T0), Some("b".into()));
    let interval = REFRESH_S * 1000;
    assert_eq!(ks.poll(T0 + interval * 9 / 10 - 1), None, "not before -10%");
    next_fetch_at(&mut ks, T0 + interval * 9 / 10, T0 + interval * 11 / 10);
}

#[test]
fn jitter_differs_between_seeds() {
    let keys = body(&[ec_jwk(&ec_key("a"))]);
    let times: Vec<u64> = (1..=4u64)
        .map(|seed| {
            let mut ks = KeySet::remote(0, remote(), vec![Alg::ES256], seed * 7919);
            fetch(&mut ks, T0, ok(&keys));
            next_due(&mut ks)
        })
        .collect();
    assert!(times.iter().any(|t| *t != times[0]), "all gates would refresh in lockstep: {times:?}");
}

#[test]
fn max_age_is_clamped_between_min_and_regular_interval() {
    let keys = body(&[ec_jwk(&ec_key("a"))]);
    for (max_age, expected_s) in [(5, MIN_REFRESH_S), (100, 100), (1_000_000, REFRESH_S)] {
        let mut ks = cold();
        ks.poll(T0).expect("due");
        ks.on_fetch_result(T0, FetchResult { sent_at_ms: T0, max_age_s: Some(max_age), ..ok(&keys) });
        let due = next_due(&mut ks) - T0;
        let ms = expected_s * 1000;
        assert!((ms * 9 / 10..=ms * 11 / 10).contains(&due), "max-age {max_age}: next fetch in {due} ms");
    }
}

#[test]
fn failures_keep_last_good_keys_and_back_off_exponentially() {
    let mut ks = cold();
    fetch(&mut ks, T0, ok(&body(&[ec_jwk(&ec_key("a"))])));
    let mut now = next_due(&mut ks);
    let mut delays = Vec::new();
    for _ in 0..9 {
        let ev = fetch(&mut ks, now, FetchResult::response(0, 500, b"oops"));
        let KeySetEvent::Failed { reason, have_last_good, retry_in_ms } = ev else { panic!("expected Failed") };
        assert!(reason.contains("500") && have_last_good);
        assert_eq!(ks.poll(now + retry_in_ms - 1), None, "no retry before the backoff");
        delays.push(retry_in_ms);
        now += retry_in_ms;
        assert_eq!(found_kid(&ks, Some("a"), Alg::ES256, now), Some("a".into()), "last good keys survive");
    }
    assert_eq!(delays, [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    // One success resets the backoff.
    fetch(&mut ks, now, ok(&body(&[ec_jwk(&ec_key("a2"))])));
    let (_, ev) = fetch_due(&mut ks, transport_error());
    assert!(matches!(ev, KeySetEvent::Failed { retry_in_ms: 1000, .. }), "{ev:?}");
}

#[test]
fn cold_failure_reports_no_keys() {
    let mut ks = cold();
    let ev = fetch(&mut ks, T0, transport_error());
    assert!(matches!(ev, KeySetEvent::Failed { have_last_good: false, retry_in_ms: 1000, .. }), "{ev:?}");
    assert!(matches!(ks.lookup(None, Alg::ES256, T0), Lookup::Unavailable { cold: true, refreshable: true }));
    // 304 without a cached set is not a success either.
    let ev = fetch(&mut ks, T0 + 1000, status(304));
    assert!(matches!(ev, KeySetEvent::Failed { have_last_good: false, .. }), "{ev:?}");
}

#[test]
fn unchanged_body_and_conditional_304_are_unchanged_and_count_as_success() {
    let mut ks = cold();
    let keys = body(&[ec_jwk(&ec_key("a"))]);
    let tagged = FetchResult { validators: Validators { etag: Some("\"v1\""), last_modified: None }, ..ok(&keys) };
    fetch(&mut ks, T0, tagged);
    let t1 = next_due(&mut ks);
    assert_eq!(fetch(&mut ks, t1, tagged), KeySetEvent::Unchanged);
    let t2 = next_due(&mut ks);
    assert!(t2 >= t1 + REFRESH_S * 900, "a regular refresh is scheduled after Unchanged");
    let f = ks.poll(t2).expect("refresh due");
    assert_eq!(f.if_none_match.as_deref(), Some("\"v1\""), "the refresh is conditional on the held ETag");
    let not_modified = FetchResult { sent_at_ms: t2, sent: f.sent(), ..status(304) };
    assert_eq!(ks.on_fetch_result(t2, not_modified), KeySetEvent::Unchanged);
    // Each Unchanged renews freshness: max_stale counts from the last one.
    assert_eq!(found_kid(&ks, Some("a"), Alg::ES256, t2 + MAX_STALE_S * 1000), Some("a".into()));
}

#[test]
fn oversize_or_invalid_bodies_fail_and_keep_keys() {
    let mut ks = cold();
    fetch(&mut ks, T0, ok(&body(&[ec_jwk(&ec_key("a"))])));
    let big = vec![b' '; 16 * 1024 + 1];
    let (_, ev) = fetch_due(&mut ks, ok(&big));
    assert!(
        matches!(&ev, KeySetEvent::Failed { reason, have_last_good: true, .. } if reason.contains("exceeds")),
        "{ev:?}"
    );
    let (_, ev) = fetch_due(&mut ks, ok(b"<html>"));
    assert!(matches!(&ev, KeySetEvent::Failed { reason, .. } if reason.contains("JSON")), "{ev:?}");
    let (_, ev) = fetch_due(&mut ks, ok(&body(&[])));
    assert!(matches!(&ev, KeySetEvent::Failed { reason, .. } if reason.contains("no usable key")), "{ev:?}");
    assert_eq!(ks.key_count(), 1);
}

#[test]
fn keys_go_unavailable_after_max_stale_since_last_success() {
    let mut ks = cold();
    fetch(&mut ks, T0, ok(&body(&[ec_jwk(&ec_key("a"))])));
    let mut now = next_due(&mut ks);
    while now <= T0 + MAX_STALE_S * 1000 {
        fetch(&mut ks, now, transport_error());
        now = next_due(&mut ks);
    }
    assert_eq!(found_kid(&ks, Some("a"), Alg::ES256, T0 + MAX_STALE_S * 1000), Some("a".into()));
    assert!(
        matches!(
            ks.lookup(Some("a"), Alg::ES256, T0 + MAX_STALE_S * 1000 + 1),
            Lookup::Unavailable { cold: false, refreshable: false }
        ),
        "stale because refreshes failed"
    );
    // Recovery: a good fetch makes them usable again.
    let (t, _) = fetch_due(&mut ks, ok(&body(&[ec_jwk(&ec_key("b"))])));
    assert!(t > T0 + MAX_STALE_S * 1000);
    assert_eq!(found_kid(&ks, Some("b"), Alg::ES256, t), Some("b".into()));
}

#[test]
fn rotated_out_key_is_unknown_after_the_next_refresh() {
    let mut ks = cold();
    fetch(&mut ks, T0, ok(&body(&[ec_jwk(&ec_key("old")), ec_jwk(&ec_key("new"))])));
    assert_eq!(found_kid(&ks, Some("old"), Alg::ES256, T0), Some("old".into()));
    let t1 = next_due(&mut ks);
    let ev = fetch(&mut ks, t1, ok(&body(&[ec_jwk(&ec_key("new"))])));
    assert_eq!(ev, loaded(1));
    assert!(matches!(ks.lookup(Some("old"), Alg::ES256, t1), Lookup::Unknown));
    assert_eq!(found_kid(&ks, Some("new"), Alg::ES256, t1), Some("new".into()));
}

#[test]
fn unknown_kid_spray_costs_one_refetch_per_cooldown() {
    let mut ks = cold();
    let keys = body(&[ec_jwk(&ec_key("a"))]);
    fetch(&mut ks, T0, ok(&keys));
    let t1 = T0 + 1000;
    let mut fetches = 0;
    let mut worth_waiting = 0;
    for i in 0..200u64 {
        let now = t1 + i * 100; // 20 s of random kids, inside the 30 s cooldown
        assert!(matches!(ks.lookup(Some(&format!("rand-{i}")), Alg::ES256, now), Lookup::Unknown));
        if ks.want_refetch(now) {
            worth_waiting += 1;
        }
        if ks.poll(now).is_some() {
            fetches += 1;
            ks.on_fetch_result(now, ok_at(now, &keys));
        }
    }
    assert_eq!(fetches, 1, "exactly one early refetch inside the cooldown");
    assert_eq!(worth_waiting, 1, "after the refetch the spray is told not to wait");
    // After the cooldown another unknown kid may trigger one more refetch.
    let after = t1 + COOLDOWN_S * 1000;
    assert!(ks.want_refetch(after));
    assert!(ks.poll(after).is_some());
    assert!(ks.want_refetch(after + 1), "waiting is worthwhile while the refetch is in flight");
}

#[test]
fn kidless_token_needs_exactly_one_key_of_its_alg() {
    let mut ks = cold();
    let mut ec = ec_jwk(&ec_key("x"));
    ec.as_object_mut().expect("object").remove("kid");
    let ed = ed_jwk(&ed_key("ed"));
    fetch(&mut ks, T0, ok(&body(&[ec.clone(), ed.clone()])));
    assert_eq!(found_kid(&ks, None, Alg::ES256, T0), Some(String::new()), "the one ES256 key");
    assert_eq!(found_kid(&ks, None, Alg::EdDSA, T0), Some("ed".into()), "the one EdDSA key");
    let ec2 = ec_jwk(&ec_key("y"));
    let (t, _) = fetch_due(&mut ks, ok(&body(&[ec, ec2, ed])));
    assert!(matches!(ks.lookup(None, Alg::ES256, t), Lookup::Unknown), "two ES256 keys: ambiguous");
    assert_eq!(found_kid(&ks, None, Alg::EdDSA, t), Some("ed".into()));
}

#[test]
fn events_render_for_logs() {
    let failed = KeySetEvent::Failed { reason: "HTTP status 500".into(), have_last_good: true, retry_in_ms: 2000 };
    let text = failed.to_string();
    assert!(text.contains("HTTP status 500") && text.contains("keeping the last good keys") && text.contains("2000"));
    let with_skipped = KeySetEvent::Loaded(KeysLoaded { keys: 1, skipped: vec!["key #0: weak".into()] });
    assert!(with_skipped.to_string().contains("skipped 1: key #0: weak"));
}

#[test]
fn huge_configured_durations_saturate_instead_of_overflowing() {
    // The config accepts any u64 for these; "practically forever" must not wrap around
    // to "a few milliseconds" (release) or panic (debug).
    let huge = u64::MAX / 1000 + 1;
    let r = RemoteJwks {
        refresh_interval_s: huge,
        max_stale_s: huge,
        kid_refetch_cooldown_s: huge,
        min_refresh_interval_s: huge,
        ..remote()
    };
    let mut ks = KeySet::remote(0, r.clone(), vec![Alg::ES256], 1);
    let keys = body(&[ec_jwk(&ec_key("a"))]);
    assert_eq!(fetch(&mut ks, T0, ok(&keys)), loaded(1));
    assert_eq!(ks.poll(T0 + 86_400_000), None, "no refresh due for a very long time");
    assert_eq!(found_kid(&ks, Some("a"), Alg::ES256, T0 + 86_400_000), Some("a".into()), "not stale");
    assert!(ks.want_refetch(T0 + 1), "first unknown kid may refetch");
    ks.poll(T0 + 1).expect("refetch scheduled");
    ks.on_fetch_result(T0 + 1, ok_at(T0 + 1, &keys));
    assert!(!ks.want_refetch(T0 + 2), "cooldown holds");
    let mut failing = KeySet::remote(0, r, vec![Alg::ES256], 1);
    let ev = fetch(&mut failing, T0, transport_error());
    assert!(matches!(ev, KeySetEvent::Failed { retry_in_ms: 1000, .. }), "{ev:?}");
}

#[test]
fn body_cap_is_the_configured_limit_for_remote_sets_only() {
    assert_eq!(cold().body_cap(), 16 * 1024);
    let doc = parse_jwks(&body(&[ec_jwk(&ec_key("k"))]), JwksOrigin::Inline, &[Alg::ES256]).expect("usable");
    assert_eq!(KeySet::inline(0, doc).body_cap(), 0);
}

#[test]
fn an_idle_set_past_max_stale_is_refreshable_not_failed() {
    let mut ks = cold();
    fetch(&mut ks, T0, ok(&body(&[ec_jwk(&ec_key("a"))])));
    let later = T0 + MAX_STALE_S * 1000 + 5000;
    assert!(matches!(ks.lookup(Some("a"), Alg::ES256, later), Lookup::Unavailable { cold: false, refreshable: true }));
    let f = ks.poll(later).expect("a refresh is due");
    assert_eq!(f.reason, FetchReason::Scheduled);
}

#[test]
fn fetch_reasons_and_what_satisfies_them() {
    let mut ks = cold();
    let f = ks.poll(T0).expect("cold fetch");
    assert_eq!(f.reason, FetchReason::Cold);
    ks.on_fetch_result(T0, ok_at(T0, &body(&[ec_jwk(&ec_key("a"))])));
    // An unknown kid at t1: only a fetch made at or after t1 can know the new key,
    // or another VM's kid-triggered fetch within the cooldown.
    let t1 = T0 + 5000;
    assert!(ks.want_refetch(t1));
    let f = ks.poll(t1).expect("kid refetch");
    assert_eq!((f.reason, f.requested_at_ms), (FetchReason::UnknownKid, t1));
    assert!(!f.satisfied_by(T0, true, false, t1 + 10), "a scheduled fetch from before the token arrived");
    assert!(f.satisfied_by(t1 + 5, true, false, t1 + 10));
    assert!(f.satisfied_by(t1 - 1000, true, true, t1 + 10), "another kid refetch within the cooldown");
    // A scheduled refresh is satisfied by a success from another VM moments ago.
    ks.on_fetch_result(t1, ok_at(t1, &body(&[ec_jwk(&ec_key("a"))])));
    let due = next_due(&mut ks);
    let f = ks.poll(due).expect("scheduled");
    assert_eq!(f.reason, FetchReason::Scheduled);
    assert!(f.satisfied_by(due - 100, true, false, due));
    assert!(!f.satisfied_by(due - 100, false, false, due), "a failure never stands in for a refresh");
}
