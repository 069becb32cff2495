//! `Gate`: one per host instance (Envoy VM, edge isolate). What it was built with (the
//! validated config and the host's verifier) never changes; what changes (key sets and
//! the verified-token cache) is [`GateState`]. A decision borrows the first immutably and
//! the second mutably (see `decide.rs`), so neither needs a shared-pointer workaround.

use crate::cache::TokenCache;
use crate::config::{ConfigError, GateConfig, JwksSource};
use crate::decide::Pass;
use crate::decision::Decision;
use crate::fetched::{DocEvent, DocId, DocKind, FetchIdentity, FetchRequest, FetchResult, KeySet};
use crate::job::{Verifier, VerifyJob};
use crate::request::RequestView;
use crate::trace::Trace;
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
        let cache = TokenCache::new(config.token_cache_size);
        let verifier = if config.prefer_native { verifier } else { Verifier::Software };
        Gate { config, verifier, state: GateState { keys, cache, trace: None } }
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

    /// Every remote document known at load, with its fetch identity. Envoy opens one
    /// shared-data channel per entry; documents that appear later (named by a token, say)
    /// are found with [`Gate::fetch_identity`] when their first fetch is asked for.
    pub fn remote_docs(&self) -> Vec<(DocId, FetchIdentity)> {
        let jwks = (0..self.config.providers.len()).map(DocId::jwks);
        jwks.filter_map(|doc| self.fetch_identity(doc).map(|id| (doc, id))).collect()
    }

    /// What decides the bytes `doc`'s fetch returns (plus the issuer it is trusted for);
    /// `None` for a document that is not fetched (inline keys) or does not exist.
    pub fn fetch_identity(&self, doc: DocId) -> Option<FetchIdentity> {
        let provider = self.config.providers.get(doc.provider)?;
        match (doc.kind, &provider.jwks) {
            (DocKind::Jwks, JwksSource::Remote(r)) => Some(FetchIdentity::of(doc.kind, r, &provider.issuer)),
            (DocKind::Jwks, JwksSource::Inline(_)) => None,
        }
    }

    /// The largest body worth reading for `doc`; hosts read at most one byte more.
    pub fn fetch_body_cap(&self, doc: DocId) -> usize {
        match doc.kind {
            DocKind::Jwks => self.state.keys.get(doc.provider).map_or(0, KeySet::body_cap),
        }
    }

    /// Fetches the host must start now.
    pub fn poll_fetches(&mut self, now_ms: u64) -> Vec<FetchRequest> {
        self.state.keys.iter_mut().filter_map(|k| k.poll(now_ms)).collect()
    }

    /// Applies the outcome of a fetch of `doc` (this host's, or one another VM of the
    /// process published). `None`: no such document.
    pub fn on_fetch_result(&mut self, doc: DocId, now_ms: u64, r: FetchResult<'_>) -> Option<DocEvent> {
        match doc.kind {
            DocKind::Jwks => {
                self.state.keys.get_mut(doc.provider).map(|k| DocEvent::Keys(k.on_fetch_result(now_ms, r)))
            }
        }
    }

    /// Gauges describing `doc` now (name, value), for the host to set after each event:
    /// `jwks_keys.<provider>` for a key set.
    pub fn doc_gauges(&self, doc: DocId) -> Vec<(String, u64)> {
        let Some(provider) = self.config.providers.get(doc.provider) else { return Vec::new() };
        match doc.kind {
            DocKind::Jwks => vec![(format!("jwks_keys.{}", provider.name), self.key_count(doc.provider) as u64)],
        }
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

/// A short, stable, non-reversible label for a token in logs.
pub fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    crate::hex::encode(&digest[..6])
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
