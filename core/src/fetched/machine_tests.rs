//! The machine with a toy document, so its rules are tested apart from the JWKS.

use super::*;
use crate::fetched::{FetchReason, Summary, Validators};
use std::fmt;

/// A document of non-empty lines; an empty body is invalid.
#[derive(Debug, PartialEq)]
struct Lines(Vec<String>);

#[derive(Clone, Debug, PartialEq)]
struct LinesLoaded(usize);

impl fmt::Display for LinesLoaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loaded {} lines", self.0)
    }
}

impl Summary for LinesLoaded {
    const DOCUMENT: &'static str = "list";
    const CONTENT: &'static str = "lines";
}

impl Document for Lines {
    type Context = ();
    type Summary = LinesLoaded;
    fn parse(body: &[u8], _: &()) -> Result<Lines, String> {
        let text = std::str::from_utf8(body).map_err(|_| "not UTF-8".to_owned())?;
        let lines: Vec<String> = text.lines().filter(|l| !l.is_empty()).map(str::to_owned).collect();
        if lines.is_empty() {
            return Err("no lines".into());
        }
        Ok(Lines(lines))
    }
    fn summary(&self) -> LinesLoaded {
        LinesLoaded(self.0.len())
    }
}

const T0: u64 = 1_700_000_000_000;
const REFRESH_MS: u64 = 300_000;
const MAX_STALE_MS: u64 = 600_000;
const COOLDOWN_MS: u64 = 30_000;
const TIMEOUT_MS: u64 = 2000;

fn machine() -> Fetched<Lines> {
    let remote = RemoteJwks {
        cluster: Some("c".into()),
        uri: Some("https://idp/list".into()),
        path: "/list".into(),
        authority: "idp".into(),
        refresh_interval_s: REFRESH_MS / 1000,
        min_refresh_interval_s: 30,
        timeout_ms: TIMEOUT_MS,
        max_stale_s: MAX_STALE_MS / 1000,
        kid_refetch_cooldown_s: COOLDOWN_MS / 1000,
        max_body_bytes: 1024,
    };
    Fetched::new(DocId::jwks(7), remote, (), 42)
}

fn ok(sent_at_ms: u64, body: &[u8]) -> FetchResult<'_> {
    FetchResult::response(sent_at_ms, 200, body)
}

const ETAG: Validators<'static> = Validators { etag: Some("\"v1\""), last_modified: None };

/// A loaded machine (fetched at T0, `ETag: "v1"`).
fn loaded() -> Fetched<Lines> {
    let mut m = machine();
    m.poll(T0).expect("cold fetch");
    let ev = m.on_fetch_result(T0, FetchResult { validators: ETAG, ..ok(T0, b"a\nb") });
    assert_eq!(ev, FetchEvent::Loaded(LinesLoaded(2)));
    m
}

#[test]
fn phases_cold_fresh_failing_stale_and_the_reasons_they_give() {
    let mut m = machine();
    assert_eq!(m.status(T0), Status::Cold);
    assert_eq!(m.poll(T0).map(|f| (f.doc.provider, f.reason)), Some((7, FetchReason::Cold)));
    assert!(matches!(
        m.on_fetch_result(T0, FetchResult::no_response(T0)),
        FetchEvent::Failed { have_last_good: false, .. }
    ));
    assert!(matches!(m.phase(), Phase::Cold { failures: 1 }));
    assert_eq!(m.poll(T0 + 1000).map(|f| f.reason), Some(FetchReason::Cold), "still cold: no document yet");
    m.on_fetch_result(T0 + 1000, ok(T0 + 1000, b"x"));
    assert_eq!(m.status(T0 + 1000), Status::Fresh);
    let due = m.next_fetch_ms();
    assert_eq!(m.poll(due).map(|f| f.reason), Some(FetchReason::Scheduled));
    let ev = m.on_fetch_result(due, FetchResult::response(due, 500, b""));
    assert!(matches!(ev, FetchEvent::Failed { have_last_good: true, retry_in_ms: 1000, .. }), "{ev:?}");
    assert_eq!(m.status(due), Status::Failing { since_ms: due, failures: 1 });
    assert_eq!(m.poll(due + 1000).map(|f| f.reason), Some(FetchReason::Retry));
    m.on_fetch_result(due + 1000, FetchResult::no_response(due + 1000));
    assert_eq!(
        m.status(due + 1000),
        Status::Failing { since_ms: due, failures: 2 },
        "since stays at the first failure"
    );
    assert_eq!(m.usable(due + 1000), Some(&Lines(vec!["x".into()])));
    // Past max_stale_s after the fetch: stale, and not refreshable (refreshes fail).
    let past = T0 + 1000 + MAX_STALE_MS + 1;
    assert_eq!(m.status(past), Status::Stale { refreshable: false });
    assert_eq!(m.usable(past), None);
    // Only old (no failure): refreshable, so a request may wait for the refresh.
    let idle = loaded();
    assert_eq!(idle.status(T0 + MAX_STALE_MS + 1), Status::Stale { refreshable: true });
}

#[test]
fn the_stale_bound_counts_from_when_the_document_was_fetched_not_applied() {
    // Another VM fetched this 10 minutes ago; this one adopts it now.
    let mut m = machine();
    m.poll(T0).expect("cold");
    let fetched = T0 - 540_000;
    assert_eq!(m.on_fetch_result(T0, ok(fetched, b"a")), FetchEvent::Loaded(LinesLoaded(1)));
    assert!(m.usable(fetched + MAX_STALE_MS).is_some());
    assert_eq!(m.usable(fetched + MAX_STALE_MS + 1), None, "stale 60 s after adoption, not 10 min");
    assert_eq!(m.status(fetched + MAX_STALE_MS + 1), Status::Stale { refreshable: true });
    // The refresh is due an interval after the fetch, i.e. already.
    assert!(m.next_fetch_ms() <= fetched + REFRESH_MS * 11 / 10 && m.next_fetch_ms() < T0);
    assert_eq!(m.poll(T0 + 1).map(|f| f.reason), Some(FetchReason::Scheduled));
    // A result sent before the held document was fetched cannot replace it.
    let mut newer = loaded();
    newer.poll(newer.next_fetch_ms()).expect("due");
    assert_eq!(newer.on_fetch_result(T0 + 5, ok(T0 - 1, b"old\nlist\nthree")), FetchEvent::Unchanged);
    assert_eq!(newer.document(), Some(&Lines(vec!["a".into(), "b".into()])));
    // A send time in the future (host clock skew) is read as "now".
    let mut skew = machine();
    skew.poll(T0).expect("cold");
    skew.on_fetch_result(T0, ok(T0 + 99_000, b"a"));
    assert_eq!(skew.usable(T0 + MAX_STALE_MS + 1), None);
}

#[test]
fn refreshes_are_conditional_on_the_held_validators() {
    let mut m = machine();
    let cold = m.poll(T0).expect("cold");
    assert_eq!((cold.if_none_match, cold.if_modified_since), (None, None), "nothing to validate yet");
    let lm = "Tue, 01 Dec 2026 10:00:00 GMT";
    let both = Validators { etag: Some("\"v1\""), last_modified: Some(lm) };
    m.on_fetch_result(T0, FetchResult { validators: both, ..ok(T0, b"a") });
    let f = m.poll(m.next_fetch_ms()).expect("due");
    assert_eq!((f.if_none_match.as_deref(), f.if_modified_since.as_deref()), (Some("\"v1\""), Some(lm)));
    assert_eq!(f.sent(), both);
}

#[test]
fn a_304_renews_only_when_the_request_sent_the_held_documents_validators() {
    let mut m = loaded();
    let due = m.next_fetch_ms();
    let f = m.poll(due).expect("due");
    let renewed = FetchResult { sent: f.sent(), ..FetchResult::response(due, 304, b"") };
    assert_eq!(m.on_fetch_result(due, renewed), FetchEvent::Unchanged);
    assert_eq!(m.status(due), Status::Fresh);
    assert!(m.usable(due + MAX_STALE_MS).is_some(), "the stale bound restarts at the 304's fetch");
    assert!(m.next_fetch_ms() >= due + REFRESH_MS * 9 / 10, "a regular refresh follows");
    let gen = m.generation();

    // Unsolicited: a 304 to a request without validators is a failed fetch.
    let due = m.next_fetch_ms();
    m.poll(due).expect("due");
    let ev = m.on_fetch_result(due, FetchResult::response(due, 304, b""));
    assert!(
        matches!(&ev, FetchEvent::Failed { reason, have_last_good: true, .. } if reason.contains("no validator")),
        "{ev:?}"
    );
    assert!(matches!(m.status(due), Status::Failing { failures: 1, .. }));

    // For another document (validators this machine does not hold): failed too.
    m.poll(due + 1000).expect("retry");
    let other = Validators { etag: Some("\"v0\""), last_modified: None };
    let ev = m.on_fetch_result(due + 1000, FetchResult { sent: other, ..FetchResult::response(due + 1000, 304, b"") });
    assert!(matches!(&ev, FetchEvent::Failed { reason, .. } if reason.contains("does not hold")), "{ev:?}");
    assert!(matches!(m.status(due + 1000), Status::Failing { failures: 2, .. }), "the held document is kept");
    assert_eq!(m.generation(), gen, "no 304 changes the document");

    // Cold: even a conditional 304 cannot stand in for a document.
    let mut c = machine();
    c.poll(T0).expect("cold");
    let ev = c.on_fetch_result(T0, FetchResult { sent: ETAG, ..FetchResult::response(T0, 304, b"") });
    assert!(matches!(ev, FetchEvent::Failed { have_last_good: false, .. }), "{ev:?}");
}

#[test]
fn a_200_with_the_same_bytes_takes_the_new_validators() {
    let mut m = loaded();
    let due = m.next_fetch_ms();
    m.poll(due).expect("due");
    let v2 = Validators { etag: Some("\"v2\""), last_modified: None };
    assert_eq!(m.on_fetch_result(due, FetchResult { validators: v2, ..ok(due, b"a\nb") }), FetchEvent::Unchanged);
    let f = m.poll(m.next_fetch_ms()).expect("due");
    assert_eq!(f.if_none_match.as_deref(), Some("\"v2\""));
}

#[test]
fn a_kid_seen_while_a_regular_fetch_is_in_flight_gets_its_own_fetch_afterwards() {
    let mut m = loaded();
    let sched = m.next_fetch_ms();
    assert_eq!(m.poll(sched).map(|f| f.reason), Some(FetchReason::Scheduled));
    // The token arrives while the scheduled fetch is in flight.
    let token_at = sched + 50;
    assert!(m.want_refetch(token_at), "hold it: the in-flight fetch may not know the key");
    assert!(m.want_refetch(token_at + 1), "a second new kid joins the same demand");
    // The scheduled fetch (sent before the token) completes without the new key.
    assert_eq!(m.on_fetch_result(sched + 80, ok(sched, b"a\nb")), FetchEvent::Unchanged);
    let f = m.poll(sched + 80).expect("an early refetch follows at once");
    assert_eq!((f.reason, f.requested_at_ms), (FetchReason::UnknownKid, token_at));
    assert!(m.want_refetch(sched + 90), "waiting for that refetch is worthwhile");
    assert_eq!(m.on_fetch_result(sched + 120, ok(sched + 80, b"a\nb\nnew")), FetchEvent::Loaded(LinesLoaded(3)));
    // Done: the next unknown kid is judged by the cooldown (one early fetch per cooldown).
    assert!(!m.want_refetch(sched + 130), "cooldown holds after the early fetch");
    assert_eq!(m.poll(sched + 130), None);
}

#[test]
fn a_kid_seen_before_an_older_result_is_adopted_still_gets_its_fetch() {
    // Envoy: VM 2 sees the token, then adopts VM 1's scheduled result sent earlier.
    let mut m = loaded();
    let sched = m.next_fetch_ms();
    let token_at = sched + 40;
    assert!(m.want_refetch(token_at));
    assert_eq!(m.on_fetch_result(token_at + 100, ok(sched, b"a\nb")), FetchEvent::Unchanged);
    let f = m.poll(token_at + 100).expect("the demand survives a result sent before it");
    assert_eq!((f.reason, f.requested_at_ms), (FetchReason::UnknownKid, token_at));
    assert!(!f.satisfied_by(sched, true, false, token_at + 100), "VM 1's scheduled fetch cannot answer it");
    assert!(f.satisfied_by(token_at + 10, true, false, token_at + 100), "a fetch sent after the token can");
}

#[test]
fn the_race_allowance_does_not_open_a_spray_past_the_bound() {
    let mut m = loaded();
    let mut early = 0;
    let mut regular = 0;
    let mut now = T0 + 1;
    // Two refresh intervals of one random kid every 100 ms; fetches answer after 50 ms.
    let mut in_flight: Option<(u64, FetchReason)> = None;
    while now < T0 + 2 * REFRESH_MS {
        m.want_refetch(now);
        if let Some((sent, _)) = in_flight.filter(|(sent, _)| now >= sent + 50) {
            m.on_fetch_result(now, ok(sent, b"a\nb"));
            in_flight = None;
        }
        if in_flight.is_none() {
            if let Some(f) = m.poll(now) {
                match f.reason {
                    FetchReason::UnknownKid => early += 1,
                    _ => regular += 1,
                }
                in_flight = Some((now, f.reason));
            }
        }
        now += 100;
    }
    // At most one early fetch per cooldown, plus one after each regular fetch (of which
    // two refresh intervals hold at most two); a continuous spray absorbs the schedule.
    let cooldowns = 2 * REFRESH_MS / COOLDOWN_MS;
    assert!(regular <= 2, "{regular} regular fetches");
    assert!(early + regular <= cooldowns + 2, "{early} early + {regular} regular fetches in {cooldowns} cooldowns");
    assert!(early >= cooldowns - 1, "the spray still gets its one fetch per cooldown: {early}");
}

#[test]
fn a_lost_fetch_does_not_wedge_the_machine() {
    let mut m = machine();
    m.poll(T0).expect("cold");
    assert_eq!(m.poll(T0 + 2 * TIMEOUT_MS), None, "in flight");
    assert!(m.poll(T0 + 2 * TIMEOUT_MS + 1000).is_some(), "given up after 2 x timeout + 1 s");
}

#[test]
fn events_name_the_document() {
    let failed: FetchEvent<LinesLoaded> =
        FetchEvent::Failed { reason: "HTTP status 500".into(), have_last_good: false, retry_in_ms: 1000 };
    assert_eq!(failed.to_string(), "list fetch failed: HTTP status 500; no lines yet; retry in 1000 ms");
    assert_eq!(FetchEvent::<LinesLoaded>::Unchanged.to_string(), "list unchanged");
    assert_eq!(FetchEvent::Loaded(LinesLoaded(2)).to_string(), "loaded 2 lines");
}
