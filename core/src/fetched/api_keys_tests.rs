use super::*;
use crate::apikey::generate;
use serde_json::json;

const REFRESH_S: u64 = 60;
const MAX_STALE_S: u64 = 300;
const T0: u64 = 1_000_000;

fn remote() -> RemoteJwks {
    RemoteJwks {
        cluster: Some("keys".into()),
        uri: Some("https://keys.example/feed.json".into()),
        path: "/feed.json".into(),
        authority: "keys.example".into(),
        refresh_interval_s: REFRESH_S,
        min_refresh_interval_s: 10,
        timeout_ms: 2000,
        max_stale_s: MAX_STALE_S,
        kid_refetch_cooldown_s: 30,
        max_body_bytes: 16 * 1024,
    }
}

fn rendering() -> Rendering {
    Rendering::default()
}

fn feed(entries: serde_json::Value) -> Vec<u8> {
    json!({"keys": entries}).to_string().into_bytes()
}

fn loaded(body: &[u8]) -> KeyStore {
    let mut s = KeyStore::feed(super::super::DocId::api_keys(0), remote(), rendering(), 7);
    let req = s.poll(T0).expect("a cold feed asks for a fetch");
    assert_eq!(req.path, "/feed.json");
    let ev = s.on_fetch_result(T0, FetchResult::response(T0, 200, body));
    assert!(matches!(ev, FetchEvent::Loaded(KeyFeedLoaded { .. })), "{ev}");
    s
}

#[test]
fn a_cold_feed_is_unavailable_and_a_loaded_one_answers() {
    let k = generate([1; 32]);
    let cold = KeyStore::feed(super::super::DocId::api_keys(0), remote(), rendering(), 7);
    assert!(matches!(cold.lookup(&k.digest, T0), KeyLookup::Unavailable { cold: true, .. }));
    let s = loaded(&feed(json!([{"digest": k.digest_line(), "client": "reports"}])));
    assert!(matches!(s.lookup(&k.digest, T0), KeyLookup::Found(app) if app.client == "reports"));
    assert!(matches!(s.lookup(&generate([2; 32]).digest, T0), KeyLookup::Rejected));
    assert_eq!(s.key_count(), 1);
}

#[test]
fn a_key_disabled_or_removed_in_the_feed_stops_at_the_next_refresh() {
    let (a, b) = (generate([1; 32]), generate([2; 32]));
    let mut s = loaded(&feed(json!([
        {"digest": a.digest_line(), "client": "a"}, {"digest": b.digest_line(), "client": "b"}
    ])));
    let t1 = T0 + REFRESH_S * 1000 * 2;
    assert!(s.poll(t1).is_some(), "a refresh is due within the interval (+jitter)");
    let body = feed(json!([{"digest": a.digest_line(), "client": "a", "disabled": true}]));
    s.on_fetch_result(t1, FetchResult::response(t1, 200, &body));
    assert!(matches!(s.lookup(&a.digest, t1), KeyLookup::Rejected), "disabled");
    assert!(matches!(s.lookup(&b.digest, t1), KeyLookup::Rejected), "removed");
}

#[test]
fn a_broken_feed_keeps_the_last_good_table_until_the_bound_then_503() {
    let k = generate([1; 32]);
    let mut s = loaded(&feed(json!([{"digest": k.digest_line(), "client": "a"}])));
    let t1 = T0 + REFRESH_S * 1000 * 2;
    assert!(s.poll(t1).is_some());
    let ev = s.on_fetch_result(t1, FetchResult::response(t1, 200, br#"{"keys": [{"digest": "nope"}]}"#));
    assert!(ev.to_string().contains("keys[0].digest"), "{ev}");
    assert!(s.is_stale());
    assert!(matches!(s.lookup(&k.digest, t1), KeyLookup::Found(_)), "within the bound");
    let past = T0 + MAX_STALE_S * 1000 + 1;
    assert!(matches!(s.lookup(&k.digest, past), KeyLookup::Unavailable { cold: false, refreshable: false }));
}

#[test]
fn feed_documents_are_strict() {
    let r = rendering();
    for (body, needle) in [
        (&b"[]"[..], "not a key feed"),
        (br#"{"keys": [], "extra": 1}"#, "extra"),
        (br#"{"keys": [{"digest": "sha256:00", "client": "a"}]}"#, "keys[0].digest"),
        (br#"{"keys": [{"client": "a"}]}"#, "keys[0].digest"),
    ] {
        let e = <KeyTable as Document>::parse(body, &r).expect_err("refused");
        assert!(e.contains(needle), "{e}");
    }
}
