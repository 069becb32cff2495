//! Token revocation with a staleness bound.
//!
//! Each provider may have a denylist: entries given `inline` in the config, and/or a
//! feed fetched like the JWKS. The promise is the JWKS's stale bound applied to
//! revocations: **a revocation the feed publishes at time T is enforced by every gate by
//! T + `max_staleness_s`, or that gate answers 503 on the provider's routes** (unless the
//! provider explicitly sets `on_stale: "allow"`). The bound holds because the list's age
//! counts from when the fetch that last confirmed it was *sent*: a list confirmed at F
//! knows every revocation published before F, and past F + `max_staleness_s` it is no
//! longer used.
//!
//! The check runs after the signature and claims on every request, cache hits included
//! (the verified-token cache keeps each token's [`TokenIds`]).

mod entry;
mod feed;
mod list;
mod status;

pub use entry::{Entry, Target, TokenIds};
pub use feed::{Change, FeedContext, FeedDoc};
pub use list::{Denylist, Matched};
pub use status::{StatusClaim, StatusListEvent};

use crate::fetched::KeySet;
use status::StatusLists;

use crate::config::{OnStale, RevocationConfig};
use crate::fetched::{DocId, FetchEvent, FetchRequest, FetchResult, Fetched, Status};

/// How often the held lists are swept for expired entries.
const PRUNE_EVERY_MS: u64 = 60_000;

/// A revocation list state change, for the host to log and count.
pub type RevocationEvent = FetchEvent<Change>;

/// The outcome of the revocation check for one verified token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    Clear,
    Revoked(Matched),
    /// The feed's list cannot be used: never loaded (`cold`), or older than
    /// `max_staleness_s`. `refreshable`: no refresh failed since the last success (an
    /// idle edge isolate), so a fetch is worth waiting for.
    Unavailable {
        cold: bool,
        refreshable: bool,
    },
    /// The token's `status` claim is malformed or names a URI outside `uri_prefix`.
    Refused,
}

/// One provider's denylists.
#[derive(Debug)]
pub struct Revocation {
    inline: Denylist,
    feed: Option<Box<Fetched<FeedDoc>>>,
    status: Option<StatusLists>,
    on_stale: OnStale,
    skew_s: u64,
    next_prune_ms: u64,
    /// When the latest fetch event was applied: gauges are reported as of then.
    last_event_ms: u64,
}

impl Revocation {
    pub fn new(owner: usize, cfg: &RevocationConfig, issuer: &str, skew_s: u64, seed: u64) -> Revocation {
        let mut inline = Denylist::default();
        cfg.inline.iter().cloned().for_each(|e| inline.insert(e));
        let feed = cfg.feed.as_ref().map(|remote| {
            let cx = FeedContext { issuer: issuer.to_owned() };
            Box::new(Fetched::new(DocId::revocation(owner), remote.clone(), cx, seed))
        });
        let status = cfg.status_list.clone().map(|s| StatusLists::new(owner, s, seed.rotate_left(7)));
        Revocation { inline, feed, status, on_stale: cfg.on_stale, skew_s, next_prune_ms: 0, last_event_ms: 0 }
    }

    /// Whether the token is revoked at `now_ms`. The inline list always applies; the
    /// feed's list only within the bound, unless `on_stale` is `allow` (then the last
    /// good list, however old, is still consulted).
    /// The denylists, then the token's Status List entry (`keys`: the issuer's, which
    /// sign the Status List Token).
    pub fn check(&mut self, ids: &TokenIds, keys: &KeySet, now_ms: u64) -> Check {
        match self.check_lists(ids, now_ms) {
            Check::Clear => {}
            other => return other,
        }
        let (idx, uri) = match (&ids.status, &self.status) {
            (StatusClaim::Absent, _) | (_, None) => return Check::Clear,
            (StatusClaim::Malformed, Some(_)) => return Check::Refused,
            (StatusClaim::Ref { uri, .. }, Some(lists)) if !lists.allowed(uri) => return Check::Refused,
            (StatusClaim::Ref { idx, uri }, Some(_)) => (*idx, uri),
        };
        let Some(lists) = self.status.as_mut() else { return Check::Clear };
        match (lists.check(uri, idx, keys, now_ms), self.on_stale) {
            (Check::Unavailable { .. }, OnStale::Allow) => Check::Clear,
            (other, _) => other,
        }
    }

    fn check_lists(&self, ids: &TokenIds, now_ms: u64) -> Check {
        let now_s = now_ms / 1000;
        // Most providers have a feed and no inline entries: skip their hashing then.
        if let Some(m) = (!self.inline.is_empty()).then(|| self.inline.matches(ids, now_s, self.skew_s)).flatten() {
            return Check::Revoked(m);
        }
        let Some(feed) = &self.feed else { return Check::Clear };
        let list = match (feed.usable(now_ms), self.on_stale) {
            (Some(doc), _) => Some(&doc.list),
            (None, OnStale::Allow) => feed.document().map(|d| &d.list),
            (None, OnStale::Deny) => {
                return match feed.status(now_ms) {
                    Status::Stale { refreshable } => Check::Unavailable { cold: false, refreshable },
                    _ => Check::Unavailable { cold: true, refreshable: true },
                }
            }
        };
        match list.and_then(|l| l.matches(ids, now_s, self.skew_s)) {
            Some(m) => Check::Revoked(m),
            None => Check::Clear,
        }
    }

    /// Adds an entry learnt at run time (a back-channel logout): kept with the inline
    /// entries, so it applies whatever the feed's state, until its `exp`.
    pub fn deny(&mut self, e: Entry) {
        self.inline.insert(e);
    }

    /// Entries held now (inline plus the feed's last good list).
    pub fn entries(&self) -> usize {
        self.inline.len() + self.feed_doc().map_or(0, |d| d.list.len())
    }

    fn feed_doc(&self) -> Option<&FeedDoc> {
        self.feed.as_ref().and_then(|f| f.document())
    }

    /// Seconds since the fetch that last confirmed the feed's list was sent (`None`
    /// before the first success, or without a feed).
    pub fn age_s(&self, now_ms: u64) -> Option<u64> {
        let at = self.feed.as_ref()?.fetched_at_ms()?;
        Some(now_ms.saturating_sub(at) / 1000)
    }

    /// A feed fetch to start now, if one is due. Also sweeps expired entries now and then.
    pub fn poll(&mut self, now_ms: u64) -> Option<FetchRequest> {
        if now_ms >= self.next_prune_ms {
            self.prune(now_ms);
            self.next_prune_ms = now_ms.saturating_add(PRUNE_EVERY_MS);
        }
        self.feed.as_mut()?.poll(now_ms)
    }

    /// Status List fetches due now.
    pub fn poll_lists(&mut self, now_ms: u64) -> Vec<FetchRequest> {
        self.status.as_mut().map_or_else(Vec::new, |s| s.poll(now_ms))
    }

    pub fn on_list_result(&mut self, slot: usize, now_ms: u64, r: FetchResult<'_>) -> Option<StatusListEvent> {
        self.status.as_mut()?.on_fetch_result(slot, now_ms, r)
    }

    pub fn list_remote(&self, slot: usize) -> Option<&crate::config::RemoteJwks> {
        self.status.as_ref()?.remote(slot)
    }

    pub fn list_body_cap(&self) -> usize {
        self.status.as_ref().map_or(0, StatusLists::body_cap)
    }

    pub fn on_fetch_result(&mut self, now_ms: u64, r: FetchResult<'_>) -> Option<RevocationEvent> {
        let event = self.feed.as_mut()?.on_fetch_result(now_ms, r);
        self.last_event_ms = now_ms;
        if matches!(event, FetchEvent::Loaded(_)) {
            self.prune(now_ms);
        }
        Some(event)
    }

    /// Drops expired entries; returns how many.
    pub fn prune(&mut self, now_ms: u64) -> usize {
        let now_s = now_ms / 1000;
        let mut n = self.inline.prune(now_s, self.skew_s);
        if let Some(doc) = self.feed.as_mut().and_then(|f| f.document_mut()) {
            n += doc.list.prune(now_s, self.skew_s);
        }
        n
    }

    /// `revocation_list_age_s` and `revocation_entries` as of the latest fetch event
    /// (hosts set gauges after each event; a failing feed still has one per retry).
    pub fn gauges(&self, provider: &str) -> Vec<(String, u64)> {
        let mut out = vec![(format!("revocation_entries.{provider}"), self.entries() as u64)];
        if let Some(age) = self.age_s(self.last_event_ms) {
            out.push((format!("revocation_list_age_s.{provider}"), age));
        }
        out
    }

    /// The feed's fetch identity source (`None` without a feed).
    pub fn remote(&self) -> Option<&crate::config::RemoteJwks> {
        self.feed.as_ref().map(|f| f.remote())
    }

    pub fn body_cap(&self) -> usize {
        self.feed.as_ref().map_or(0, |f| f.remote().max_body_bytes)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
