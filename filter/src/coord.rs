//! One fetch per document per Envoy process, not one per VM.
//!
//! Envoy runs a VM per worker thread (plus one on the main thread); each would fetch
//! the JWKS on its own (envoy#13708). VMs of one plugin share proxy-wasm shared data, so:
//! - a lease (compare-and-swap on `<prefix>/lease`) picks the one VM that fetches;
//! - the fetcher publishes the outcome under `<prefix>/result` with a generation number;
//! - every VM feeds each new generation into its own core, exactly as if it had fetched.
//!
//! Records are keyed on the whole fetch identity and the issuer ([`FetchIdentity`]):
//! plugins of one VM group (one `vm_id`) share shared data, and two of them with the same
//! provider name, cluster and path but another `authority` (two tenants of one IdP host)
//! must never adopt each other's keys. The record stores the identity too, and a record
//! whose identity differs is never adopted (a key collision cannot mix key sets).
//!
//! The core stays unaware: it asks for fetches, and this module decides whether this VM
//! dispatches one, waits for the lease holder, or reuses a result published moments ago.

use jwtgate_core::{FetchIdentity, FetchResult, Validators};
use proxy_wasm::hostcalls;
use serde_json::{json, Value};

/// A fetch outcome as published in shared data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Published {
    pub generation: u64,
    /// The [`FetchIdentity`] text of the fetch.
    pub identity: String,
    /// When the fetch was sent (not when it completed): the keys are as old as this.
    pub sent_at_ms: u64,
    /// Fetched because a token named an unknown kid (the process-wide cooldown).
    pub kid_triggered: bool,
    pub status: Option<u16>,
    pub max_age_s: Option<u64>,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    /// The validators the request carried (`If-None-Match`, `If-Modified-Since`).
    pub sent_etag: Option<String>,
    pub sent_last_modified: Option<String>,
    pub body: Vec<u8>,
}

impl Published {
    pub fn as_result(&self) -> FetchResult<'_> {
        FetchResult {
            sent_at_ms: self.sent_at_ms,
            status: self.status,
            body: &self.body,
            max_age_s: self.max_age_s,
            validators: Validators { etag: self.etag.as_deref(), last_modified: self.last_modified.as_deref() },
            sent: Validators { etag: self.sent_etag.as_deref(), last_modified: self.sent_last_modified.as_deref() },
        }
    }

    /// A new record for `r`. A `304` that confirms the document of the previous record
    /// (a `200`) is published as that document, re-dated: a VM that never held it (one
    /// started later) can adopt it, and the others see the same bytes again (unchanged).
    fn of(
        generation: u64,
        identity: &str,
        r: &FetchResult<'_>,
        kid_triggered: bool,
        previous: Option<&Published>,
    ) -> Published {
        let owned = |s: Option<&str>| s.map(str::to_owned);
        if r.status == Some(304) && !r.sent.is_empty() {
            if let Some(prev) = previous.filter(|p| p.status == Some(200) && p.confirmed_by(r.sent)) {
                return Published {
                    generation,
                    identity: identity.to_owned(),
                    sent_at_ms: r.sent_at_ms,
                    kid_triggered,
                    max_age_s: r.max_age_s,
                    sent_etag: None,
                    sent_last_modified: None,
                    ..prev.clone()
                };
            }
        }
        Published {
            generation,
            identity: identity.to_owned(),
            sent_at_ms: r.sent_at_ms,
            kid_triggered,
            status: r.status,
            max_age_s: r.max_age_s,
            etag: owned(r.validators.etag),
            last_modified: owned(r.validators.last_modified),
            sent_etag: owned(r.sent.etag),
            sent_last_modified: owned(r.sent.last_modified),
            body: r.body.to_vec(),
        }
    }

    fn confirmed_by(&self, sent: Validators<'_>) -> bool {
        sent.etag.is_none_or(|e| self.etag.as_deref() == Some(e))
            && sent.last_modified.is_none_or(|m| self.last_modified.as_deref() == Some(m))
    }

    pub fn succeeded(&self) -> bool {
        matches!(self.status, Some(200) | Some(304))
    }

    /// A JSON header line, then the body's bytes as fetched.
    fn encode(&self) -> Vec<u8> {
        let head = json!({
            "generation": self.generation,
            "identity": self.identity,
            "sent_at_ms": self.sent_at_ms,
            "kid_triggered": self.kid_triggered,
            "status": self.status,
            "max_age_s": self.max_age_s,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "sent_etag": self.sent_etag,
            "sent_last_modified": self.sent_last_modified,
        });
        let mut out = head.to_string().into_bytes();
        out.push(b'\n');
        out.extend_from_slice(&self.body);
        out
    }

    fn decode(bytes: &[u8]) -> Option<Published> {
        let split = bytes.iter().position(|b| *b == b'\n')?;
        let head: Value = serde_json::from_slice(bytes.get(..split)?).ok()?;
        let text = |k: &str| head.get(k).and_then(Value::as_str).map(str::to_owned);
        Some(Published {
            generation: head.get("generation")?.as_u64()?,
            identity: text("identity")?,
            sent_at_ms: head.get("sent_at_ms")?.as_u64()?,
            kid_triggered: head.get("kid_triggered")?.as_bool()?,
            status: head.get("status").and_then(Value::as_u64).and_then(|s| u16::try_from(s).ok()),
            max_age_s: head.get("max_age_s").and_then(Value::as_u64),
            etag: text("etag"),
            last_modified: text("last_modified"),
            sent_etag: text("sent_etag"),
            sent_last_modified: text("sent_last_modified"),
            body: bytes.get(split + 1..)?.to_vec(),
        })
    }
}

/// Why a result could not be published.
#[derive(Debug, PartialEq, Eq)]
pub enum PublishError {
    /// Every compare-and-swap lost to another writer.
    Contended { attempts: u32 },
}

const PUBLISH_ATTEMPTS: u32 = 8;

/// Shared-data keys of one fetched document of one provider.
pub struct Channel {
    identity: String,
    lease_key: String,
    result_key: String,
    /// The newest published generation alone (8 bytes): cheap enough to read before
    /// every decision, so no VM decides with keys older than another VM has applied.
    generation_key: String,
}

impl Channel {
    /// `label`: the document kind's [`jwtgate_core::DocKind::label`] ("jwks").
    pub fn new(provider: &str, label: &str, identity: &FetchIdentity) -> Channel {
        let prefix = format!("jwtgate/{label}/{provider}/{}", identity.key());
        let ch = Channel {
            identity: identity.as_str().to_owned(),
            lease_key: format!("{prefix}/lease"),
            result_key: format!("{prefix}/result"),
            generation_key: format!("{prefix}/generation"),
        };
        // Create the lease so later acquisitions can compare-and-swap on a real version.
        if matches!(hostcalls::get_shared_data(&ch.lease_key), Ok((None, _))) {
            let _ = hostcalls::set_shared_data(&ch.lease_key, Some(&0u64.to_le_bytes()), None);
        }
        ch
    }

    /// The newest record of this fetch identity, if any.
    pub fn latest(&self) -> Option<Published> {
        self.current().0.filter(|p| p.identity == self.identity)
    }

    /// The newest published generation (0: none yet).
    pub fn published_generation(&self) -> u64 {
        match hostcalls::get_shared_data(&self.generation_key) {
            Ok((Some(b), _)) => b.get(..8).and_then(|b| b.try_into().ok()).map_or(0, u64::from_le_bytes),
            _ => 0,
        }
    }

    fn current(&self) -> (Option<Published>, Option<u32>) {
        match hostcalls::get_shared_data(&self.result_key) {
            Ok((bytes, cas)) => (bytes.as_deref().and_then(Published::decode), cas),
            Err(_) => (None, None),
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

    /// Publishes an outcome as the next generation; returns that generation. The caller
    /// reports an error: the other VMs then fetch for themselves when their turn comes.
    pub fn publish(&self, r: &FetchResult<'_>, kid_triggered: bool) -> Result<u64, PublishError> {
        for _ in 0..PUBLISH_ATTEMPTS {
            let (current, cas) = self.current();
            let generation = current.as_ref().map_or(1, |c| c.generation + 1);
            let previous = current.as_ref().filter(|c| c.identity == self.identity);
            let next = Published::of(generation, &self.identity, r, kid_triggered, previous);
            if hostcalls::set_shared_data(&self.result_key, Some(&next.encode()), cas).is_ok() {
                // Written after the record: a reader that sees this generation finds it.
                let _ = hostcalls::set_shared_data(&self.generation_key, Some(&generation.to_le_bytes()), None);
                return Ok(generation);
            }
        }
        Err(PublishError::Contended { attempts: PUBLISH_ATTEMPTS })
    }
}

#[cfg(test)]
#[path = "coord_tests.rs"]
mod tests;
