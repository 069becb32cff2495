//! Verifying one token for one of a rule's providers: the verified-token cache first,
//! then cheap checks, key lookup, signature (host-native when available), then claims.

use crate::cache::{TokenDigest, Verified};
use crate::claims;
use crate::decision::SignatureJob;
use crate::error::AuthError;
use crate::extract::Found;
use crate::gate::{Gate, Wait};
use crate::headers::claim_headers;
use crate::jwk::Key;
use crate::keyset::Lookup;
use crate::token::{self, Unverified};
use sha2::{Digest, Sha256};
use std::rc::Rc;

/// A verified token, or how the request ends instead.
pub enum Checked {
    Ok(Verified),
    NeedKeys(usize),
    Verify(SignatureJob),
    Err(AuthError),
}

/// Outcome of the signature step.
enum Signature {
    Valid,
    Invalid,
    /// The key found by `kid` cannot verify this `alg`.
    WrongKey,
    /// The host's asynchronous verifier must answer first.
    Ask(SignatureJob),
}

impl Gate {
    pub(crate) fn check(&mut self, found: &Found<'_>, ps: &[usize], now_ms: u64, wait: Wait) -> Checked {
        let digest: TokenDigest = Sha256::digest(found.token.as_bytes()).into();
        if let Some(hit) = self.cached(&digest, found, ps, now_ms) {
            return hit;
        }
        let checked = self.check_uncached(&digest, found, ps, now_ms, wait);
        if let Checked::Ok(v) = &checked {
            self.cache.insert(digest, v.clone());
        }
        checked
    }

    /// A cache hit, re-checked for this request; `None` means "verify from scratch".
    fn cached(&mut self, digest: &TokenDigest, found: &Found<'_>, ps: &[usize], now_ms: u64) -> Option<Checked> {
        let v = self.cache.get(digest)?;
        // The hit counts only for the provider that selection (first of the rule's
        // providers with the token's issuer) would pick here: a laxer provider of the
        // same issuer on another route must not vouch for it on this one.
        let issuer = &self.config.providers[v.provider].issuer;
        if ps.iter().find(|p| self.config.providers[**p].issuer == *issuer) != Some(&v.provider) {
            return None;
        }
        let keys = &self.keys[v.provider];
        if v.keys_generation != keys.generation() {
            self.cache.remove(digest);
            return None;
        }
        let prov = &self.config.providers[v.provider];
        if !prov.sources.contains(&found.source) {
            return Some(Checked::Err(AuthError::WrongSource));
        }
        if now_ms / 1000 >= v.exp_s.saturating_add(prov.clock_skew_s) {
            self.cache.remove(digest);
            return Some(Checked::Err(AuthError::Expired));
        }
        match keys.lookup(v.kid.as_deref(), v.alg, now_ms) {
            Lookup::Found(_) => Some(Checked::Ok(v.clone())),
            Lookup::Unavailable { .. } => Some(Checked::Err(AuthError::KeysUnavailable)),
            Lookup::Unknown => {
                self.cache.remove(digest);
                None
            }
        }
    }

    fn check_uncached(
        &mut self,
        digest: &TokenDigest,
        found: &Found<'_>,
        ps: &[usize],
        now_ms: u64,
        wait: Wait,
    ) -> Checked {
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
        if let Err(e) = cheap_checks(&u, found, prov) {
            return Checked::Err(e);
        }
        let answer = self.async_results.remove(digest);
        let verified = match self.keys[p].lookup(u.header.kid.as_deref(), u.header.alg, now_ms) {
            Lookup::Found(key) => match self.verify_signature(p, key, &u, digest, answer) {
                Signature::Valid => Ok(()),
                Signature::Invalid => Err(AuthError::BadSignature),
                Signature::WrongKey => Err(AuthError::UnknownKey),
                Signature::Ask(job) => return Checked::Verify(job),
            },
            Lookup::Unknown => Err(AuthError::UnknownKey),
            // Cold, or only old (an idle edge isolate): wait for the fetch. Stale because
            // refreshes fail: answer 503 now.
            Lookup::Unavailable { cold, refreshable } if wait == Wait::Allowed && (cold || refreshable) => {
                return Checked::NeedKeys(p)
            }
            Lookup::Unavailable { .. } => Err(AuthError::KeysUnavailable),
        };
        if verified == Err(AuthError::UnknownKey) && wait == Wait::Allowed && self.keys[p].want_refetch(now_ms) {
            return Checked::NeedKeys(p);
        }
        if let Err(e) = verified.and_then(|()| claims::validate(&u.claims, prov, now_ms / 1000)) {
            return Checked::Err(e);
        }
        let headers = match claim_headers(&u.claims, &prov.claim_headers) {
            Ok(h) => h,
            Err(e) => return Checked::Err(e),
        };
        let policy_claims = match crate::policy::keep(&u.claims, &config.policy_claims) {
            Ok(c) => c,
            Err(e) => return Checked::Err(e),
        };
        Checked::Ok(Verified {
            provider: p,
            alg: u.header.alg,
            kid: u.header.kid.clone(),
            exp_s: claims::expiry(&u.claims).unwrap_or(0),
            keys_generation: self.keys[p].generation(),
            scopes: claims::granted_scopes(&u.claims).into_iter().map(str::to_owned).collect(),
            headers,
            claims: policy_claims,
        })
    }

    /// In order: the host's asynchronous answer for this token, a request for one, the
    /// host's synchronous verifier, and the software verifier for whatever they decline.
    fn verify_signature(
        &self,
        p: usize,
        key: &Key,
        u: &Unverified<'_>,
        digest: &TokenDigest,
        answer: Option<(String, bool)>,
    ) -> Signature {
        let alg = u.header.alg;
        let Some(software) = key.verifier(alg) else { return Signature::WrongKey };
        let message = u.signing_input.as_bytes();
        let native_ok = self.config.prefer_native;
        let verdict = if native_ok && self.async_verifier && !alg.is_symmetric() {
            match self.async_answer(p, key, u, digest, answer) {
                Ok(verdict) => verdict,
                Err(job) => return Signature::Ask(job),
            }
        } else {
            match (&self.native, native_ok, key.spki()) {
                (Some(n), true, Some(spki)) => n.verify(alg, spki, message, &u.signature),
                _ => None,
            }
        };
        match verdict.unwrap_or_else(|| software.verify(message, &u.signature)) {
            true => Signature::Valid,
            false => Signature::Invalid,
        }
    }

    /// The asynchronous host's answer for this token and key (`Ok(Some)`), a job asking
    /// for one (`Err`), or `Ok(None)` when the key cannot be handed out (software then).
    fn async_answer(
        &self,
        p: usize,
        key: &Key,
        u: &Unverified<'_>,
        digest: &TokenDigest,
        answer: Option<(String, bool)>,
    ) -> Result<Option<bool>, SignatureJob> {
        let key_ref = format!("{p}:{}:{}", self.keys[p].generation(), key.kid.as_deref().unwrap_or(""));
        if let Some((r, ok)) = answer {
            if r == key_ref {
                return Ok(Some(ok));
            }
        }
        let Some(jwk) = key.public_jwk() else { return Ok(None) };
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        Err(SignatureJob {
            ticket: format!("{hex}|{key_ref}"),
            alg: u.header.alg,
            key_ref,
            jwk: jwk.to_owned(),
            message: u.signing_input.to_owned(),
            signature: u.signature.clone(),
        })
    }
}

/// Size, source, algorithm allow-list and type: everything decidable before any key.
fn cheap_checks(u: &Unverified<'_>, found: &Found<'_>, prov: &crate::config::ProviderConfig) -> Result<(), AuthError> {
    if !prov.sources.contains(&found.source) {
        return Err(AuthError::WrongSource);
    }
    if found.token.len() > prov.max_token_bytes {
        return Err(AuthError::TokenTooLarge);
    }
    if !prov.algorithms.contains(&u.header.alg) {
        return Err(AuthError::AlgorithmNotAllowed);
    }
    if let Some(tt) = &prov.token_type {
        if !token::typ_matches(u.header.typ.as_deref(), tt) {
            return Err(AuthError::WrongTokenType);
        }
    }
    Ok(())
}
