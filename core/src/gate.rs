//! `Gate::decide`: one request in, one [`Decision`] out. Pure: time is an argument and
//! key material arrives through [`Gate::on_fetch_result`].

use crate::cache::{TokenCache, TokenDigest};
use crate::check::Checked;
use crate::config::{ConfigError, GateConfig, JwksSource, Requirement, TokenSource};
use crate::decision::{Allowed, Decision, Denial};
use crate::error::AuthError;
use crate::extract::{extract, removal_edits, Found};
use crate::keyset::{FetchRequest, FetchResult, KeySet, KeySetEvent};
use crate::path;
use crate::policy::{Matched, Mode, Verdict};
use crate::request::RequestView;
use crate::rules;
use crate::verify::NativeVerifier;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::rc::Rc;

/// Whether a request may be held while keys are fetched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wait {
    /// First decision: missing keys yield `NeedKeys`.
    Allowed,
    /// The hold expired: missing keys yield 503, an unknown kid 401.
    NotAllowed,
}

pub struct Gate {
    pub(crate) config: Rc<GateConfig>,
    pub(crate) keys: Vec<KeySet>,
    pub(crate) cache: TokenCache,
    /// A host's own signature verifier (e.g. Envoy's BoringSSL), tried first when the
    /// config allows it; the software verifier covers whatever it declines.
    pub(crate) native: Option<Box<dyn NativeVerifier>>,
    /// The host verifies asynchronously (WebCrypto): signatures come back as
    /// `Decision::Verify` jobs, and answers wait here, by token digest, for the re-decision.
    pub(crate) async_verifier: bool,
    pub(crate) async_results: HashMap<TokenDigest, (String, bool)>,
}

impl Gate {
    /// `seed` feeds refresh jitter; hosts pass a random value.
    pub fn new(config: GateConfig, seed: u64) -> Gate {
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
        Gate {
            config: Rc::new(config),
            keys,
            cache,
            native: None,
            async_verifier: false,
            async_results: HashMap::new(),
        }
    }

    /// Installs a host-native verifier (used when the config's `verifier` is `auto`).
    pub fn set_native_verifier(&mut self, v: Box<dyn NativeVerifier>) {
        self.native = Some(v);
    }

    /// Declares that the host verifies signatures asynchronously (see `Decision::Verify`).
    pub fn set_async_verifier(&mut self, enabled: bool) {
        self.async_verifier = enabled;
    }

    /// The host's answer to a `Decision::Verify` job; decide the request again next.
    /// Answers not consumed are dropped beyond a small bound.
    pub fn complete_signature(&mut self, ticket: &str, valid: bool) {
        let Some((digest, key_ref)) = parse_ticket(ticket) else { return };
        if self.async_results.len() >= 1024 {
            self.async_results.clear();
        }
        self.async_results.insert(digest, (key_ref.to_owned(), valid));
    }

    /// Entries in the verified-token cache.
    pub fn cached_tokens(&self) -> usize {
        self.cache.len()
    }

    pub fn from_json(text: &str, seed: u64) -> Result<Gate, ConfigError> {
        GateConfig::from_json(text).map(|c| Gate::new(c, seed))
    }

    pub fn config(&self) -> &GateConfig {
        &self.config
    }

    pub fn key_count(&self, provider: usize) -> usize {
        self.keys.get(provider).map_or(0, KeySet::key_count)
    }

    /// The largest JWKS body worth reading for `provider`; hosts read at most one byte more.
    pub fn fetch_body_cap(&self, provider: usize) -> usize {
        self.keys.get(provider).map_or(0, KeySet::body_cap)
    }

    /// Fetches the host must start now.
    pub fn poll_fetches(&mut self, now_ms: u64) -> Vec<FetchRequest> {
        self.keys.iter_mut().filter_map(|k| k.poll(now_ms)).collect()
    }

    pub fn on_fetch_result(&mut self, provider: usize, now_ms: u64, r: FetchResult<'_>) -> Option<KeySetEvent> {
        self.keys.get_mut(provider).map(|k| k.on_fetch_result(now_ms, r))
    }

    /// Decides one request.
    pub fn decide(&mut self, req: &RequestView<'_>, now_ms: u64, wait: Wait) -> Decision {
        let config = Rc::clone(&self.config);
        let path = match path::normalize(req.path) {
            Ok(p) => p,
            Err(e) => return self.deny(e, None),
        };
        let matched = match rules::find(&config.rules, &path, req) {
            Ok(m) => m,
            Err(e) => return self.deny(e, None),
        };
        let decision = match &matched {
            None => self.deny(AuthError::NoMatchingRule, None),
            Some(m) => match &m.rule.requirement {
                Requirement::Public => Decision::Allow(self.base_allow(req)),
                Requirement::Provider(p) => self.require_one(req, std::slice::from_ref(p), false, m, now_ms, wait),
                Requirement::AnyOf(ps) => self.require_one(req, ps, false, m, now_ms, wait),
                Requirement::AllowMissing(ps) => self.require_one(req, ps, true, m, now_ms, wait),
                Requirement::AllOf(ps) => self.require_all(req, ps, m, now_ms, wait),
            },
        };
        match self.finish(decision, matched.as_ref().map(|m| m.rule), req) {
            Decision::Allow(a) => Decision::Allow(forward_normalized(a, req.path, &path)),
            other => other,
        }
    }

    fn deny(&self, reason: AuthError, token_hash: Option<String>) -> Decision {
        let d = Denial::new(reason, &self.config.realm, token_hash);
        Decision::Deny(if self.config.reason_in_body { d.with_reason_in_body() } else { d })
    }

    /// The headers this request carries that the gate strips, in whatever spelling the
    /// client used (see `strip.rs`): removing an absent header is a no-op, and each
    /// removal is a host call on the hot path.
    fn base_allow(&self, req: &RequestView<'_>) -> Allowed {
        let remove = self.config.strip.to_remove(req);
        Allowed { remove, ..Allowed::default() }
    }

    pub(crate) fn sources_of(&self, providers: &[usize]) -> Vec<&TokenSource> {
        let mut out: Vec<&TokenSource> = Vec::new();
        for p in providers {
            for s in &self.config.providers[*p].sources {
                if !out.contains(&s) {
                    out.push(s);
                }
            }
        }
        out
    }

    fn require_one(
        &mut self,
        req: &RequestView<'_>,
        ps: &[usize],
        optional: bool,
        m: &Matched<'_, '_>,
        now_ms: u64,
        wait: Wait,
    ) -> Decision {
        let found = match extract(req, &self.sources_of(ps)) {
            Err(e) => return self.deny(e, None),
            Ok(None) if optional => return Decision::Allow(self.base_allow(req)),
            Ok(None) => return self.deny(AuthError::MissingToken, None),
            Ok(Some(f)) => f,
        };
        let mut allowed = self.base_allow(req);
        match self.admit(req, &found, ps, m, now_ms, wait, &mut allowed) {
            Ok(()) => Decision::Allow(allowed),
            Err(d) => d,
        }
    }

    fn require_all(
        &mut self,
        req: &RequestView<'_>,
        ps: &[usize],
        m: &Matched<'_, '_>,
        now_ms: u64,
        wait: Wait,
    ) -> Decision {
        let mut allowed = self.base_allow(req);
        for p in ps {
            let found = match extract(req, &self.sources_of(std::slice::from_ref(p))) {
                Err(e) => return self.deny(e, None),
                Ok(None) => return self.deny(AuthError::MissingToken, None),
                Ok(Some(f)) => f,
            };
            if let Err(d) = self.admit(req, &found, std::slice::from_ref(p), m, now_ms, wait, &mut allowed) {
                return d;
            }
        }
        Decision::Allow(allowed)
    }

    /// Verifies one found token for one of `ps` and adds its header edits to `allowed`.
    #[allow(clippy::too_many_arguments)]
    fn admit(
        &mut self,
        req: &RequestView<'_>,
        found: &Found<'_>,
        ps: &[usize],
        m: &Matched<'_, '_>,
        now_ms: u64,
        wait: Wait,
        allowed: &mut Allowed,
    ) -> Result<(), Decision> {
        let hash = fingerprint(found.token);
        let v = match self.check(found, ps, now_ms, wait) {
            Checked::Ok(v) => v,
            Checked::NeedKeys(provider) => return Err(Decision::NeedKeys { provider }),
            Checked::Verify(job) => return Err(Decision::Verify(job)),
            Checked::Err(e) => return Err(self.deny(e, Some(hash))),
        };
        // Scopes and `require`; in report-only mode a failure is recorded and the valid
        // token's claim headers are still set.
        if let Err(e) = self.authorize(m, &v, req) {
            match self.mode_of(Some(m.rule)) {
                Mode::Enforce => return Err(self.deny(e, Some(hash))),
                Mode::ReportOnly => {
                    allowed.verdict.get_or_insert_with(|| Verdict::deny(&m.rule.name, &e, Mode::ReportOnly));
                }
            }
        }
        let p = v.provider;
        let provider = &self.config.providers[p];
        allowed.set.extend(v.headers);
        if !provider.forward_token {
            let (remove, set) = removal_edits(req, &found.source);
            allowed.remove.extend(remove);
            allowed.set.extend(set);
        }
        allowed.token_hash = Some(hash);
        allowed.stale_keys |= self.keys[p].is_stale();
        Ok(())
    }
}

/// `<token digest hex>|<key_ref>`: the answer counts only for that token and that key.
/// The upstream gets the path the decision was made on: if normalising changed it, the
/// allowed request's `:path` is rewritten (query kept, fragment dropped). Behind Envoy,
/// which normalises first, this never fires; at the edge it keeps a backend from reading
/// `/public/./x` or `//public/x` differently than the gate did.
fn forward_normalized(mut a: Allowed, raw: &str, normalized: &str) -> Allowed {
    let raw_path = &raw[..raw.find(['?', '#']).unwrap_or(raw.len())];
    let had_fragment = raw.contains('#');
    if raw_path == normalized && !had_fragment {
        return a;
    }
    let current = a.set.iter().rev().find(|(k, _)| k == ":path").map(|(_, v)| v.clone());
    let query_of = |p: &str| p.split('#').next().and_then(|p| p.split_once('?')).map(|(_, q)| q.to_owned());
    let query = match current {
        Some(edited) => query_of(&edited),
        None => query_of(raw),
    };
    a.set.retain(|(k, _)| k != ":path");
    let new_path = match query {
        Some(q) if !q.is_empty() => format!("{normalized}?{q}"),
        _ => normalized.to_owned(),
    };
    a.set.push((":path".to_owned(), new_path));
    a
}

fn parse_ticket(ticket: &str) -> Option<(TokenDigest, &str)> {
    let (hex, key_ref) = ticket.split_once('|')?;
    let mut out = [0u8; 32];
    if hex.len() != 64 {
        return None;
    }
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some((out, key_ref))
}

/// A short, stable, non-reversible label for a token in logs.
pub fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    crate::hex::encode(&digest[..6])
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
