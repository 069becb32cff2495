use super::*;

fn record(status: Option<u16>, body: &[u8]) -> Published {
    Published {
        generation: 7,
        identity: "[\"idp\",\"a.example\"]".into(),
        sent_at_ms: 1234,
        kid_triggered: true,
        status,
        max_age_s: Some(60),
        etag: Some("\"v1\"".into()),
        last_modified: Some("Tue, 01 Dec 2026 10:00:00 GMT".into()),
        sent_etag: None,
        sent_last_modified: None,
        body: body.to_vec(),
    }
}

#[test]
fn published_results_round_trip() {
    let p = record(Some(200), b"{}\n\xff binary \n");
    assert_eq!(Published::decode(&p.encode()), Some(p));
    let none = Published {
        status: None,
        max_age_s: None,
        etag: None,
        last_modified: None,
        kid_triggered: false,
        sent_etag: Some("\"v0\"".into()),
        ..record(None, b"")
    };
    assert_eq!(Published::decode(&none.encode()), Some(none));
    assert!(Published::decode(&[1, 2, 3]).is_none());
    assert!(Published::decode(b"{\"generation\":1}\n").is_none(), "a record without its identity is no record");
}

#[test]
fn a_record_converts_back_to_the_fetch_result_it_was_made_from() {
    let p = record(Some(200), b"{}");
    let r = p.as_result();
    assert_eq!((r.sent_at_ms, r.status, r.body, r.max_age_s), (1234, Some(200), &b"{}"[..], Some(60)));
    assert_eq!(r.validators.etag, Some("\"v1\""));
    assert!(r.sent.is_empty());
}

#[test]
fn a_confirming_304_is_published_as_the_confirmed_document_re_dated() {
    let prev = record(Some(200), b"{\"keys\":[]}");
    let sent = Validators { etag: Some("\"v1\""), last_modified: None };
    let r = FetchResult { sent, ..FetchResult::response(9999, 304, b"") };
    let next = Published::of(8, &prev.identity, &r, false, Some(&prev));
    assert_eq!((next.generation, next.status, next.sent_at_ms), (8, Some(200), 9999));
    assert_eq!(next.body, prev.body);
    assert!(next.as_result().sent.is_empty(), "adopters see the document, not a 304");
    // Not confirming (other ETag), unsolicited, or after a failure: published as it came.
    let other = Validators { etag: Some("\"v0\""), last_modified: None };
    let r = FetchResult { sent: other, ..FetchResult::response(9999, 304, b"") };
    assert_eq!(Published::of(8, &prev.identity, &r, false, Some(&prev)).status, Some(304));
    let r = FetchResult::response(9999, 304, b"");
    assert_eq!(Published::of(8, &prev.identity, &r, false, Some(&prev)).status, Some(304));
    let failed = record(Some(500), b"");
    let r = FetchResult { sent, ..FetchResult::response(9999, 304, b"") };
    assert_eq!(Published::of(8, &prev.identity, &r, false, Some(&failed)).status, Some(304));
}
