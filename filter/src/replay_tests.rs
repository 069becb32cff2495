use super::*;
use crate::mock_host::with;

fn id(n: u8) -> ReplayId {
    ReplayId([n; 16])
}

#[test]
fn two_vms_share_one_replay_set() {
    // Two stores over the same shared data stand for two worker VMs of one process.
    let mut vm1 = SharedReplay::open(64);
    let mut vm2 = SharedReplay::open(64);
    assert_eq!(vm1.admit(id(1), 10_000, 0), Replay::Fresh);
    assert_eq!(vm2.admit(id(1), 10_000, 5), Replay::Seen, "a replay to another worker is refused");
    assert_eq!(vm2.admit(id(2), 10_000, 5), Replay::Fresh);
    assert_eq!(vm1.admit(id(2), 10_000, 6), Replay::Seen);
    assert_eq!(vm1.admit(id(1), 20_000, 10_000), Replay::Fresh, "expired ids make room");
}

#[test]
fn buckets_exist_before_any_request_and_opening_again_keeps_them() {
    let mut vm1 = SharedReplay::open(16);
    assert_eq!(with(|h| h.shared.keys().filter(|k| k.starts_with("jwtgate.dpop.replay.2.")).count()), 2);
    assert_eq!(vm1.admit(id(3), 10_000, 0), Replay::Fresh);
    let mut vm2 = SharedReplay::open(16);
    assert_eq!(vm2.admit(id(3), 10_000, 1), Replay::Seen, "a later VM does not wipe the buckets");
}

#[test]
fn a_full_or_unwritable_bucket_refuses() {
    let mut store = SharedReplay::open(8);
    for n in 0..8 {
        assert_eq!(store.admit(id(n), 10_000, 0), Replay::Fresh);
    }
    assert_eq!(store.admit(id(99), 10_000, 0), Replay::Full);
    let mut lost = SharedReplay::open(64);
    with(|h| h.cas_loses_on = Some("jwtgate.dpop.replay.".into()));
    assert_eq!(lost.admit(id(42), 10_000, 0), Replay::Full, "another VM always wins the write: 503, never allow");
    assert!(with(|h| h.logged("replay bucket could not be updated")));
    with(|h| h.shared.clear());
    assert_eq!(lost.admit(id(43), 10_000, 0), Replay::Full, "a missing bucket is never created on the request path");
}
