use super::*;
use crate::test_support::feed_remote;
use serde_json::json;

const ISS: &str = "https://idp.example";

fn entry(v: serde_json::Value) -> Entry {
    Entry::from_json(&v).expect("valid entry")
}

fn revocation(inline: Vec<Entry>, feed: bool, on_stale: OnStale) -> Revocation {
    let cfg = RevocationConfig { inline, feed: feed.then(|| feed_remote(15, 64 * 1024)), on_stale, status_list: None };
    Revocation::new(0, &cfg, ISS, 0, 1)
}

fn jti(j: &str) -> TokenIds {
    TokenIds { jti: Some(j.into()), ..Default::default() }
}

fn feed_body(version: u64, jtis: &[&str]) -> Vec<u8> {
    let entries: Vec<_> = jtis.iter().map(|j| json!({"jti": j, "exp": 100})).collect();
    json!({"version": version, "generated_at": 1, "kind": "full", "entries": entries}).to_string().into_bytes()
}

fn load(r: &mut Revocation, at_ms: u64, version: u64, jtis: &[&str]) {
    assert!(r.poll(at_ms).is_some(), "a fetch is due");
    let b = feed_body(version, jtis);
    let e = r.on_fetch_result(at_ms, FetchResult::response(at_ms, 200, &b));
    assert!(matches!(e, Some(FetchEvent::Loaded(_))), "{e:?}");
}

#[test]
fn inline_entries_apply_without_a_feed_and_never_go_stale() {
    let r = revocation(vec![entry(json!({"jti": "bad", "exp": 100}))], false, OnStale::Deny);
    assert_eq!(r.check_lists(&jti("bad"), 1_000), Check::Revoked(Matched::Jti));
    assert_eq!(r.check_lists(&jti("good"), 1_000), Check::Clear);
    assert_eq!(r.check_lists(&jti("good"), 99_000_000), Check::Clear);
    assert_eq!(r.entries(), 1);
    assert_eq!(r.age_s(1_000), None);
}

#[test]
fn a_cold_feed_is_unavailable_until_its_first_list() {
    let mut r = revocation(vec![entry(json!({"jti": "inline", "exp": 100}))], true, OnStale::Deny);
    assert_eq!(r.check_lists(&jti("x"), 0), Check::Unavailable { cold: true, refreshable: true });
    assert_eq!(r.check_lists(&jti("inline"), 0), Check::Revoked(Matched::Jti), "inline entries still refuse");
    load(&mut r, 0, 1, &["fed"]);
    assert_eq!(r.check_lists(&jti("x"), 1_000), Check::Clear);
    assert_eq!(r.check_lists(&jti("fed"), 1_000), Check::Revoked(Matched::Jti));
    assert_eq!(r.entries(), 2);
    assert_eq!(r.age_s(4_500), Some(4));
}

#[test]
fn past_the_bound_a_failing_feed_is_unavailable_never_clear() {
    let mut r = revocation(vec![], true, OnStale::Deny);
    load(&mut r, 0, 1, &["fed"]);
    let poll = r.poll(6_000).expect("refresh due");
    assert_eq!(poll.path, "/revocations");
    let e = r.on_fetch_result(6_000, FetchResult::no_response(6_000));
    assert!(matches!(e, Some(FetchEvent::Failed { have_last_good: true, .. })));
    assert_eq!(r.check_lists(&jti("x"), 15_000), Check::Clear, "within the bound the last good list serves");
    assert_eq!(r.check_lists(&jti("fed"), 15_000), Check::Revoked(Matched::Jti));
    assert_eq!(r.check_lists(&jti("x"), 15_001), Check::Unavailable { cold: false, refreshable: false });
    // Only old, with no failure since (an idle isolate): worth a fetch.
    let mut idle = revocation(vec![], true, OnStale::Deny);
    load(&mut idle, 0, 1, &[]);
    assert_eq!(idle.check_lists(&jti("x"), 60_000), Check::Unavailable { cold: false, refreshable: true });
}

#[test]
fn on_stale_allow_consults_the_last_good_list_however_old() {
    let mut r = revocation(vec![], true, OnStale::Allow);
    assert_eq!(r.check_lists(&jti("x"), 0), Check::Clear, "allow: even before the first list");
    load(&mut r, 0, 1, &["fed"]);
    assert_eq!(r.check_lists(&jti("fed"), 90_000), Check::Revoked(Matched::Jti), "past the 15 s bound");
    assert_eq!(r.check_lists(&jti("x"), 90_000), Check::Clear);
}

#[test]
fn expired_entries_are_pruned_from_both_lists() {
    let mut r = revocation(vec![entry(json!({"jti": "old", "exp": 10}))], true, OnStale::Deny);
    load(&mut r, 0, 1, &["fed"]);
    assert_eq!(r.entries(), 2);
    assert_eq!(r.prune(50_000), 1, "the inline entry expired at 10 s");
    assert_eq!(r.prune(100_000), 1, "the fed entry expired at 100 s");
    assert_eq!(r.entries(), 0);
}
