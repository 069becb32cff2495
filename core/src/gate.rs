//! `Gate`: one per host instance (Envoy VM, edge isolate). What it was built with (the
//! validated config and the host's verifier) never changes; what changes (key sets and
//! the verified-token cache) is [`GateState`]. A decision borrows the first immutably and
//! the second mutably (see `decide.rs`), so neither needs a shared-pointer workaround.

use crate::cache::{TokenCache, TokenDigest};
use crate::config::{ConfigError, GateConfig, JwksSource, KeySource, ProviderConfig};
use crate::decide::Pass;
use crate::decision::Decision;
use crate::fetched::{
    DiscoveryDoc, DocEvent, DocId, DocKind, FetchIdentity, FetchRequest, FetchResult, Fetched, KeySet, KeyStore,
};
use crate::introspect::share::SharedRecord;
use crate::introspect::{answer, Introspector, Stats};
use crate::job::{Verifier, VerifyJob};
use crate::request::RequestView;
use crate::revocation::Revocation;
use crate::sender::replay::{MemoryReplay, ReplayStore};
use crate::trace::Trace;
use sha2::{Digest, Sha256};

/// What a host needs to share one introspection call's answer with the other VMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SharedCall {
    /// SHA-256 of the token: the record's key (never the token itself).
    pub digest: TokenDigest,
    /// The table slot (`shared_cache_size` slots, direct-mapped).
    pub index: usize,
    /// How long a pending marker holds the other VMs.
    pub lease_ms: u64,
}

pub struct Gate {
    config: GateConfig,
    verifier: Verifier,
    state: GateState,
}

/// Everything a gate learns while it runs: key sets (one per provider, by index) and the
/// verified-token cache.
pub(crate) struct GateState {
    pub keys: Vec<KeySet>,
    pub cache: TokenCache,
    /// Each provider's denylists (`None`: no `revocation` block).
    pub revocations: Vec<Option<Revocation>>,
    /// The key table of each `api_keys` provider (`None` for JWT providers), by index.
    pub api_keys: Vec<Option<KeyStore>>,
    /// DPoP proof ids seen (in memory unless the host installs a shared store).
    pub replay: Box<dyn ReplayStore>,
    /// One per provider with an `introspection` block, by provider index.
    pub introspectors: Vec<Option<Introspector>>,
    /// One per provider with `discovery`, by provider index.
    pub discovery: Vec<Option<Fetched<DiscoveryDoc>>>,
    /// Each provider's login flow state (token calls, spent `state`s), by index.
    pub logins: Vec<crate::session::Login>,
    /// Back-channel logouts applied here and not yet handed to the host to share.
    pub logout_outbox: Vec<String>,
    /// `Some` only while [`Gate::explain`] runs: the hot path records nothing.
    pub trace: Option<Box<Trace>>,
}

impl Gate {
    /// `verifier` is what the host offers; the config's `verifier: "software"` overrides
    /// it. `seed` feeds refresh jitter; hosts pass a random value.
    pub fn new(config: GateConfig, verifier: Verifier, seed: u64) -> Gate {
        let keys = config
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| match &p.jwks {
                JwksSource::Inline(doc) => KeySet::inline(i, doc.clone()),
                JwksSource::Remote(r) => {
                    KeySet::remote(i, r.clone(), p.algorithms.clone(), seed.wrapping_add(i as u64))
                }
            })
            .collect();
        let revocations = config
            .providers
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let seed = seed.rotate_left(17).wrapping_add(i as u64);
                p.revocation.as_ref().map(|r| Revocation::new(i, r, &p.issuer, p.clock_skew_s, seed))
            })
            .collect();
        let api_keys = config.providers.iter().enumerate().map(|(i, p)| key_store(i, p, seed)).collect();
        let cache = TokenCache::new(config.token_cache_size);
        let introspectors = config.providers.iter().map(|p| p.introspection.clone().map(Introspector::new)).collect();
        let discovery = (0..config.providers.len()).map(|i| crate::gate_docs::discovery_of(&config, i, seed)).collect();
        let verifier = if config.prefer_native { verifier } else { Verifier::Software };
        let replay = Box::new(MemoryReplay::new(config.dpop.replay_cache_size));
        let logins = config.providers.iter().map(|_| crate::session::Login::default()).collect();
        let state = GateState {
            keys,
            cache,
            revocations,
            api_keys,
            replay,
            introspectors,
            discovery,
            logins,
            logout_outbox: Vec::new(),
            trace: None,
        };
        Gate { config, verifier, state }
    }

    /// Replaces the in-memory DPoP replay set, e.g. with one that every Envoy worker VM
    /// of the process shares.
    pub fn set_replay_store(&mut self, store: Box<dyn ReplayStore>) {
        self.state.replay = store;
    }

    /// A gate with the software verifier.
    pub fn from_json(text: &str, seed: u64) -> Result<Gate, ConfigError> {
        GateConfig::from_json(text).map(|c| Gate::new(c, Verifier::Software, seed))
    }

    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    /// The verifier in use (the host's offer, unless the config asked for software).
    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Decides one request. `arrived_ms` is when the request arrived: while less than
    /// `startup_hold_ms` has passed since then, missing keys yield `NeedKeys` (hold it and
    /// decide again with the same `arrived_ms`); after that, 503 or 401.
    pub fn decide(&mut self, req: &RequestView<'_>, now_ms: u64, arrived_ms: u64) -> Decision {
        Pass::new(&self.config, &self.verifier, &mut self.state, now_ms, arrived_ms).decide(req, Vec::new())
    }

    /// Goes on with the decision `job` belongs to, now that the host has checked its
    /// signature (`valid`), and returns the next decision: final, or another job (an
    /// all_of rule verifies one token per job). Consumes the job: it answers once.
    pub fn resume(&mut self, job: VerifyJob, valid: bool, now_ms: u64) -> Decision {
        let rest = job.answer(valid);
        let pass = Pass::new(&self.config, &self.verifier, &mut self.state, now_ms, rest.arrived_ms);
        pass.decide(&rest.request.view(), rest.verdicts)
    }

    /// [`Gate::decide`], also returning what the pass did (rule, token place, checks).
    /// For tools; the cache is bypassed so every check runs and is reported.
    pub fn explain(&mut self, req: &RequestView<'_>, now_ms: u64, arrived_ms: u64) -> (Decision, Trace) {
        self.explained(|g| g.decide(req, now_ms, arrived_ms))
    }

    /// [`Gate::resume`], also returning what this pass did.
    pub fn explain_resume(&mut self, job: VerifyJob, valid: bool, now_ms: u64) -> (Decision, Trace) {
        self.explained(|g| g.resume(job, valid, now_ms))
    }

    fn explained(&mut self, run: impl FnOnce(&mut Gate) -> Decision) -> (Decision, Trace) {
        self.state.trace = Some(Box::default());
        let cache = std::mem::replace(&mut self.state.cache, TokenCache::new(0));
        let decision = run(self);
        self.state.cache = cache;
        let trace = self.state.trace.take().map(|t| *t).unwrap_or_default();
        (decision, trace)
    }

    pub fn key_count(&self, provider: usize) -> usize {
        self.state.keys.get(provider).map_or(0, KeySet::key_count)
    }

    /// API-key digests held by `api_keys` provider `provider` (0 for any other).
    pub fn api_key_count(&self, provider: usize) -> usize {
        self.key_store(provider).map_or(0, KeyStore::key_count)
    }

    fn key_store(&self, provider: usize) -> Option<&KeyStore> {
        self.state.api_keys.get(provider).and_then(Option::as_ref)
    }

    /// Every remote document known at load, with its fetch identity. Envoy opens one
    /// shared-data channel per entry; documents that appear later (named by a token, say)
    /// are found with [`Gate::fetch_identity`] when their first fetch is asked for.
    pub fn remote_docs(&self) -> Vec<(DocId, FetchIdentity)> {
        let n = self.config.providers.len();
        let discovery = |provider| DocId { provider, kind: DocKind::Discovery };
        let kinds: [fn(usize) -> DocId; 4] = [DocId::jwks, discovery, DocId::revocation, DocId::api_keys];
        let docs = kinds.into_iter().flat_map(|kind| (0..n).map(kind));
        docs.filter_map(|doc| self.fetch_identity(doc).map(|id| (doc, id))).collect()
    }

    /// What decides the bytes `doc`'s fetch returns (plus the issuer it is trusted for);
    /// `None` for a document that is not fetched (inline keys) or does not exist.
    pub fn fetch_identity(&self, doc: DocId) -> Option<FetchIdentity> {
        let provider = self.config.providers.get(doc.provider)?;
        match (doc.kind, &provider.jwks) {
            (DocKind::Revocation, _) => {
                let remote = self.revocation(doc.provider)?.remote()?;
                Some(FetchIdentity::of(doc.kind, remote, &provider.issuer))
            }
            (DocKind::Jwks, JwksSource::Remote(r)) if !provider.is_api_keys() => {
                Some(FetchIdentity::of(doc.kind, r, &provider.issuer))
            }
            (DocKind::Jwks, _) => None,
            // A feed is trusted for its provider: the name takes the issuer's place.
            (DocKind::ApiKeys, _) => match &provider.api_keys()?.keys {
                KeySource::Feed(r) => Some(FetchIdentity::of(doc.kind, r, &provider.name)),
                KeySource::Inline(_) => None,
            },
            (DocKind::Discovery, _) => {
                provider.discovery.as_ref().map(|d| FetchIdentity::of(doc.kind, &d.remote, &provider.issuer))
            }
            (DocKind::Introspection(_), _) => {
                provider.introspection.as_ref().map(|i| FetchIdentity::of_introspection(doc.kind, i, &provider.issuer))
            }
            (DocKind::Token(_), _) => {
                provider.login.as_ref().map(|l| FetchIdentity::of_introspection(doc.kind, &l.token, &provider.issuer))
            }
            (DocKind::StatusList(slot), _) => {
                let remote = self.revocation(doc.provider)?.list_remote(usize::from(slot))?;
                Some(FetchIdentity::of(doc.kind, remote, &provider.issuer))
            }
        }
    }

    /// The largest body worth reading for `doc`; hosts read at most one byte more.
    pub fn fetch_body_cap(&self, doc: DocId) -> usize {
        match doc.kind {
            DocKind::Jwks => self.state.keys.get(doc.provider).map_or(0, KeySet::body_cap),
            DocKind::Revocation => self.revocation(doc.provider).map_or(0, Revocation::body_cap),
            DocKind::ApiKeys => self.key_store(doc.provider).map_or(0, KeyStore::body_cap),
            DocKind::Discovery => self
                .config
                .providers
                .get(doc.provider)
                .and_then(|p| p.discovery.as_ref())
                .map_or(0, |d| d.remote.max_body_bytes),
            DocKind::Introspection(_) => self.introspector(doc.provider).map_or(0, |i| i.config().max_body_bytes),
            DocKind::StatusList(_) => self.revocation(doc.provider).map_or(0, Revocation::list_body_cap),
            DocKind::Token(_) => crate::session::calls::MAX_ANSWER_BYTES,
        }
    }

    /// Fetches the host must start now: due key sets, revocation lists and key feeds,
    /// then introspection calls (one per token being waited for).
    pub fn poll_fetches(&mut self, now_ms: u64) -> Vec<FetchRequest> {
        let mut out = crate::gate_docs::poll_keys_and_discovery(&mut self.state, now_ms);
        out.extend(self.state.revocations.iter_mut().flatten().filter_map(|r| r.poll(now_ms)));
        out.extend(self.state.api_keys.iter_mut().flatten().filter_map(|k| k.poll(now_ms)));
        for (p, intro) in self.state.introspectors.iter_mut().enumerate() {
            if let Some(intro) = intro {
                out.extend(intro.poll(p, now_ms, &mut fresh_jti));
            }
        }
        out.extend(self.state.revocations.iter_mut().flatten().flat_map(|r| r.poll_lists(now_ms)));
        for (p, login) in self.state.logins.iter_mut().enumerate() {
            if let Some(cfg) = self.config.providers[p].login.as_deref() {
                out.extend(login.calls.poll(p, cfg, now_ms, &mut fresh_jti));
            }
        }
        out
    }

    /// Applies the outcome of a fetch of `doc` (this host's, or one another VM of the
    /// process published). `None`: no such document.
    pub fn on_fetch_result(&mut self, doc: DocId, now_ms: u64, r: FetchResult<'_>) -> Option<DocEvent> {
        match doc.kind {
            DocKind::Jwks => {
                self.state.keys.get_mut(doc.provider).map(|k| DocEvent::Keys(k.on_fetch_result(now_ms, r)))
            }
            DocKind::Revocation => {
                let r = self.state.revocations.get_mut(doc.provider)?.as_mut()?.on_fetch_result(now_ms, r)?;
                Some(DocEvent::Revocation(r))
            }
            DocKind::ApiKeys => {
                let store = self.state.api_keys.get_mut(doc.provider)?.as_mut()?;
                Some(DocEvent::ApiKeys(store.on_fetch_result(now_ms, r)))
            }
            DocKind::Discovery => crate::gate_docs::on_discovery(&mut self.state, doc.provider, now_ms, r),
            DocKind::Introspection(slot) => {
                // An `active` answer goes through the same claim checks as a JWT.
                let config = &self.config;
                let intro = self.state.introspectors.get_mut(doc.provider)?.as_mut()?;
                let accept = |claims| answer::accept(config, doc.provider, claims, now_ms / 1000);
                Some(DocEvent::Introspection(intro.on_result(slot, now_ms, r.status, r.body, accept)))
            }
            DocKind::Token(slot) => {
                let calls = &mut self.state.logins.get_mut(doc.provider)?.calls;
                Some(DocEvent::Token(calls.on_result(slot, now_ms, r.status, r.body)))
            }
            DocKind::StatusList(slot) => {
                let revocation = self.state.revocations.get_mut(doc.provider)?.as_mut()?;
                Some(DocEvent::StatusList(revocation.on_list_result(usize::from(slot), now_ms, r)?))
            }
        }
    }

    /// Gauges describing `doc` now (name, value), for the host to set after each event:
    /// `jwks_keys.<provider>` for a key set.
    pub fn doc_gauges(&self, doc: DocId) -> Vec<(String, u64)> {
        let Some(provider) = self.config.providers.get(doc.provider) else { return Vec::new() };
        match doc.kind {
            DocKind::Jwks => vec![(format!("jwks_keys.{}", provider.name), self.key_count(doc.provider) as u64)],
            DocKind::Revocation => self.revocation(doc.provider).map_or_else(Vec::new, |r| r.gauges(&provider.name)),
            DocKind::ApiKeys => vec![(format!("api_keys.{}", provider.name), self.api_key_count(doc.provider) as u64)],
            DocKind::Discovery => Vec::new(),
            DocKind::Introspection(_) => {
                self.introspection_stats(doc.provider).map_or_else(Vec::new, |s| s.gauges(&provider.name))
            }
            DocKind::StatusList(_) | DocKind::Token(_) => Vec::new(),
        }
    }

    /// Whether an introspection call is waiting to be sent: a host that otherwise starts
    /// fetches on a timer can start it at once (a request is held for it).
    pub fn has_unsent_calls(&self) -> bool {
        self.state.introspectors.iter().flatten().any(Introspector::has_unsent)
            || self.state.logins.iter().any(|l| l.calls.has_unsent())
    }

    fn introspector(&self, provider: usize) -> Option<&Introspector> {
        self.state.introspectors.get(provider)?.as_ref()
    }

    /// Envoy's table of answers shared by the VMs of a process, for introspection call
    /// `doc`: the token's digest, the table size and the lease; `None` when the provider
    /// keeps answers per VM (`shared_cache_size: 0`) or `doc` is no pending call.
    pub fn shared_introspection(&self, doc: DocId) -> Option<SharedCall> {
        let DocKind::Introspection(slot) = doc.kind else { return None };
        let intro = self.introspector(doc.provider)?;
        let slots = intro.config().shared_cache_size;
        let digest = intro.pending_digest(slot)?;
        (slots > 0).then(|| SharedCall {
            digest,
            index: SharedRecord::index(&digest, slots),
            lease_ms: intro.lease_ms(),
        })
    }

    /// Until when the answer applied for `digest` is reused (see [`SharedRecord::Answer`]).
    pub fn introspection_until(&self, provider: usize, digest: &TokenDigest) -> Option<u64> {
        self.introspector(provider)?.answer_until_ms(digest)
    }

    /// Introspection counters of `provider` (calls, hits, stale_served, ...).
    pub fn introspection_stats(&self, provider: usize) -> Option<Stats> {
        self.introspector(provider).map(Introspector::stats)
    }

    fn revocation(&self, p: usize) -> Option<&Revocation> {
        self.state.revocations.get(p).and_then(Option::as_ref)
    }

    /// No trace is being recorded (tests only: the hot path must record nothing).
    #[cfg(test)]
    pub(crate) fn tracing(&self) -> bool {
        self.state.trace.is_some()
    }

    /// Entries in the verified-token cache (tests only: no host needs it).
    #[cfg(test)]
    pub(crate) fn cached_tokens(&self) -> usize {
        self.state.cache.len()
    }
}

/// The key table an `api_keys` provider starts with: its inline digests, or a cold feed.
fn key_store(i: usize, p: &ProviderConfig, seed: u64) -> Option<KeyStore> {
    let keys = p.api_keys()?;
    Some(match &keys.keys {
        KeySource::Inline(table) => KeyStore::Inline(table.clone()),
        KeySource::Feed(remote) => KeyStore::feed(
            DocId::api_keys(i),
            remote.clone(),
            keys.rendering.clone(),
            seed.wrapping_add(0x6b65_7973 + i as u64),
        ),
    })
}

/// 128 fresh random bits for a client assertion's `jti`. Should the platform's source
/// fail, a counter and the hash of an address still make it unique per gate (it must be
/// unique, not secret).
fn fresh_jti() -> [u8; 16] {
    let mut out = [0u8; 16];
    if getrandom::getrandom(&mut out).is_err() {
        use std::sync::atomic::{AtomicU64, Ordering};
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        out.copy_from_slice(&Sha256::digest(format!("{n}:{:p}", &COUNTER).as_bytes())[..16]);
    }
    out
}

/// A short, stable, non-reversible label for a token in logs.
pub fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    crate::hex::encode(&digest[..6])
}

#[path = "session/backchannel.rs"]
mod backchannel;
pub(crate) use backchannel::MAX_LOGOUT_BODY;

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "gate_apikey_tests.rs"]
mod apikey_tests;
