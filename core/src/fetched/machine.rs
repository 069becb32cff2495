//! The phase machine behind every fetched document.
//!
//! Stored state is the [`Phase`] (what is held and how the last fetches went), an
//! in-flight marker, the refresh schedule and the early-refetch demand. Everything the
//! hosts and the gate ask, why to fetch ([`FetchReason`]), whether the document may be
//! used ([`Status`]), is derived from those, so the answers cannot disagree.

use super::{DocId, Document, FetchEvent, FetchMethod, FetchReason, FetchRequest, FetchResult};
use crate::config::RemoteJwks;
use sha2::{Digest, Sha256};
use std::rc::Rc;

use super::phase::{Held, Phase, Status, Unavailable};

const MAX_BACKOFF_MS: u64 = 60_000;

/// A fetch handed to the host and not yet answered.
#[derive(Clone, Copy, Debug)]
struct InFlight {
    started_ms: u64,
    reason: FetchReason,
}

/// Early refetches (a token named a kid the document lacks), rate-limited per cooldown.
#[derive(Clone, Copy, Debug, Default)]
struct Demand {
    /// An early refetch is wanted for a need that arose at this time; only a fetch sent
    /// at or after it answers it.
    wanted_since: Option<u64>,
    /// When the last early fetch was started (the cooldown counts from here).
    last_granted_ms: Option<u64>,
}

#[derive(Debug)]
pub struct Fetched<D: Document> {
    /// The document this machine fetches, echoed in every [`FetchRequest`].
    owner: DocId,
    remote: RemoteJwks,
    cx: D::Context,
    phase: Phase<D>,
    in_flight: Option<InFlight>,
    next_fetch_ms: u64,
    demand: Demand,
    jitter_state: u64,
    /// Bumped whenever the document changes, so caches derived from it can tell.
    generation: u64,
}

impl<D: Document> Fetched<D> {
    pub fn new(owner: DocId, remote: RemoteJwks, cx: D::Context, seed: u64) -> Fetched<D> {
        Fetched {
            owner,
            remote,
            cx,
            phase: Phase::Cold { failures: 0 },
            in_flight: None,
            next_fetch_ms: 0,
            demand: Demand::default(),
            jitter_state: seed | 1,
            generation: 1,
        }
    }

    pub fn remote(&self) -> &RemoteJwks {
        &self.remote
    }

    /// Points the machine at another location (a discovery document named a new
    /// `jwks_uri`): fetch from there now. The held document stays usable within its
    /// stale bound until the new one arrives.
    pub fn set_remote(&mut self, remote: RemoteJwks) {
        if remote != self.remote {
            self.remote = remote;
            self.next_fetch_ms = 0;
        }
    }

    pub fn phase(&self) -> &Phase<D> {
        &self.phase
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    fn held(&self) -> Option<&Held<D>> {
        match &self.phase {
            Phase::Cold { .. } => None,
            Phase::Fresh(held) | Phase::Failing { held, .. } => Some(held),
        }
    }

    /// The last good document, whatever its age.
    pub fn document(&self) -> Option<&D> {
        self.held().map(|h| h.doc.as_ref())
    }

    /// The phase at `now_ms`, with the stale bound applied.
    pub fn status(&self, now_ms: u64) -> Status {
        let (held, failing) = match &self.phase {
            Phase::Cold { .. } => return Status::Cold,
            Phase::Fresh(held) => (held, None),
            Phase::Failing { held, since_ms, failures } => (held, Some((*since_ms, *failures))),
        };
        if now_ms.saturating_sub(held.fetched_at_ms) > self.remote.max_stale_s.saturating_mul(1000) {
            return Status::Stale { refreshable: failing.is_none() };
        }
        match failing {
            None => Status::Fresh,
            Some((since_ms, failures)) => Status::Failing { since_ms, failures },
        }
    }

    /// The usable document at `now_ms`: held and within the stale bound.
    pub fn usable(&self, now_ms: u64) -> Option<&D> {
        match self.status(now_ms) {
            Status::Fresh | Status::Failing { .. } => self.document(),
            Status::Cold | Status::Stale { .. } => None,
        }
    }

    /// The usable document, or why there is none (the `Unavailable` of a lookup):
    /// never loaded (`cold`), or past the bound (`refreshable` when only old).
    pub fn serving(&self, now_ms: u64) -> Result<&D, Unavailable> {
        match (self.usable(now_ms), self.status(now_ms)) {
            (Some(doc), _) => Ok(doc),
            (None, Status::Stale { refreshable }) => Err(Unavailable { cold: false, refreshable }),
            (None, _) => Err(Unavailable { cold: true, refreshable: true }),
        }
    }

    /// Why a fetch started now would be made.
    fn reason(&self) -> FetchReason {
        match (&self.demand.wanted_since, &self.phase) {
            (Some(_), _) => FetchReason::UnknownKid,
            (None, Phase::Cold { .. }) => FetchReason::Cold,
            (None, Phase::Fresh(_)) => FetchReason::Scheduled,
            (None, Phase::Failing { .. }) => FetchReason::Retry,
        }
    }

    /// A fetch to start now, if one is due and none is in flight.
    pub fn poll(&mut self, now_ms: u64) -> Option<FetchRequest> {
        if let Some(f) = self.in_flight {
            // The host lost a fetch (it should always report back): give up on it.
            if now_ms < f.started_ms.saturating_add(2 * self.remote.timeout_ms + 1000) {
                return None;
            }
        }
        if now_ms < self.next_fetch_ms {
            return None;
        }
        let reason = self.reason();
        let requested_at_ms = match (reason, self.demand.wanted_since) {
            (FetchReason::UnknownKid, Some(t)) => {
                self.demand.last_granted_ms = Some(now_ms);
                t
            }
            _ => now_ms,
        };
        self.in_flight = Some(InFlight { started_ms: now_ms, reason });
        let r = &self.remote;
        let validators = self.held().map(Held::validators).unwrap_or_default();
        // Only after a success may the document shape the request (a delta cursor, on
        // the path for Envoy and the URL for the edge): after a failure the plain
        // location asks for the whole document again.
        let shaped = |base: &str| match &self.phase {
            Phase::Fresh(h) => h.doc.request_path(base),
            _ => base.to_owned(),
        };
        Some(FetchRequest {
            doc: self.owner,
            method: FetchMethod::Get,
            body: Vec::new(),
            headers: Vec::new(),
            accept: D::ACCEPT,
            cluster: r.cluster.clone(),
            uri: r.uri.as_deref().map(shaped),
            path: shaped(&r.path),
            authority: r.authority.clone(),
            timeout_ms: r.timeout_ms,
            reason,
            requested_at_ms,
            if_none_match: validators.etag.map(str::to_owned),
            if_modified_since: validators.last_modified.map(str::to_owned),
            kid_cooldown_ms: r.kid_refetch_cooldown_s.saturating_mul(1000),
            min_refresh_ms: r.min_refresh_interval_s.saturating_mul(1000),
        })
    }

    /// Asks for an early refetch (a token named a kid the document lacks). Returns true
    /// when waiting is worthwhile, false while the cooldown holds, so a spray of random
    /// kids costs at most one early fetch per cooldown:
    /// - a demand is already pending: the fetch that answers it is coming;
    /// - a regular (cold, scheduled, retry) fetch is in flight: it was sent before this
    ///   need arose and cannot prove the kid unknown, so one early fetch follows it
    ///   whatever the cooldown (the "plus this one" of the bound: one per regular fetch);
    /// - an early fetch is in flight: wait for it; the cooldown judges what remains;
    /// - otherwise one early fetch per `kid_refetch_cooldown_s`.
    pub fn want_refetch(&mut self, now_ms: u64) -> bool {
        if self.demand.wanted_since.is_some() {
            return true;
        }
        match self.in_flight {
            Some(f) if f.reason != FetchReason::UnknownKid => {
                self.demand.wanted_since = Some(now_ms);
                return true;
            }
            Some(_) => return true,
            None => {}
        }
        let cooldown_ms = self.remote.kid_refetch_cooldown_s.saturating_mul(1000);
        if self.demand.last_granted_ms.is_some_and(|t| now_ms < t.saturating_add(cooldown_ms)) {
            return false;
        }
        self.demand.wanted_since = Some(now_ms);
        self.next_fetch_ms = self.next_fetch_ms.min(now_ms);
        true
    }

    /// Applies a fetch outcome, whoever fetched it (this machine, or another VM whose
    /// published result is adopted). A failure keeps the last good document.
    pub fn on_fetch_result(&mut self, now_ms: u64, r: FetchResult<'_>) -> FetchEvent<D::Summary> {
        self.in_flight = None;
        // Only a fetch sent at or after the need arose can answer an early-refetch demand.
        let demand_open = self.demand.wanted_since.filter(|t| r.sent_at_ms < *t);
        self.demand.wanted_since = demand_open;
        let sent_at_ms = r.sent_at_ms.min(now_ms);
        let event = match self.accept(r, sent_at_ms) {
            Ok(event) => {
                let interval_s = r.max_age_s.map_or(self.remote.refresh_interval_s, |m| {
                    m.clamp(self.remote.min_refresh_interval_s, self.remote.refresh_interval_s)
                });
                let interval_ms = self.jittered(interval_s.saturating_mul(1000));
                self.next_fetch_ms = sent_at_ms.saturating_add(interval_ms);
                event
            }
            Err(reason) => self.fail(now_ms, reason),
        };
        if demand_open.is_some() {
            self.next_fetch_ms = self.next_fetch_ms.min(now_ms);
        }
        event
    }

    fn fail(&mut self, now_ms: u64, reason: String) -> FetchEvent<D::Summary> {
        let phase = std::mem::replace(&mut self.phase, Phase::Cold { failures: 0 });
        let (phase, failures) = match phase {
            Phase::Cold { failures } => (Phase::Cold { failures: failures.saturating_add(1) }, failures + 1),
            Phase::Fresh(held) => (Phase::Failing { held, since_ms: now_ms, failures: 1 }, 1),
            Phase::Failing { held, since_ms, failures } => {
                let failures = failures.saturating_add(1);
                (Phase::Failing { held, since_ms, failures }, failures)
            }
        };
        self.phase = phase;
        let shift = failures.clamp(1, 16) - 1;
        let retry_in_ms =
            (1000u64 << shift).min(MAX_BACKOFF_MS).min(self.remote.refresh_interval_s.saturating_mul(1000));
        self.next_fetch_ms = now_ms.saturating_add(retry_in_ms);
        FetchEvent::Failed { reason, have_last_good: self.held().is_some(), retry_in_ms }
    }

    fn accept(&mut self, r: FetchResult<'_>, sent_at_ms: u64) -> Result<FetchEvent<D::Summary>, String> {
        match r.status {
            None => return Err("no response (timeout or connection failure)".into()),
            Some(304) => return self.not_modified(r, sent_at_ms),
            Some(200) => {}
            Some(s) => return Err(format!("HTTP status {s}")),
        }
        if r.body.len() > self.remote.max_body_bytes {
            return Err(format!("body of {} bytes exceeds {} bytes", r.body.len(), self.remote.max_body_bytes));
        }
        let digest: [u8; 32] = Sha256::digest(r.body).into();
        let etag = r.validators.etag.map(str::to_owned);
        let last_modified = r.validators.last_modified.map(str::to_owned);
        if let Some(held) = self.held() {
            if held.fetched_at_ms > sent_at_ms {
                // Sent before the held document was fetched (an old result adopted late):
                // it cannot replace a newer document.
                return Ok(FetchEvent::Unchanged);
            }
            if held.digest == digest {
                let doc = Rc::clone(&held.doc);
                self.phase = Phase::Fresh(Held { doc, fetched_at_ms: sent_at_ms, digest, etag, last_modified });
                return Ok(FetchEvent::Unchanged);
            }
        }
        // The held document is never shared beyond a call, so `get_mut` finds it unique.
        let held_doc = match &mut self.phase {
            Phase::Cold { .. } => None,
            Phase::Fresh(h) | Phase::Failing { held: h, .. } => Rc::get_mut(&mut h.doc),
        };
        let doc = match D::parse_after(held_doc, r.body, &self.cx)? {
            Some(doc) => Rc::new(doc),
            // Updated in place (a delta).
            None => self.take_held().ok_or("no held document to update")?.doc,
        };
        let event = FetchEvent::Loaded(doc.summary());
        self.phase = Phase::Fresh(Held { doc, fetched_at_ms: sent_at_ms, digest, etag, last_modified });
        self.generation += 1;
        Ok(event)
    }

    fn take_held(&mut self) -> Option<Held<D>> {
        match std::mem::replace(&mut self.phase, Phase::Cold { failures: 0 }) {
            Phase::Cold { .. } => None,
            Phase::Fresh(held) | Phase::Failing { held, .. } => Some(held),
        }
    }

    /// The held document for in-place upkeep (e.g. dropping expired entries); `None`
    /// when nothing is held.
    pub fn document_mut(&mut self) -> Option<&mut D> {
        match &mut self.phase {
            Phase::Cold { .. } => None,
            Phase::Fresh(h) | Phase::Failing { held: h, .. } => Rc::get_mut(&mut h.doc),
        }
    }

    /// When the fetch that last confirmed the held document was sent.
    pub fn fetched_at_ms(&self) -> Option<u64> {
        self.held().map(|h| h.fetched_at_ms)
    }

    /// A `304` renews the held document only if the request was conditional on it. An
    /// unsolicited `304` (no validators sent) proves nothing: a failed fetch.
    fn not_modified(&mut self, r: FetchResult<'_>, sent_at_ms: u64) -> Result<FetchEvent<D::Summary>, String> {
        if r.sent.is_empty() {
            return Err("HTTP status 304 to a request that sent no validator".into());
        }
        let phase = std::mem::replace(&mut self.phase, Phase::Cold { failures: 0 });
        let held = match phase {
            Phase::Fresh(held) | Phase::Failing { held, .. } if held.confirmed_by(r.sent) => held,
            other => {
                self.phase = other;
                return Err("HTTP status 304 for a document this gate does not hold".into());
            }
        };
        let fetched_at_ms = held.fetched_at_ms.max(sent_at_ms);
        self.phase = Phase::Fresh(Held { fetched_at_ms, ..held });
        Ok(FetchEvent::Unchanged)
    }

    /// ±10% jitter so that many gates do not refresh in lockstep.
    fn jittered(&mut self, ms: u64) -> u64 {
        let mut x = self.jitter_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter_state = x;
        let spread = ms / 5;
        if spread == 0 {
            return ms;
        }
        (ms - ms / 10).saturating_add(x % spread)
    }

    #[cfg(test)]
    pub(crate) fn next_fetch_ms(&self) -> u64 {
        self.next_fetch_ms
    }

    #[cfg(test)]
    pub(crate) fn forget_in_flight(&mut self) {
        self.in_flight = None;
    }
}

#[cfg(test)]
#[path = "machine_tests.rs"]
mod tests;
