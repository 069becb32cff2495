use super::*;

#[test]
fn published_results_round_trip() {
    let p = Published {
        generation: 7,
        fetched_at_ms: 1234,
        kid_triggered: true,
        status: Some(200),
        max_age_s: Some(60),
        body: b"{}".to_vec(),
    };
    let q = Published::decode(&p.encode()).expect("decodes");
    assert_eq!(
        (q.generation, q.fetched_at_ms, q.status, q.max_age_s, q.body),
        (7, 1234, Some(200), Some(60), b"{}".to_vec())
    );
    assert!(q.kid_triggered);
    let none = Published {
        generation: 1,
        fetched_at_ms: 0,
        kid_triggered: false,
        status: None,
        max_age_s: None,
        body: vec![],
    };
    let back = Published::decode(&none.encode()).expect("decodes");
    assert_eq!((back.status, back.max_age_s), (None, None));
    assert!(Published::decode(&[1, 2, 3]).is_none());
}
