use super::*;
use crate::fetched::{FetchEvent, FetchResult, Fetched, Status, Validators};
use serde_json::{json, Value};

const ISS: &str = "https://idp.example";

fn cx() -> FeedContext {
    FeedContext { issuer: ISS.into() }
}

fn body(v: Value) -> Vec<u8> {
    v.to_string().into_bytes()
}

fn full_doc(version: u64, entries: Value) -> Vec<u8> {
    body(json!({"version": version, "generated_at": 1000 + version, "kind": "full", "issuer": ISS,
                "entries": entries, "next": format!("v{version}")}))
}

fn delta_doc(base: u64, version: u64, entries: Value) -> Vec<u8> {
    body(json!({"version": version, "generated_at": 1000 + version, "kind": "delta", "base": base,
                "entries": entries, "next": format!("v{version}")}))
}

fn ids(jti: &str) -> crate::revocation::TokenIds {
    crate::revocation::TokenIds { jti: Some(jti.into()), ..Default::default() }
}

#[test]
fn a_full_document_loads_and_skips_other_issuers() {
    let doc = FeedDoc::parse(
        &full_doc(3, json!([{"jti": "a", "exp": 50}, {"jti": "b", "exp": 50, "iss": "https://other"}])),
        &cx(),
    )
    .unwrap();
    assert_eq!((doc.version, doc.list.len(), doc.next.as_deref()), (3, 1, Some("v3")));
    let s = doc.summary();
    assert_eq!((s.kind, s.added, s.skipped, s.entries), (FeedKind::Full, 1, 1, 1));
    assert!(s.to_string().contains("version 3"), "{s}");
    assert!(doc.list.matches(&ids("a"), 1, 0).is_some());
    assert!(doc.list.matches(&ids("b"), 1, 0).is_none());
}

#[test]
fn a_document_issuer_other_than_the_providers_skips_its_entries() {
    let b = body(json!({"version": 1, "generated_at": 1, "kind": "full", "issuer": "https://other",
                        "entries": [{"jti": "a", "exp": 50}, {"jti": "c", "exp": 50, "iss": ISS}]}));
    let doc = FeedDoc::parse(&b, &cx()).unwrap();
    assert_eq!((doc.list.len(), doc.summary().skipped), (1, 1));
    assert!(doc.list.matches(&ids("c"), 1, 0).is_some());
}

#[test]
fn a_delta_applies_to_its_base_only_and_a_refused_one_changes_nothing() {
    let mut held = FeedDoc::parse(&full_doc(3, json!([{"jti": "a", "exp": 50}])), &cx()).unwrap();
    let before = held.clone();
    let gap = FeedDoc::parse_after(Some(&mut held), &delta_doc(2, 4, json!([{"jti": "x", "exp": 50}])), &cx());
    assert!(gap.unwrap_err().contains("does not apply"));
    assert_eq!(held, before, "a refused delta leaves the held list as it was");
    let bad_entry = FeedDoc::parse_after(Some(&mut held), &delta_doc(3, 4, json!([{"jti": "x"}])), &cx());
    assert!(bad_entry.unwrap_err().contains("entries[0].exp"));
    assert_eq!(held, before);
    let r = FeedDoc::parse_after(Some(&mut held), &delta_doc(3, 5, json!([{"sid": "s", "exp": 50}])), &cx());
    assert!(r.unwrap().is_none(), "applied in place");
    assert_eq!((held.version, held.list.len(), held.next.as_deref()), (5, 2, Some("v5")));
    assert_eq!(held.summary().kind, FeedKind::Delta);
    assert!(FeedDoc::parse(&delta_doc(3, 5, json!([])), &cx()).is_err(), "a delta needs a held list");
}

#[test]
fn versions_only_go_forward() {
    let mut held = FeedDoc::parse(&full_doc(7, json!([{"jti": "a", "exp": 50}])), &cx()).unwrap();
    let back = FeedDoc::parse_after(Some(&mut held), &full_doc(6, json!([])), &cx()).unwrap_err();
    assert!(back.contains("goes back"), "{back}");
    let same = FeedDoc::parse_after(Some(&mut held), &full_doc(7, json!([])), &cx()).unwrap_err();
    assert!(same.contains("other content"), "{same}");
    let d = FeedDoc::parse_after(Some(&mut held), &delta_doc(7, 6, json!([])), &cx()).unwrap_err();
    assert!(d.contains("goes back"), "{d}");
    assert_eq!(held.version, 7);
    let newer = FeedDoc::parse_after(Some(&mut held), &full_doc(8, json!([])), &cx()).unwrap().unwrap();
    assert_eq!((newer.version, newer.list.len()), (8, 0), "a full list replaces, entries are not merged");
}

#[test]
fn malformed_documents_are_refused_with_a_reason() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (b"not json".to_vec(), "JSON"),
        (b"[]".to_vec(), "JSON"),
        (b"{\"version\":1,\"version\":2}".to_vec(), "duplicate"),
        (body(json!({"generated_at": 1, "kind": "full", "entries": []})), "version"),
        (body(json!({"version": 1, "kind": "full", "entries": []})), "generated_at"),
        (body(json!({"version": 1, "generated_at": 1, "kind": "all", "entries": []})), "kind"),
        (body(json!({"version": -1, "generated_at": 1, "kind": "full", "entries": []})), "version"),
        (body(json!({"version": 1, "generated_at": 1, "kind": "full"})), "entries"),
        (body(json!({"version": 1, "generated_at": 1, "kind": "full", "base": 0, "entries": []})), "base"),
        (body(json!({"version": 1, "generated_at": 1, "kind": "full", "entries": [], "extra": 1})), "extra"),
        (body(json!({"version": 1, "generated_at": 1, "kind": "full", "entries": [], "next": "a b"})), "next"),
        (body(json!({"version": 1, "generated_at": 1, "kind": "full", "entries": [], "next": "a&x=1"})), "next"),
        (body(json!({"version": 1, "generated_at": 1, "kind": "full", "entries": [], "issuer": 3})), "issuer"),
        (
            body(json!({"version": 1, "generated_at": 1, "kind": "full", "entries": [{"jti": "a", "exp": 1, "x": 1}]})),
            "x",
        ),
    ];
    for (b, word) in cases {
        let e = FeedDoc::parse(&b, &cx()).unwrap_err();
        assert!(e.contains(word), "{e:?} should mention {word}");
    }
}

#[test]
fn the_cursor_goes_into_the_path_as_since() {
    let doc = FeedDoc::parse(&full_doc(3, json!([])), &cx()).unwrap();
    assert_eq!(doc.request_path("/revocations"), "/revocations?since=v3");
    assert_eq!(doc.request_path("/r?issuer=x"), "/r?issuer=x&since=v3");
    let no_cursor = body(json!({"version": 1, "generated_at": 1, "kind": "full", "entries": []}));
    assert_eq!(FeedDoc::parse(&no_cursor, &cx()).unwrap().request_path("/r"), "/r");
}

fn machine() -> Fetched<FeedDoc> {
    Fetched::new(crate::fetched::DocId::revocation(0), crate::test_support::feed_remote(15, 2048), cx(), 7)
}

fn held_version(m: &Fetched<FeedDoc>) -> Option<u64> {
    m.document().map(|d| d.version)
}

#[test]
fn on_the_machine_a_rollback_garbage_or_oversized_body_keeps_the_last_good_list() {
    let mut m = machine();
    assert!(m.poll(0).is_some());
    let good = full_doc(5, json!([{"jti": "a", "exp": 50}]));
    assert!(matches!(m.on_fetch_result(0, FetchResult::response(0, 200, &good)), FetchEvent::Loaded(_)));
    let big = full_doc(9, json!([{"jti": "x".repeat(1000), "exp": 50}, {"jti": "y".repeat(1000), "exp": 50}]));
    let bodies: [&[u8]; 3] = [&full_doc(4, json!([])), b"<html>oops</html>", &big];
    for (i, b) in bodies.into_iter().enumerate() {
        let t = 1000 * (i as u64 + 1);
        let event = m.on_fetch_result(t, FetchResult::response(t, 200, b));
        assert!(matches!(event, FetchEvent::Failed { have_last_good: true, .. }), "{event:?}");
        assert_eq!(held_version(&m), Some(5));
        assert!(m.usable(t).is_some_and(|d| d.list.matches(&ids("a"), 1, 0).is_some()));
    }
    // Past the bound counted from the last good fetch: unusable, and not refreshable.
    assert!(m.usable(15_000).is_some());
    assert_eq!(m.status(15_001), Status::Stale { refreshable: false });
    assert!(m.usable(15_001).is_none());
}

#[test]
fn on_the_machine_a_delta_is_asked_for_only_after_a_success() {
    let mut m = machine();
    assert_eq!(m.poll(0).map(|r| r.path), Some("/revocations".into()));
    m.on_fetch_result(0, FetchResult::response(0, 200, &full_doc(1, json!([{"jti": "a", "exp": 50}]))));
    let r = m.poll(10_000).expect("scheduled refresh");
    assert_eq!(r.path, "/revocations?since=v1");
    assert_eq!(r.uri.as_deref(), Some("https://idp.example/revocations?since=v1"), "the edge fetches the URL");
    let event = m.on_fetch_result(
        10_000,
        FetchResult::response(10_000, 200, &delta_doc(1, 2, json!([{"jti": "b", "exp": 50}]))),
    );
    assert!(matches!(&event, FetchEvent::Loaded(c) if c.kind == FeedKind::Delta && c.entries == 2), "{event:?}");
    let gen = m.generation();
    let r = m.poll(20_000).expect("scheduled refresh");
    assert_eq!(r.path, "/revocations?since=v2");
    // A delta from the wrong base fails the fetch; the retry asks for the whole list.
    m.on_fetch_result(20_000, FetchResult::response(20_000, 200, &delta_doc(1, 3, json!([]))));
    assert_eq!(m.generation(), gen);
    let r = m.poll(22_000).expect("retry");
    assert_eq!((r.path.as_str(), r.uri.as_deref()), ("/revocations", Some("https://idp.example/revocations")));
    m.on_fetch_result(22_000, FetchResult::response(22_000, 200, &full_doc(3, json!([{"jti": "b", "exp": 50}]))));
    assert_eq!(m.document().map(|d| (d.version, d.list.len())), Some((3, 1)));
}

#[test]
fn on_the_machine_a_304_to_the_held_etag_renews_the_list() {
    let mut m = machine();
    m.poll(0);
    let b = full_doc(1, json!([]));
    let mut r = FetchResult::response(0, 200, &b);
    r.validators = Validators { etag: Some("\"v1\""), last_modified: None };
    m.on_fetch_result(0, r);
    let req = m.poll(10_000).expect("refresh");
    assert_eq!(req.if_none_match.as_deref(), Some("\"v1\""));
    let mut r = FetchResult::response(10_000, 304, b"");
    r.sent = req.sent();
    assert_eq!(m.on_fetch_result(10_000, r), FetchEvent::Unchanged);
    assert!(m.usable(24_000).is_some(), "the bound now counts from the 304's fetch");
}
