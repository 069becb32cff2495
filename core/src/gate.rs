//! `Gate::decide`: one request in, one [`Decision`] out. Pure: time is an argument and
//! key material arrives through [`Gate::on_fetch_result`].

use crate::claims;
use crate::config::{ConfigError, GateConfig, JwksSource, Requirement, Rule, TokenSource};
use crate::decision::{Allowed, Decision, Denial};
use crate::error::AuthError;
use crate::extract::{extract, removal_edits, Found};
use crate::headers::claim_headers;
use crate::keyset::{FetchRequest, FetchResult, KeySet, KeySetEvent, Lookup};
use crate::path;
use crate::request::RequestView;
use crate::rules;
use crate::token;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
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
    config: Rc<GateConfig>,
    keys: Vec<KeySet>,
}

/// Either a verified token's provider and claims, or how the request ends instead.
enum Checked {
    Ok(usize, Map<String, Value>),
    NeedKeys(usize),
    Err(AuthError),
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
        Gate { config: Rc::new(config), keys }
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
        let Some(rule) = rules::find(&config.rules, &path, req.method) else {
            return self.deny(AuthError::NoMatchingRule, None);
        };
        match &rule.requirement {
            Requirement::Public => Decision::Allow(self.base_allow()),
            Requirement::Provider(p) => self.require_one(req, std::slice::from_ref(p), false, rule, now_ms, wait),
            Requirement::AnyOf(ps) => self.require_one(req, ps, false, rule, now_ms, wait),
            Requirement::AllowMissing(ps) => self.require_one(req, ps, true, rule, now_ms, wait),
            Requirement::AllOf(ps) => self.require_all(req, ps, rule, now_ms, wait),
        }
    }

    fn deny(&self, reason: AuthError, token_hash: Option<String>) -> Decision {
        Decision::Deny(Denial::new(reason, &self.config.realm, token_hash))
    }

    fn base_allow(&self) -> Allowed {
        Allowed { remove: self.config.strip_headers.clone(), set: Vec::new(), token_hash: None, stale_keys: false }
    }

    fn sources_of(&self, providers: &[usize]) -> Vec<&TokenSource> {
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

    fn require_one(&mut self, req: &RequestView<'_>, ps: &[usize], optional: bool, rule: &Rule, now_ms: u64, wait: Wait) -> Decision {
        let found = match extract(req, &self.sources_of(ps)) {
            Err(e) => return self.deny(e, None),
            Ok(None) if optional => return Decision::Allow(self.base_allow()),
            Ok(None) => return self.deny(AuthError::MissingToken, None),
            Ok(Some(f)) => f,
        };
        let mut allowed = self.base_allow();
        match self.admit(req, &found, ps, rule, now_ms, wait, &mut allowed) {
            Ok(()) => Decision::Allow(allowed),
            Err(d) => d,
        }
    }

    fn require_all(&mut self, req: &RequestView<'_>, ps: &[usize], rule: &Rule, now_ms: u64, wait: Wait) -> Decision {
        let mut allowed = self.base_allow();
        for p in ps {
            let found = match extract(req, &self.sources_of(std::slice::from_ref(p))) {
                Err(e) => return self.deny(e, None),
                Ok(None) => return self.deny(AuthError::MissingToken, None),
                Ok(Some(f)) => f,
            };
            if let Err(d) = self.admit(req, &found, std::slice::from_ref(p), rule, now_ms, wait, &mut allowed) {
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
        rule: &Rule,
        now_ms: u64,
        wait: Wait,
        allowed: &mut Allowed,
    ) -> Result<(), Decision> {
        let hash = fingerprint(found.token);
        let (p, claims) = match self.check(found, ps, now_ms, wait) {
            Checked::Ok(p, claims) => (p, claims),
            Checked::NeedKeys(provider) => return Err(Decision::NeedKeys { provider }),
            Checked::Err(e) => return Err(self.deny(e, Some(hash))),
        };
        let granted = claims::granted_scopes(&claims);
        if !rule.scopes.iter().all(|s| granted.contains(&s.as_str())) {
            return Err(self.deny(AuthError::InsufficientScope(rule.scopes.join(" ")), Some(hash)));
        }
        let provider = &self.config.providers[p];
        allowed.set.extend(claim_headers(&claims, &provider.claim_headers));
        if !provider.forward_token {
            let (remove, set) = removal_edits(req, &found.source);
            allowed.remove.extend(remove);
            allowed.set.extend(set);
        }
        allowed.token_hash = Some(hash);
        allowed.stale_keys |= self.keys[p].is_stale();
        Ok(())
    }

    /// Cheap checks, key lookup, signature, then claims.
    fn check(&mut self, found: &Found<'_>, ps: &[usize], now_ms: u64, wait: Wait) -> Checked {
        let config = Rc::clone(&self.config);
        let max = ps.iter().map(|p| config.providers[*p].max_token_bytes).max().unwrap_or(0);
        let u = match token::parse(found.token, max) {
            Ok(u) => u,
            Err(e) => return Checked::Err(e),
        };
        // Issuer/key binding: only the provider that owns the claimed issuer is tried.
        let iss = claims::issuer(&u.claims);
        let Some(&p) = ps.iter().find(|p| Some(config.providers[**p].issuer.as_str()) == iss) else {
            return Checked::Err(AuthError::WrongIssuer);
        };
        let prov = &config.providers[p];
        if !prov.sources.contains(&found.source) {
            return Checked::Err(AuthError::WrongIssuer);
        }
        if found.token.len() > prov.max_token_bytes {
            return Checked::Err(AuthError::TokenTooLarge);
        }
        if !prov.algorithms.contains(&u.header.alg) {
            return Checked::Err(AuthError::AlgorithmNotAllowed);
        }
        if let Some(tt) = &prov.token_type {
            if !token::typ_matches(u.header.typ.as_deref(), tt) {
                return Checked::Err(AuthError::WrongTokenType);
            }
        }
        let verified = match self.keys[p].lookup(u.header.kid.as_deref(), u.header.alg, now_ms) {
            Lookup::Found(key) => match key.verifier(u.header.alg) {
                None => Err(AuthError::UnknownKey),
                Some(v) if v.verify(u.signing_input.as_bytes(), &u.signature) => Ok(()),
                Some(_) => Err(AuthError::BadSignature),
            },
            Lookup::Unknown => Err(AuthError::UnknownKey),
            Lookup::Unavailable { cold: true } if wait == Wait::Allowed => return Checked::NeedKeys(p),
            Lookup::Unavailable { .. } => Err(AuthError::KeysUnavailable),
        };
        if verified == Err(AuthError::UnknownKey) && wait == Wait::Allowed && self.keys[p].want_refetch(now_ms) {
            return Checked::NeedKeys(p);
        }
        if let Err(e) = verified.and_then(|()| claims::validate(&u.claims, prov, now_ms / 1000)) {
            return Checked::Err(e);
        }
        Checked::Ok(p, u.claims)
    }
}

/// A short, stable, non-reversible label for a token in logs.
pub fn fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "gate_tests.rs"]
mod tests;
