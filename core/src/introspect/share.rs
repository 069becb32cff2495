//! Introspection answers shared by the VMs of one Envoy process (`shared_cache_size`).
//!
//! Every Envoy worker thread runs its own VM with its own [`super::Introspector`], so
//! without sharing each VM asks the IdP once per token. The host keeps a direct-mapped
//! table in proxy-wasm shared data: slot `index(digest)` holds one [`SharedRecord`],
//! either the IdP's raw answer (status and body, re-checked by each VM's own claim
//! checks, exactly as if it had made the call) or a pending marker with a short lease
//! (single-flight across VMs). A record names the token by its SHA-256 only; the token
//! itself is never stored. A full table evicts by replacement: a record for another
//! digest in the slot is a miss. This module is the record format and the decision; the
//! host does the shared-data I/O.

use super::{Entry, Introspector};
use crate::cache::TokenDigest;

/// One slot's content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SharedRecord {
    /// A VM is asking the IdP about `digest` until `until_ms` (then the lease is void).
    Pending { digest: TokenDigest, until_ms: u64 },
    /// The IdP's answer about `digest`, usable by other VMs until `until_ms` (the
    /// answering VM's cache TTL); `answered_at_ms` dates it (its TTL runs from there).
    Answer { digest: TokenDigest, answered_at_ms: u64, until_ms: u64, status: u16, body: Vec<u8> },
}

/// What a VM about to ask the IdP should do, given the slot's record.
#[derive(Debug, PartialEq, Eq)]
pub enum SharedLookup<'a> {
    /// Another VM's answer, still fresh: apply it instead of calling.
    Adopt { answered_at_ms: u64, status: u16, body: &'a [u8] },
    /// Another VM is asking: wait for its answer until the lease ends.
    Wait { until_ms: u64 },
    /// Nothing usable: take the lease and call.
    Call,
}

const PENDING: u8 = 1;
const ANSWER: u8 = 2;

impl SharedRecord {
    /// The table slot of `digest` among `slots` (> 0).
    pub fn index(digest: &TokenDigest, slots: usize) -> usize {
        let mut head = [0u8; 8];
        head.copy_from_slice(&digest[..8]);
        (u64::from_le_bytes(head) % slots.max(1) as u64) as usize
    }

    /// Tag, digest, times as little-endian u64, then (answers) status and body.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        match self {
            SharedRecord::Pending { digest, until_ms } => {
                out.push(PENDING);
                out.extend_from_slice(digest);
                out.extend_from_slice(&until_ms.to_le_bytes());
            }
            SharedRecord::Answer { digest, answered_at_ms, until_ms, status, body } => {
                out.push(ANSWER);
                out.extend_from_slice(digest);
                out.extend_from_slice(&answered_at_ms.to_le_bytes());
                out.extend_from_slice(&until_ms.to_le_bytes());
                out.extend_from_slice(&status.to_le_bytes());
                out.extend_from_slice(body);
            }
        }
        out
    }

    /// `None` for an empty slot or bytes this version did not write.
    pub fn decode(bytes: &[u8]) -> Option<SharedRecord> {
        let (&tag, rest) = bytes.split_first()?;
        let digest: TokenDigest = rest.get(..32)?.try_into().ok()?;
        let u64_at = |at: usize| rest.get(at..at + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        match tag {
            PENDING if rest.len() == 40 => Some(SharedRecord::Pending { digest, until_ms: u64_at(32)? }),
            ANSWER => Some(SharedRecord::Answer {
                digest,
                answered_at_ms: u64_at(32)?,
                until_ms: u64_at(40)?,
                status: u16::from_le_bytes(rest.get(48..50)?.try_into().ok()?),
                body: rest.get(50..)?.to_vec(),
            }),
            _ => None,
        }
    }

    /// What a VM about to ask about `digest` at `now_ms` does with this record.
    pub fn lookup(&self, digest: &TokenDigest, now_ms: u64) -> SharedLookup<'_> {
        match self {
            SharedRecord::Answer { digest: d, answered_at_ms, until_ms, status, body }
                if d == digest && now_ms < *until_ms =>
            {
                SharedLookup::Adopt { answered_at_ms: *answered_at_ms, status: *status, body }
            }
            SharedRecord::Pending { digest: d, until_ms } if d == digest && now_ms < *until_ms => {
                SharedLookup::Wait { until_ms: *until_ms }
            }
            _ => SharedLookup::Call,
        }
    }
}

impl Introspector {
    /// The token digest of call `slot` while it waits for its answer: the host's table key.
    pub fn pending_digest(&self, slot: u64) -> Option<TokenDigest> {
        self.slots.get(&slot).copied()
    }

    /// Until when the answer cached about `digest` is reused (active or refused): what
    /// the host publishes with it. `None` for a failed call (not shared: each VM retries).
    pub fn answer_until_ms(&self, digest: &TokenDigest) -> Option<u64> {
        match self.entries.get(digest)? {
            Entry::Active { until_ms, .. } | Entry::Refused { until_ms, .. } => Some(*until_ms),
            Entry::Pending(_) | Entry::Failed { .. } => None,
        }
    }

    /// How long another VM waits on this one's call before asking itself: the call's
    /// timeout and a second (the same grace the cache gives a lost call).
    pub fn lease_ms(&self) -> u64 {
        self.config.timeout_ms + 1000
    }
}

#[cfg(test)]
#[path = "share_tests.rs"]
mod tests;
