//! Verifying one token for one of a rule's providers: the verified-token cache first,
//! then cheap checks, key lookup, signature (host-native when available), then claims.

use crate::cache::{Proof, TokenDigest, TokenKey, Verified};
use crate::claims;
use crate::config::{GateConfig, Validation};
use crate::error::AuthError;
use crate::extract::Found;
use crate::fetched::{KeySet, Lookup};
use crate::gate::GateState;
use crate::headers::claim_headers;
use crate::job::{verdict_for, Ask, KeyRef, Verdict, Verifier};
use crate::jwk::Key;
use crate::revocation::{Check as Listed, TokenIds};
use crate::token::{self, Unverified};
use crate::trace::{Check, Trace};
use sha2::{Digest, Sha256};
use std::ops::ControlFlow;
use std::rc::Rc;

/// A verified token, or how the request ends instead.
pub enum Checked {
    /// Shared with the cache entry: a hit copies no claims, scopes or headers.
    Ok(Rc<Verified>),
    NeedKeys(usize),
    /// The asynchronous host must check this signature first.
    Ask(Ask),
    Err(AuthError),
}

/// Outcome of the signature step.
pub(crate) enum Signature {
    Valid,
    Invalid,
    /// The key found by `kid` cannot verify this `alg`.
    WrongKey,
    Ask(Ask),
}

/// What a token check reads and never changes: the config and verifier, the time, and
/// whether the request may still be held for keys.
pub(crate) struct Checker<'g> {
    pub config: &'g GateConfig,
    pub verifier: &'g Verifier,
    pub now_ms: u64,
    pub may_hold: bool,
}

impl Checker<'_> {
    /// Checks one token for one of `ps`; `verdicts` are the asynchronous host's answers
    /// given so far for this request.
    /// `key`: the token's [`crate::cache::TokenCache::key`] (the caller hashed it
    /// already for the log label).
    /// `introspect`: the rule wants even a locally valid JWT introspected.
    pub fn check(
        &self,
        state: &mut GateState,
        found: &Found<'_>,
        key: TokenKey,
        ps: &[usize],
        verdicts: &[Verdict],
        introspect: bool,
    ) -> Checked {
        // SHA-256 only off the cached path (introspection, the asynchronous host's
        // verdicts); the verified-token cache has its own cheaper keyed hash.
        let digest = || -> TokenDigest { Sha256::digest(found.token.as_bytes()).into() };
        // An opaque token (no `.`, so no JWS) goes to the first of the rule's providers
        // that introspects; with none, it fails as a malformed JWT, as it always did.
        if !found.token.contains('.') {
            if let Some(p) = ps.iter().copied().find(|p| self.config.providers[*p].validation != Validation::Jwt) {
                return match self.introspect(state, p, &digest(), found) {
                    Checked::Ok(v) => self.not_revoked(state, v),
                    other => other,
                };
            }
        }
        let checked = match self.cached(state, &key, found, ps) {
            Some(hit) => hit,
            None => {
                let checked = self.check_uncached(state, &digest(), found, ps, verdicts);
                if let Checked::Ok(v) = &checked {
                    if matches!(v.proof, Proof::Signature { .. }) {
                        state.cache.insert(key, found.token, Rc::clone(v));
                    }
                }
                checked
            }
        };
        let checked = match checked {
            // A revocable route: the signature is not enough, the IdP must still say
            // `active` (its answer is cached like any other).
            Checked::Ok(v) if introspect && matches!(v.proof, Proof::Signature { .. }) => {
                match self.introspect(state, v.provider, &digest(), found) {
                    Checked::Ok(_) => Checked::Ok(v),
                    other => other,
                }
            }
            other => other,
        };
        match checked {
            Checked::Ok(v) => self.not_revoked(state, v),
            other => other,
        }
    }

    /// The denylist check: after the signature and claims, on every request, cache hits
    /// included (a token cached before its revocation is refused from then on).
    fn not_revoked(&self, state: &mut GateState, v: Rc<Verified>) -> Checked {
        let Some(Some(r)) = state.revocations.get_mut(v.provider) else { return Checked::Ok(v) };
        let Some(keys) = state.keys.get(v.provider) else { return Checked::Err(AuthError::Internal("no key set")) };
        let Some(ids) = v.ids.as_deref() else {
            return Checked::Err(AuthError::Internal("a verified token lacks the identifiers revocation needs"));
        };
        match r.check(ids, keys, self.now_ms) {
            Listed::Clear => Checked::Ok(v),
            Listed::Revoked(_) => Checked::Err(AuthError::Revoked),
            Listed::Refused => Checked::Err(AuthError::BadClaim("status")),
            // Never loaded, or only old (an idle edge isolate): wait for the fetch, as
            // for keys. Stale because refreshes fail: 503 now.
            Listed::Unavailable { cold, refreshable } if self.may_hold && (cold || refreshable) => {
                Checked::NeedKeys(v.provider)
            }
            Listed::Unavailable { .. } => Checked::Err(AuthError::RevocationUnavailable),
        }
    }

    /// A cache hit, re-checked for this request; `None` means "verify from scratch".
    fn cached(&self, state: &mut GateState, key: &TokenKey, found: &Found<'_>, ps: &[usize]) -> Option<Checked> {
        let v = state.cache.get(key)?;
        let name = &self.config.providers[v.provider].name;
        Trace::record(&mut state.trace, || crate::trace::Step::Check {
            provider: Some(name.clone()),
            check: Check::Cache,
            outcome: Ok(()),
        });
        // The hit counts only for the provider that selection (first of the rule's
        // providers with the token's issuer) would pick here: a laxer provider of the
        // same issuer on another route must not vouch for it on this one.
        let issuer = &self.config.providers[v.provider].issuer;
        if self.config.provider_for_issuer(issuer, ps) != Some(v.provider) {
            return None;
        }
        let Proof::Signature { alg, kid, keys_generation } = &v.proof else { return None };
        let keys = &state.keys[v.provider];
        if *keys_generation != keys.generation() {
            state.cache.remove(key);
            return None;
        }
        let prov = &self.config.providers[v.provider];
        if !prov.reads(&found.source) {
            return Some(Checked::Err(AuthError::WrongSource));
        }
        if self.now_ms / 1000 >= v.exp_s.saturating_add(prov.clock_skew_s) {
            state.cache.remove(key);
            return Some(Checked::Err(AuthError::Expired));
        }
        match keys.lookup(kid.as_deref(), *alg, self.now_ms) {
            Lookup::Found(_) => Some(Checked::Ok(Rc::clone(v))),
            Lookup::Unavailable { .. } => Some(Checked::Err(AuthError::KeysUnavailable)),
            Lookup::Unknown => {
                state.cache.remove(key);
                None
            }
        }
    }

    fn check_uncached(
        &self,
        state: &mut GateState,
        digest: &TokenDigest,
        found: &Found<'_>,
        ps: &[usize],
        verdicts: &[Verdict],
    ) -> Checked {
        let config = self.config;
        let max = ps.iter().map(|p| config.providers[*p].max_token_bytes).max().unwrap_or(0);
        let t = &mut state.trace;
        let u = match Trace::check(t, None, Check::Parse, token::parse(found.token, max)) {
            Ok(u) => u,
            Err(e) => return Checked::Err(e),
        };
        // Issuer/key binding: only the provider that owns the claimed issuer is tried.
        let iss = claims::issuer(&u.claims);
        let chosen = iss.and_then(|iss| config.provider_for_issuer(iss, ps));
        let Ok(p) = Trace::check(t, None, Check::Issuer, chosen.ok_or(AuthError::WrongIssuer)) else {
            return Checked::Err(AuthError::WrongIssuer);
        };
        let prov = &config.providers[p];
        if prov.validation == Validation::Introspection {
            return self.introspect(state, p, digest, found);
        }
        let name = Some(prov.name.as_str());
        let t = &mut state.trace;
        for (check, outcome) in CHEAP_CHECKS.iter().filter_map(|c| Some((*c, cheap_check(*c, &u, found, prov)?))) {
            if let Err(e) = Trace::check(t, name, check, outcome) {
                return Checked::Err(e);
            }
        }
        let keys = &mut state.keys[p];
        let verified = match self.signature_check(keys, p, &u, digest, verdicts) {
            ControlFlow::Continue(outcome) => outcome,
            ControlFlow::Break(wait) => return wait,
        };
        let proof =
            Proof::Signature { alg: u.header.alg, kid: u.header.kid.clone(), keys_generation: keys.generation() };
        self.after_signature(state, p, &u, verified, proof)
    }

    /// Claims, claim headers and the claims the policy keeps, once the signature step
    /// has an outcome; the verified token (or why it is refused).
    fn after_signature(
        &self,
        state: &mut GateState,
        p: usize,
        u: &Unverified<'_>,
        verified: Result<(), AuthError>,
        proof: Proof,
    ) -> Checked {
        let name = Some(self.config.providers[p].name.as_str());
        let t = &mut state.trace;
        let key_found = !matches!(verified, Err(AuthError::UnknownKey | AuthError::KeysUnavailable));
        let key = if key_found { Ok(()) } else { verified.clone() };
        if Trace::check(t, name, Check::Key, key).is_ok() {
            Trace::check(t, name, Check::Signature, verified.clone()).ok();
        }
        match verified.and_then(|()| accept_claims(self.config, p, &u.claims, self.now_ms / 1000, proof, t)) {
            Ok(v) => Checked::Ok(Rc::new(v)),
            Err(e) => Checked::Err(e),
        }
    }

    /// The signature step against provider `p`'s keys: `Continue` with its outcome, or
    /// `Break` when the request must wait (for keys, or for the asynchronous host).
    fn signature_check(
        &self,
        keys: &mut KeySet,
        p: usize,
        u: &Unverified<'_>,
        digest: &TokenDigest,
        verdicts: &[Verdict],
    ) -> ControlFlow<Checked, Result<(), AuthError>> {
        let verified = match keys.lookup(u.header.kid.as_deref(), u.header.alg, self.now_ms) {
            Lookup::Found(key) => {
                let key_ref = KeyRef::Provider { provider: p, generation: keys.generation(), kid: key.kid.clone() };
                let sig = (u.signing_input, u.signature.as_slice());
                match signature(self.verifier, key, key_ref, u.header.alg, sig, digest, verdicts) {
                    Signature::Valid => Ok(()),
                    Signature::Invalid => Err(AuthError::BadSignature),
                    Signature::WrongKey => Err(AuthError::UnknownKey),
                    Signature::Ask(ask) => return ControlFlow::Break(Checked::Ask(ask)),
                }
            }
            Lookup::Unknown => Err(AuthError::UnknownKey),
            // Cold, or only old (an idle edge isolate): wait for the fetch. Stale because
            // refreshes fail: answer 503 now.
            Lookup::Unavailable { cold, refreshable } if self.may_hold && (cold || refreshable) => {
                return ControlFlow::Break(Checked::NeedKeys(p))
            }
            Lookup::Unavailable { .. } => Err(AuthError::KeysUnavailable),
        };
        if verified == Err(AuthError::UnknownKey) && self.may_hold && keys.want_refetch(self.now_ms) {
            return ControlFlow::Break(Checked::NeedKeys(p));
        }
        ControlFlow::Continue(verified)
    }
}

/// By verifier: the asynchronous host's verdict for this signature and key (or a
/// request for one), or the host's synchronous verifier; the software verifier covers
/// whatever they decline (HMAC, keys a host cannot take). Tokens and DPoP proofs both
/// come through here. `sig` is the signing input and the signature.
pub(crate) fn signature(
    verifier: &Verifier,
    key: &Key,
    key_ref: KeyRef,
    alg: crate::alg::Alg,
    sig: (&str, &[u8]),
    digest: &TokenDigest,
    verdicts: &[Verdict],
) -> Signature {
    let (input, signature) = sig;
    let Some(software) = key.verifier(alg) else { return Signature::WrongKey };
    let message = input.as_bytes();
    let verdict = match (verifier, key.spki(), key.public_jwk()) {
        (Verifier::Async, _, Some(jwk)) if !alg.is_symmetric() => match verdict_for(verdicts, digest, &key_ref) {
            Some(valid) => Some(valid),
            None => {
                return Signature::Ask(Ask {
                    digest: *digest,
                    key: key_ref,
                    alg,
                    jwk: jwk.to_owned(),
                    message: input.to_owned(),
                    signature: signature.to_vec(),
                })
            }
        },
        (Verifier::Native(n), Some(spki), _) => n.verify(alg, spki, message, signature),
        _ => None,
    };
    match verdict.unwrap_or_else(|| software.verify(message, signature)) {
        true => Signature::Valid,
        false => Signature::Invalid,
    }
}

/// The claim checks every vouched-for token goes through, whatever vouched for it (a
/// signature, or an introspection answer): registered claims, claim headers, and the
/// claims `require` trees read.
pub(crate) fn accept_claims(
    config: &GateConfig,
    p: usize,
    claims: &serde_json::Map<String, serde_json::Value>,
    now_s: u64,
    proof: Proof,
    t: &mut Option<Box<Trace>>,
) -> Result<Verified, AuthError> {
    let prov = &config.providers[p];
    let name = Some(prov.name.as_str());
    Trace::check(t, name, Check::Claims, claims::validate(claims, prov, now_s))?;
    let headers = Trace::check(t, name, Check::ClaimHeaders, claim_headers(claims, &prov.claim_headers))?;
    let policy_claims = Trace::check(t, name, Check::PolicyClaims, crate::policy::keep(claims, &config.policy_claims))?;
    // Sender binding (RFC 9449 §6, RFC 8705 §3): from the JWT, or from the introspection
    // answer, which carries `cnf` the same way.
    let cnf = claims::confirmation(claims)?;
    Ok(Verified {
        provider: p,
        exp_s: claims::expiry(claims).unwrap_or(0),
        proof,
        scopes: claims::granted_scopes(claims).into_iter().map(str::to_owned).collect(),
        headers,
        claims: policy_claims,
        ids: prov.revocation.as_ref().map(|_| Box::new(TokenIds::of(claims))),
        cnf,
    })
}

/// The checks decidable before any key, in the order they run.
const CHEAP_CHECKS: [Check; 4] = [Check::Source, Check::Size, Check::Algorithm, Check::TokenType];

/// One of [`CHEAP_CHECKS`]: source, size, algorithm allow-list, type. `None` when the
/// provider does not configure it (`token_type`).
fn cheap_check(
    check: Check,
    u: &Unverified<'_>,
    found: &Found<'_>,
    prov: &crate::config::ProviderConfig,
) -> Option<Result<(), AuthError>> {
    let require = |ok: bool, e: AuthError| if ok { Ok(()) } else { Err(e) };
    Some(match check {
        Check::Source => require(prov.reads(&found.source), AuthError::WrongSource),
        Check::Size => require(found.token.len() <= prov.max_token_bytes, AuthError::TokenTooLarge),
        Check::Algorithm => require(prov.algorithms.contains(&u.header.alg), AuthError::AlgorithmNotAllowed),
        Check::TokenType => {
            let tt = prov.token_type.as_ref()?;
            require(token::typ_matches(u.header.typ.as_deref(), tt), AuthError::WrongTokenType)
        }
        _ => return None,
    })
}
