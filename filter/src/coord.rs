//! One JWKS fetch per Envoy process, not one per VM.
//!
//! Envoy runs a VM per worker thread (plus one on the main thread); each would fetch
//! the JWKS on its own (envoy#13708). VMs of one plugin share proxy-wasm shared data, so:
//! - a lease (compare-and-swap on `<prefix>/lease`) picks the one VM that fetches;
//! - the fetcher publishes the outcome under `<prefix>/result` with a generation number;
//! - every VM feeds each new generation into its own core, exactly as if it had fetched.
//!
//! The core stays unaware: it asks for fetches, and this module decides whether this VM
//! dispatches one, waits for the lease holder, or reuses a result published moments ago.

use jwtgate_core::FetchResult;
use proxy_wasm::hostcalls;

/// A fetch outcome as published in shared data.
pub struct Published {
    pub generation: u64,
    /// When the fetch started (not when it completed).
    pub fetched_at_ms: u64,
    /// Fetched because a token named an unknown kid (the process-wide cooldown).
    pub kid_triggered: bool,
    pub status: Option<u16>,
    pub max_age_s: Option<u64>,
    pub body: Vec<u8>,
}

impl Published {
    pub fn as_result(&self) -> FetchResult<'_> {
        FetchResult { status: self.status, body: &self.body, max_age_s: self.max_age_s }
    }

    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200) | Some(304))
    }

    fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(27 + self.body.len());
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.fetched_at_ms.to_le_bytes());
        out.extend_from_slice(&self.status.unwrap_or(0).to_le_bytes());
        out.extend_from_slice(&self.max_age_s.unwrap_or(u64::MAX).to_le_bytes());
        out.push(u8::from(self.kid_triggered));
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Published> {
        let u64_at = |i: usize| bytes.get(i..i + 8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes);
        let status = bytes.get(16..18).and_then(|b| b.try_into().ok()).map(u16::from_le_bytes)?;
        let max_age = u64_at(18)?;
        Some(Published {
            generation: u64_at(0)?,
            fetched_at_ms: u64_at(8)?,
            status: (status != 0).then_some(status),
            max_age_s: (max_age != u64::MAX).then_some(max_age),
            kid_triggered: *bytes.get(26)? == 1,
            body: bytes.get(27..)?.to_vec(),
        })
    }
}

/// Shared-data keys of one provider's JWKS.
pub struct Channel {
    lease_key: String,
    result_key: String,
}

impl Channel {
    /// Keys are scoped by provider name and source, so two plugins with different
    /// configs never read each other's key sets.
    pub fn new(provider: &str, cluster: &str, path: &str) -> Channel {
        let prefix = format!("jwtgate/{provider}/{cluster}{path}");
        let ch = Channel { lease_key: format!("{prefix}/lease"), result_key: format!("{prefix}/result") };
        // Create the lease so later acquisitions can compare-and-swap on a real version.
        if matches!(hostcalls::get_shared_data(&ch.lease_key), Ok((None, _))) {
            let _ = hostcalls::set_shared_data(&ch.lease_key, Some(&0u64.to_le_bytes()), None);
        }
        ch
    }

    pub fn latest(&self) -> Option<Published> {
        match hostcalls::get_shared_data(&self.result_key) {
            Ok((Some(bytes), _)) => Published::decode(&bytes),
            _ => None,
        }
    }

    /// Takes the fetch lease until `until_ms` if nobody holds it. Compare-and-swap makes
    /// two VMs racing for an expired lease agree on one winner.
    pub fn try_lease(&self, now_ms: u64, until_ms: u64) -> bool {
        let Ok((Some(value), Some(cas))) = hostcalls::get_shared_data(&self.lease_key) else { return false };
        let held_until = value.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes);
        if held_until > now_ms {
            return false;
        }
        hostcalls::set_shared_data(&self.lease_key, Some(&until_ms.to_le_bytes()), Some(cas)).is_ok()
    }

    pub fn release(&self) {
        let _ = hostcalls::set_shared_data(&self.lease_key, Some(&0u64.to_le_bytes()), None);
    }

    /// Publishes an outcome as the next generation; returns that generation.
    pub fn publish(&self, started_ms: u64, r: &FetchResult<'_>, kid_triggered: bool) -> u64 {
        for _ in 0..8 {
            let (current, cas) = match hostcalls::get_shared_data(&self.result_key) {
                Ok((bytes, cas)) => (bytes.as_deref().and_then(Published::decode), cas),
                Err(_) => (None, None),
            };
            let next = Published {
                generation: current.map_or(1, |c| c.generation + 1),
                fetched_at_ms: started_ms,
                kid_triggered,
                status: r.status,
                max_age_s: r.max_age_s,
                body: r.body.to_vec(),
            };
            if hostcalls::set_shared_data(&self.result_key, Some(&next.encode()), cas).is_ok() {
                return next.generation;
            }
        }
        0
    }
}

#[cfg(test)]
#[path = "coord_tests.rs"]
mod tests;
