//! The DPoP replay set shared by every worker VM of the Envoy process.
//!
//! A proof replayed to another worker thread must be refused too, so proof ids live in
//! proxy-wasm shared data, not in one VM's memory. The core decides what a bucket holds
//! (`jwtgate_core::bucket_add`: bounded, expiring, "full" refuses); this file only reads
//! a bucket and writes it back with a compare-and-swap, retrying when another VM wrote
//! it in between. Buckets are created when the configuration loads, so a request
//! never has to create one (shared data has no create-if-absent; two VMs creating the
//! same bucket at once could erase an entry).

use crate::host;
use jwtgate_core::{bucket_add, bucket_count, BucketUpdate, Replay, ReplayId, ReplayStore};
use proxy_wasm::hostcalls;
use proxy_wasm::types::LogLevel;

/// Compare-and-swap attempts before a busy bucket counts as full (503, never allow).
const CAS_ATTEMPTS: usize = 4;

pub struct SharedReplay {
    /// `jwtgate.dpop.replay.<buckets>.`: the count is part of the name, so a config with
    /// another size never reads buckets laid out for this one.
    prefix: String,
    buckets: usize,
}

impl SharedReplay {
    /// Creates the buckets that do not exist yet (another VM may have made them).
    pub fn open(cache_size: usize) -> SharedReplay {
        let buckets = bucket_count(cache_size);
        let store = SharedReplay { prefix: format!("jwtgate.dpop.replay.{buckets}."), buckets };
        for i in 0..buckets {
            let key = store.key(i);
            if matches!(hostcalls::get_shared_data(&key), Ok((None, _))) {
                let _ = hostcalls::set_shared_data(&key, Some(&[]), None);
            }
        }
        store
    }

    fn key(&self, bucket: usize) -> String {
        format!("{}{bucket}", self.prefix)
    }
}

impl ReplayStore for SharedReplay {
    fn admit(&mut self, id: ReplayId, expires_ms: u64, now_ms: u64) -> Replay {
        let key = self.key(id.bucket(self.buckets));
        for _ in 0..CAS_ATTEMPTS {
            // A missing bucket or CAS value cannot be written safely: fail closed.
            let Ok((value, Some(cas))) = hostcalls::get_shared_data(&key) else { break };
            match bucket_add(value.as_deref().unwrap_or_default(), id, expires_ms, now_ms) {
                BucketUpdate::Seen => return Replay::Seen,
                BucketUpdate::Full => return Replay::Full,
                BucketUpdate::Fresh(bytes) => {
                    if hostcalls::set_shared_data(&key, Some(&bytes), Some(cas)).is_ok() {
                        return Replay::Fresh;
                    }
                }
            }
        }
        host::log(LogLevel::Warn, "jwtgate: DPoP replay bucket could not be updated; refusing the proof (503)");
        Replay::Full
    }
}

#[cfg(test)]
#[path = "replay_tests.rs"]
mod tests;
