use super::*;

const A: TokenDigest = [7; 32];
const B: TokenDigest = [9; 32];

fn answer(until_ms: u64) -> SharedRecord {
    SharedRecord::Answer {
        digest: A,
        answered_at_ms: 1_000,
        until_ms,
        status: 200,
        body: br#"{"active":true}"#.to_vec(),
    }
}

#[test]
fn records_round_trip_and_garbage_is_no_record() {
    for r in [answer(3_000), SharedRecord::Pending { digest: B, until_ms: 42 }] {
        assert_eq!(SharedRecord::decode(&r.encode()), Some(r));
    }
    assert_eq!(SharedRecord::decode(&[]), None, "an empty (cleared) slot");
    assert_eq!(SharedRecord::decode(&[1, 2, 3]), None);
    let mut pending = SharedRecord::Pending { digest: A, until_ms: 1 }.encode();
    pending.push(0);
    assert_eq!(SharedRecord::decode(&pending), None, "a pending marker has a fixed size");
}

#[test]
fn a_fresh_answer_for_the_same_token_is_adopted_with_its_own_date() {
    let r = answer(3_000);
    let body: &[u8] = br#"{"active":true}"#;
    assert_eq!(r.lookup(&A, 2_999), SharedLookup::Adopt { answered_at_ms: 1_000, status: 200, body });
    assert_eq!(r.lookup(&A, 3_000), SharedLookup::Call, "expired: ask again");
    assert_eq!(r.lookup(&B, 2_000), SharedLookup::Call, "another token in the slot: a miss");
}

#[test]
fn a_pending_marker_holds_other_vms_until_its_lease_ends() {
    let r = SharedRecord::Pending { digest: A, until_ms: 5_000 };
    assert_eq!(r.lookup(&A, 4_000), SharedLookup::Wait { until_ms: 5_000 });
    assert_eq!(r.lookup(&A, 5_000), SharedLookup::Call, "a lost call does not block forever");
    assert_eq!(r.lookup(&B, 4_000), SharedLookup::Call);
}

#[test]
fn the_slot_depends_on_the_digest_only_and_stays_in_range() {
    let mut d = [0u8; 32];
    for i in 0..200u8 {
        d[0] = i;
        d[5] = i.wrapping_mul(31);
        assert!(SharedRecord::index(&d, 7) < 7);
        assert_eq!(SharedRecord::index(&d, 7), SharedRecord::index(&d, 7));
    }
    assert_eq!(SharedRecord::index(&A, 1), 0);
}
