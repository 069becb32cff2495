//! `Gate`: one per host instance (Envoy VM, edge isolate). What it was built with (the
//! validated config and the host's verifier) never changes; what changes (key sets and
//! the verified-token cache) is [`GateState`]. A decision borrows the first immutably and
//! the second mutably (see `decide.rs`), so neither needs a shared-pointer workaround.

use crate::cache::TokenCache;
use crate::config::{ConfigError, GateConfig, JwksSource};
use crate::decide::Pass;
use crate::decision::Decision;
use crate::fetched::{
    DiscoveryDoc, DocEvent, DocId, DocKind, FetchIdentity, FetchRequest, FetchResult, Fetched, KeySet,
};
use crate::introspect::{answer, Introspector, Stats};
use crate::job::{Verifier, VerifyJob};
use crate::request::RequestView;
use sha2::{Digest, Sha256};

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
    /// One per provider with an `introspection` block, by provider index.
    pub introspectors: Vec<Option<Introspector>>,
    /// One per provider with `discovery`, by provider index.
    pub discovery: Vec<Option<Fetched<DiscoveryDoc>>>,
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
        let cache = TokenCache::new(config.token_cache_size);
        let introspectors = config.providers.iter().map(|p| p.introspection.clone().map(Introspector::new)).collect();
        let discovery = (0..config.providers.len()).map(|i| crate::gate_docs::discovery_of(&config, i, seed)).collect();
        let verifier = if config.prefer_native { verifier } else { Verifier::Software };
        Gate { config, verifier, state: GateState { keys, cache, introspectors, discovery } }
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

    pub fn key_count(&self, provider: usize) -> usize {
        self.state.keys.get(provider).map_or(0, KeySet::key_count)
    }

    /// Every remote document known at load, with its fetch identity. Envoy opens one
    /// shared-data channel per entry; documents that appear later (named by a token, say)
    /// are found with [`Gate::fetch_identity`] when their first fetch is asked for.
    pub fn remote_docs(&self) -> Vec<(DocId, FetchIdentity)> {
        let n = self.config.providers.len();
        let discovery = (0..n).map(|provider| DocId { provider, kind: DocKind::Discovery });
        let docs = (0..n).map(DocId::jwks).chain(discovery);
        docs.filter_map(|doc| self.fetch_identity(doc).map(|id| (doc, id))).collect()
    }

    /// What decides the bytes `doc`'s fetch returns (plus the issuer it is trusted for);
    /// `None` for a document that is not fetched (inline keys) or does not exist.
    pub fn fetch_identity(&self, doc: DocId) -> Option<FetchIdentity> {
        let provider = self.config.providers.get(doc.provider)?;
        match (doc.kind, &provider.jwks) {
            (DocKind::Jwks, JwksSource::Remote(r)) => Some(FetchIdentity::of(doc.kind, r, &provider.issuer)),
            (DocKind::Jwks, JwksSource::Inline(_)) => None,
            (DocKind::Discovery, _) => {
                provider.discovery.as_ref().map(|d| FetchIdentity::of(doc.kind, &d.remote, &provider.issuer))
            }
            (DocKind::Introspection(_), _) => {
                provider.introspection.as_ref().map(|i| FetchIdentity::of_introspection(doc.kind, i, &provider.issuer))
            }
        }
    }

    /// The largest body worth reading for `doc`; hosts read at most one byte more.
    pub fn fetch_body_cap(&self, doc: DocId) -> usize {
        match doc.kind {
            DocKind::Jwks => self.state.keys.get(doc.provider).map_or(0, KeySet::body_cap),
            DocKind::Discovery => self
                .config
                .providers
                .get(doc.provider)
                .and_then(|p| p.discovery.as_ref())
                .map_or(0, |d| d.remote.max_body_bytes),
            DocKind::Introspection(_) => self.introspector(doc.provider).map_or(0, |i| i.config().max_body_bytes),
        }
    }

    /// Fetches the host must start now: due key sets, then introspection calls (one per
    /// token being waited for).
    pub fn poll_fetches(&mut self, now_ms: u64) -> Vec<FetchRequest> {
        let mut out = crate::gate_docs::poll_keys_and_discovery(&mut self.state, now_ms);
        for (p, intro) in self.state.introspectors.iter_mut().enumerate() {
            if let Some(intro) = intro {
                out.extend(intro.poll(p, now_ms, &mut fresh_jti));
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
            DocKind::Discovery => crate::gate_docs::on_discovery(&mut self.state, doc.provider, now_ms, r),
            DocKind::Introspection(slot) => {
                // An `active` answer goes through the same claim checks as a JWT.
                let config = &self.config;
                let intro = self.state.introspectors.get_mut(doc.provider)?.as_mut()?;
                let accept = |claims| answer::accept(config, doc.provider, claims, now_ms / 1000);
                Some(DocEvent::Introspection(intro.on_result(slot, now_ms, r.status, r.body, accept)))
            }
        }
    }

    /// Gauges describing `doc` now (name, value), for the host to set after each event:
    /// `jwks_keys.<provider>` for a key set.
    pub fn doc_gauges(&self, doc: DocId) -> Vec<(String, u64)> {
        let Some(provider) = self.config.providers.get(doc.provider) else { return Vec::new() };
        match doc.kind {
            DocKind::Jwks => vec![(format!("jwks_keys.{}", provider.name), self.key_count(doc.provider) as u64)],
            DocKind::Discovery => Vec::new(),
            DocKind::Introspection(_) => {
                self.introspection_stats(doc.provider).map_or_else(Vec::new, |s| s.gauges(&provider.name))
            }
        }
    }

    /// Whether an introspection call is waiting to be sent: a host that otherwise starts
    /// fetches on a timer can start it at once (a request is held for it).
    pub fn has_unsent_calls(&self) -> bool {
        self.state.introspectors.iter().flatten().any(Introspector::has_unsent)
    }

    fn introspector(&self, provider: usize) -> Option<&Introspector> {
        self.state.introspectors.get(provider)?.as_ref()
    }

    /// Introspection counters of `provider` (calls, hits, stale_served, ...).
    pub fn introspection_stats(&self, provider: usize) -> Option<Stats> {
        self.introspector(provider).map(Introspector::stats)
    }

    /// Entries in the verified-token cache (tests only: no host needs it).
    #[cfg(test)]
    pub(crate) fn cached_tokens(&self) -> usize {
        self.state.cache.len()
    }
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

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
