//! Remembering DPoP proof `jti`s so each proof is accepted once within its window.
//!
//! The set is bounded: ids hash into a fixed number of buckets of [`BUCKET_SLOTS`]
//! entries, and an entry stays until its expiry. A bucket whose slots are all live
//! refuses the new proof as [`Replay::Full`] (503), never allows it: a full cache must
//! not turn into "replays accepted". The bucket format is bytes so the same code serves
//! the in-core store (one isolate, one VM) and Envoy's process-wide store, which keeps
//! each bucket in proxy-wasm shared data and writes it with a compare-and-swap.

use sha2::{Digest, Sha256};

/// Entries per bucket.
pub const BUCKET_SLOTS: usize = 8;
/// One entry: 16 bytes of id, 8 bytes of expiry (ms, big-endian).
const ENTRY: usize = 24;

/// A proof's identity in the replay set: SHA-256 of its key's thumbprint and its `jti`
/// (RFC 9449 §11.1: a `jti` is unique per key), truncated to 128 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplayId(pub [u8; 16]);

impl ReplayId {
    pub fn new(jkt: &str, jti: &str) -> ReplayId {
        let d = Sha256::new().chain_update(jkt).chain_update([0]).chain_update(jti).finalize();
        let mut id = [0; 16];
        id.copy_from_slice(&d[..16]);
        ReplayId(id)
    }

    /// Which of `buckets` this id lives in.
    pub fn bucket(&self, buckets: usize) -> usize {
        let mut n = [0; 8];
        n.copy_from_slice(&self.0[..8]);
        (u64::from_be_bytes(n) % buckets.max(1) as u64) as usize
    }
}

/// What the replay set says about a proof.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Replay {
    /// First use: recorded, go on.
    Fresh,
    /// Seen within its window: refuse (401).
    Seen,
    /// No room, or the shared store could not be updated: refuse with 503.
    Full,
}

/// Where a gate records proof ids. The core's [`MemoryReplay`] is the default; Envoy
/// installs one backed by shared data so that every worker VM of the process sees
/// every proof.
pub trait ReplayStore {
    /// Records `id` until `expires_ms` unless it is already there (`Seen`) or there is
    /// no room (`Full`).
    fn admit(&mut self, id: ReplayId, expires_ms: u64, now_ms: u64) -> Replay;
}

/// A bucket after trying to add `id`: `Fresh(new bytes)` to store, or why not.
#[derive(Debug, PartialEq, Eq)]
pub enum BucketUpdate {
    Fresh(Vec<u8>),
    Seen,
    Full,
}

/// Adds `id` to the encoded bucket `current`, dropping expired entries on the way. Bytes
/// of the wrong length (a foreign or torn value) count as an empty bucket: the worst
/// case is one forgotten window of ids, never a refused first use.
pub fn bucket_add(current: &[u8], id: ReplayId, expires_ms: u64, now_ms: u64) -> BucketUpdate {
    let live: Vec<&[u8]> = if current.len().is_multiple_of(ENTRY) && current.len() <= ENTRY * BUCKET_SLOTS {
        current.chunks_exact(ENTRY).filter(|e| expiry(e) > now_ms).collect()
    } else {
        Vec::new()
    };
    if live.iter().any(|e| e[..16] == id.0) {
        return BucketUpdate::Seen;
    }
    if live.len() >= BUCKET_SLOTS {
        return BucketUpdate::Full;
    }
    let mut out = Vec::with_capacity((live.len() + 1) * ENTRY);
    live.iter().for_each(|e| out.extend_from_slice(e));
    out.extend_from_slice(&id.0);
    out.extend_from_slice(&expires_ms.to_be_bytes());
    BucketUpdate::Fresh(out)
}

fn expiry(entry: &[u8]) -> u64 {
    let mut b = [0; 8];
    b.copy_from_slice(&entry[16..24]);
    u64::from_be_bytes(b)
}

/// Buckets for a cache of `size` entries.
pub fn bucket_count(size: usize) -> usize {
    size.div_ceil(BUCKET_SLOTS).max(1)
}

/// The replay set of one gate (one edge isolate, or an Envoy VM without shared data).
/// Its buckets are allocated on the first proof, so gates without DPoP pay nothing.
pub struct MemoryReplay {
    size: usize,
    buckets: Vec<Vec<u8>>,
}

impl MemoryReplay {
    pub fn new(size: usize) -> MemoryReplay {
        MemoryReplay { size, buckets: Vec::new() }
    }
}

impl ReplayStore for MemoryReplay {
    fn admit(&mut self, id: ReplayId, expires_ms: u64, now_ms: u64) -> Replay {
        if self.buckets.is_empty() {
            self.buckets = vec![Vec::new(); bucket_count(self.size)];
        }
        let n = self.buckets.len();
        let Some(bucket) = self.buckets.get_mut(id.bucket(n)) else { return Replay::Full };
        match bucket_add(bucket, id, expires_ms, now_ms) {
            BucketUpdate::Fresh(bytes) => {
                *bucket = bytes;
                Replay::Fresh
            }
            BucketUpdate::Seen => Replay::Seen,
            BucketUpdate::Full => Replay::Full,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> ReplayId {
        ReplayId([n; 16])
    }

    #[test]
    fn a_proof_is_accepted_once_until_it_expires() {
        let mut r = MemoryReplay::new(64);
        assert_eq!(r.admit(id(1), 1000, 0), Replay::Fresh);
        assert_eq!(r.admit(id(1), 1000, 999), Replay::Seen);
        assert_eq!(r.admit(id(2), 1000, 999), Replay::Fresh);
        assert_eq!(r.admit(id(1), 2000, 1000), Replay::Fresh, "expired entries make room");
    }

    #[test]
    fn a_full_bucket_refuses_and_never_forgets_a_live_id() {
        let mut r = MemoryReplay::new(1);
        for n in 0..BUCKET_SLOTS as u8 {
            assert_eq!(r.admit(id(n), 100, 0), Replay::Fresh);
        }
        assert_eq!(r.admit(id(200), 100, 0), Replay::Full);
        for n in 0..BUCKET_SLOTS as u8 {
            assert_eq!(r.admit(id(n), 100, 50), Replay::Seen, "still remembered when full");
        }
        assert_eq!(r.admit(id(200), 200, 100), Replay::Fresh, "room once they expire");
    }

    #[test]
    fn ids_bind_the_key_and_the_jti() {
        assert_ne!(ReplayId::new("k1", "j"), ReplayId::new("k2", "j"));
        assert_ne!(ReplayId::new("k", "1j"), ReplayId::new("k1", "j"));
        assert_eq!(ReplayId::new("k", "j"), ReplayId::new("k", "j"));
    }

    #[test]
    fn a_torn_bucket_reads_as_empty() {
        assert!(matches!(bucket_add(&[1, 2, 3], id(1), 10, 0), BucketUpdate::Fresh(b) if b.len() == ENTRY));
        assert_eq!(bucket_count(0), 1);
        assert_eq!(bucket_count(17), 3);
    }
}
