//! Token introspection (RFC 7662): one [`Introspector`] per provider that has an
//! `introspection` block. Its answers are fetched documents like the JWKS, one per
//! token, but they are not refreshed on a schedule: an answer lives for its TTL and the
//! next request after that asks again. Hence a machine of its own rather than a
//! `Fetched<D>` (whose refresh schedule, conditional requests and kid demand have no
//! meaning here); it shares the host side (`FetchRequest`/`FetchResult`).
//!
//! - Keyed by SHA-256 of the token; bounded (FIFO eviction).
//! - Single-flight: a token being introspected is `Pending`; every request with it is
//!   held (`Decision::NeedKeys`) and decided again from the cache when the answer lands.
//! - `active: true`: reused until `min(exp, now + max_ttl_s)`. `active: false`, or an
//!   answer the claim checks refuse: reused for `negative_ttl_s`.
//! - No answer (timeout, 5xx, broken body): 503 for `INTROSPECTION_RETRY_MS`, then the
//!   next request asks again. With `stale_if_error_s`, an expired positive answer serves
//!   that much longer while the IdP fails, and is counted (`stale_served`).

pub mod answer;
pub mod call;
mod check;
pub mod share;

use crate::cache::{TokenDigest, Verified};
use crate::config::{defaults, IntrospectionConfig};
use crate::error::AuthError;
use crate::fetched::{DocId, DocKind, FetchRequest};
use answer::CallFailure;
use std::collections::{HashMap, VecDeque};

/// A call is wanted, or under way.
#[derive(Debug)]
struct Pending {
    slot: u64,
    /// The token, kept only until the call is built (hosts get it in the body).
    token: Option<String>,
    sent_at_ms: Option<u64>,
    /// An expired positive answer that `stale_if_error_s` may still serve if this fails.
    stale: Option<Positive>,
}

#[derive(Clone, Debug)]
struct Positive {
    verified: Verified,
    /// Served stale until then, while the IdP fails.
    stale_until_ms: u64,
}

#[derive(Debug)]
enum Entry {
    Pending(Pending),
    Active { positive: Positive, until_ms: u64 },
    Refused { error: AuthError, until_ms: u64 },
    Failed { until_ms: u64, stale: Option<Positive> },
}

/// What the cache says about a token now.
#[derive(Debug, PartialEq)]
pub enum Lookup<'a> {
    Active(&'a Verified),
    /// Past its TTL; the IdP fails and `stale_if_error_s` still allows it.
    Stale(&'a Verified),
    Refused(AuthError),
    Unavailable,
    /// A call is wanted or under way: hold the request.
    Waiting,
}

/// Counters for metrics (hosts emit them as gauges after every introspection event).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub calls: u64,
    pub hits: u64,
    pub active: u64,
    pub inactive: u64,
    pub failed: u64,
    pub stale_served: u64,
    pub evicted: u64,
}

/// The outcome of one call, for the host's log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntrospectionEvent {
    Active {
        token: String,
        ttl_s: u64,
    },
    Refused {
        token: String,
        reason: String,
    },
    Failed {
        token: String,
        failure: CallFailure,
        stale_kept: bool,
    },
    /// The answer's entry was evicted or replaced meanwhile.
    Dropped,
}

impl Stats {
    /// `introspection_<counter>.<provider>` gauges.
    pub fn gauges(&self, provider: &str) -> Vec<(String, u64)> {
        let named = [
            ("calls", self.calls),
            ("hits", self.hits),
            ("active", self.active),
            ("inactive", self.inactive),
            ("failed", self.failed),
            ("stale_served", self.stale_served),
            ("evicted", self.evicted),
        ];
        named.iter().map(|(n, v)| (format!("introspection_{n}.{provider}"), *v)).collect()
    }
}

impl IntrospectionEvent {
    pub fn failed(&self) -> bool {
        matches!(self, IntrospectionEvent::Failed { .. })
    }
}

impl std::fmt::Display for IntrospectionEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IntrospectionEvent::Active { token, ttl_s } => {
                write!(f, "introspection of token {token}: active, cached {ttl_s} s")
            }
            IntrospectionEvent::Refused { token, reason } => {
                write!(f, "introspection of token {token}: refused ({reason})")
            }
            IntrospectionEvent::Failed { token, failure, stale_kept } => {
                let tail = if *stale_kept { "serving the expired answer (stale_if_error_s)" } else { "answering 503" };
                write!(f, "introspection of token {token} failed: {failure}; {tail}")
            }
            IntrospectionEvent::Dropped => f.write_str("introspection answer dropped (entry evicted)"),
        }
    }
}

/// How long at most an unread answer is safe from eviction (its waiting requests read it
/// within milliseconds: at once in Envoy, after the fetch's promise at the edge).
const ANSWER_GRACE_MS: u64 = 1000;

#[derive(Debug)]
pub struct Introspector {
    config: IntrospectionConfig,
    entries: HashMap<TokenDigest, Entry>,
    /// Insertion order, for eviction.
    order: VecDeque<TokenDigest>,
    /// Answers not read yet, by arrival time: not evicted until read or
    /// [`ANSWER_GRACE_MS`] old, so the requests held for one are decided from it (else a
    /// full cache could evict an answer before its waiting requests read it, and ask
    /// again forever). The queue orders them for pruning; the map says which still count.
    recent: VecDeque<(TokenDigest, u64)>,
    unread: HashMap<TokenDigest, u64>,
    /// Calls not yet handed out, then in flight: slot → token digest.
    slots: HashMap<u64, TokenDigest>,
    unsent: Vec<u64>,
    next_slot: u64,
    stats: Stats,
}

impl Introspector {
    pub fn new(config: IntrospectionConfig) -> Introspector {
        Introspector {
            config,
            entries: HashMap::new(),
            order: VecDeque::new(),
            recent: VecDeque::new(),
            unread: HashMap::new(),
            slots: HashMap::new(),
            unsent: Vec::new(),
            next_slot: 1,
            stats: Stats::default(),
        }
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    pub fn config(&self) -> &IntrospectionConfig {
        &self.config
    }

    /// Points the calls at the endpoint a discovery document named (`cluster` is the
    /// provider's discovery cluster, for Envoy).
    pub fn set_endpoint(&mut self, cluster: Option<String>, uri: &str, authority: &str, path: &str) {
        let c = &mut self.config;
        if c.from_discovery {
            c.cluster = cluster;
            c.uri = Some(uri.to_owned());
            c.authority = authority.to_owned();
            c.path = path.to_owned();
            c.from_discovery = false;
            if let crate::config::ClientAuth::PrivateKeyJwt { audience, .. } = &mut c.auth {
                if audience == "https://discovery.invalid/" {
                    *audience = uri.to_owned();
                }
            }
        }
    }

    /// Calls wanted and not yet handed out (to a located endpoint).
    pub fn has_unsent(&self) -> bool {
        self.located() && !self.unsent.is_empty()
    }

    /// Whether calls can be made (the endpoint is known).
    fn located(&self) -> bool {
        !self.config.from_discovery
    }

    /// What is known about `token` at `now_ms`; starts a call when nothing usable is.
    pub fn lookup(&mut self, digest: &TokenDigest, token: &str, now_ms: u64) -> Lookup<'_> {
        let grace = self.config.timeout_ms + 1000;
        let stale = match self.entries.get(digest) {
            Some(Entry::Active { until_ms, .. }) if now_ms < *until_ms => {
                self.stats.hits += 1;
                self.unread.remove(digest);
                return self.found(digest, false);
            }
            Some(Entry::Refused { error, until_ms }) if now_ms < *until_ms => {
                self.stats.hits += 1;
                let error = error.clone();
                self.unread.remove(digest);
                return Lookup::Refused(error);
            }
            Some(Entry::Failed { until_ms, stale }) if now_ms < *until_ms => {
                return match stale {
                    Some(p) if now_ms < p.stale_until_ms => {
                        self.stats.stale_served += 1;
                        self.found(digest, true)
                    }
                    _ => Lookup::Unavailable,
                };
            }
            // A call the host lost (it always answers, but fail closed if not).
            Some(Entry::Pending(p)) if p.sent_at_ms.is_some_and(|s| now_ms > s + grace) => None,
            Some(Entry::Pending(_)) => return Lookup::Waiting,
            Some(Entry::Active { positive, .. }) => Some(positive.clone()),
            Some(Entry::Failed { stale, .. }) => stale.clone(),
            Some(Entry::Refused { .. }) | None => None,
        };
        let stale = stale.filter(|p| now_ms < p.stale_until_ms);
        self.begin(*digest, token, stale, now_ms);
        Lookup::Waiting
    }

    fn found(&self, digest: &TokenDigest, stale: bool) -> Lookup<'_> {
        match self.entries.get(digest) {
            Some(Entry::Active { positive, .. }) => Lookup::Active(&positive.verified),
            Some(Entry::Failed { stale: Some(p), .. }) if stale => Lookup::Stale(&p.verified),
            _ => Lookup::Unavailable,
        }
    }

    fn begin(&mut self, digest: TokenDigest, token: &str, stale: Option<Positive>, now_ms: u64) {
        let slot = self.next_slot;
        self.next_slot += 1;
        if let Some(Entry::Pending(old)) = self.entries.get(&digest) {
            self.slots.remove(&old.slot);
        }
        let pending = Pending { slot, token: Some(token.to_owned()), sent_at_ms: None, stale };
        if self.entries.insert(digest, Entry::Pending(pending)).is_none() {
            self.order.push_back(digest);
        }
        self.slots.insert(slot, digest);
        self.unsent.push(slot);
        self.evict(now_ms);
    }

    /// Bounds the cache; pending entries and answers younger than [`ANSWER_GRACE_MS`]
    /// are kept (requests wait on them), so the bound can be exceeded only by calls in
    /// flight and just answered.
    fn evict(&mut self, now_ms: u64) {
        while let Some((d, t)) = self.recent.front().copied() {
            if now_ms < t + ANSWER_GRACE_MS {
                break;
            }
            self.recent.pop_front();
            if self.unread.get(&d) == Some(&t) {
                self.unread.remove(&d);
            }
        }
        let cap = self.config.cache_size;
        let mut scanned = 0;
        while self.entries.len() > cap && scanned < self.order.len() {
            let Some(old) = self.order.pop_front() else { break };
            let young = self.unread.contains_key(&old);
            if young || matches!(self.entries.get(&old), Some(Entry::Pending(_))) {
                self.order.push_back(old);
                scanned += 1;
                continue;
            }
            self.entries.remove(&old);
            self.stats.evicted += 1;
        }
    }

    /// Calls to start now, as fetches of `provider`'s documents; `jti` gives fresh
    /// randomness per call (client assertions).
    pub fn poll(&mut self, provider: usize, now_ms: u64, jti: &mut dyn FnMut() -> [u8; 16]) -> Vec<FetchRequest> {
        let mut out = Vec::new();
        if !self.located() {
            return out; // the discovery document has not named the endpoint yet
        }
        for slot in std::mem::take(&mut self.unsent) {
            let Some(digest) = self.slots.get(&slot) else { continue };
            let Some(Entry::Pending(p)) = self.entries.get_mut(digest) else { continue };
            let Some(token) = p.token.take() else { continue };
            p.sent_at_ms = Some(now_ms);
            self.stats.calls += 1;
            let parts = call::parts(&self.config, &token, now_ms / 1000, &mut *jti);
            let doc = DocId { provider, kind: DocKind::Introspection(slot) };
            out.push(FetchRequest::post_form(doc, &self.config, parts.body, parts.headers, now_ms));
        }
        out
    }

    /// Applies the response to call `slot`. `accept` runs the gate's claim checks on an
    /// `active` answer.
    pub fn on_result(
        &mut self,
        slot: u64,
        now_ms: u64,
        status: Option<u16>,
        body: &[u8],
        accept: impl FnOnce(serde_json::Map<String, serde_json::Value>) -> Result<Verified, AuthError>,
    ) -> IntrospectionEvent {
        let Some(digest) = self.slots.remove(&slot) else { return IntrospectionEvent::Dropped };
        let Some(Entry::Pending(pending)) = self.entries.remove(&digest) else { return IntrospectionEvent::Dropped };
        let token = crate::hex::encode(&digest[..6]);
        let cfg = &self.config;
        let (entry, event) = match answer::parse(status, body, cfg.max_body_bytes) {
            Ok(answer::Answer::Active(claims)) => match accept(claims) {
                Ok(verified) => {
                    let exp_ms = verified.exp_s.saturating_mul(1000);
                    // At least a second: an answer whose `exp` has just passed (within the
                    // clock skew the checker allows on every hit) must still decide the
                    // requests waiting for it instead of asking again at once.
                    let until_ms = (now_ms + cfg.max_ttl_s * 1000).min(exp_ms).max(now_ms + 1000);
                    let stale_until_ms = (until_ms + cfg.stale_if_error_s * 1000).min(exp_ms);
                    self.stats.active += 1;
                    let ttl_s = until_ms.saturating_sub(now_ms) / 1000;
                    let positive = Positive { verified, stale_until_ms };
                    (Entry::Active { positive, until_ms }, IntrospectionEvent::Active { token, ttl_s })
                }
                Err(error) => self.refused(now_ms, error, token),
            },
            Ok(answer::Answer::Inactive) => self.refused(now_ms, AuthError::Inactive, token),
            Err(failure) => {
                self.stats.failed += 1;
                let stale = pending.stale.filter(|p| now_ms < p.stale_until_ms);
                let stale_kept = stale.is_some();
                let until_ms = now_ms + defaults::INTROSPECTION_RETRY_MS;
                (Entry::Failed { until_ms, stale }, IntrospectionEvent::Failed { token, failure, stale_kept })
            }
        };
        self.entries.insert(digest, entry);
        self.recent.push_back((digest, now_ms));
        self.unread.insert(digest, now_ms);
        self.evict(now_ms);
        event
    }

    fn refused(&mut self, now_ms: u64, error: AuthError, token: String) -> (Entry, IntrospectionEvent) {
        self.stats.inactive += 1;
        let until_ms = now_ms + self.config.negative_ttl_s * 1000;
        let reason = error.metric_reason().to_owned();
        (Entry::Refused { error, until_ms }, IntrospectionEvent::Refused { token, reason })
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
