//! Verifying one token for one of a rule's providers: the verified-token cache first,
//! then cheap checks, key lookup, signature (host-native when available), then claims.

use crate::cache::{TokenDigest, Verified};
use crate::claims;
use crate::config::GateConfig;
use crate::error::AuthError;
use crate::extract::Found;
use crate::fetched::{KeySet, Lookup};
use crate::gate::GateState;
use crate::headers::claim_headers;
use crate::job::{verdict_for, Ask, KeyRef, Verdict, Verifier};
use crate::jwk::Key;
use crate::token::{self, Unverified};
use crate::trace::{Check, Trace};
use sha2::{Digest, Sha256};
use std::ops::ControlFlow;

/// A verified token, or how the request ends instead.
pub enum Checked {
    Ok(Verified),
    NeedKeys(usize),
    /// The asynchronous host must check this signature first.
    Ask(Ask),
    Err(AuthError),
}

/// Outcome of the signature step.
enum Signature {
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
    pub fn check(&self, state: &mut GateState, found: &Found<'_>, ps: &[usize], verdicts: &[Verdict]) -> Checked {
        let digest: TokenDigest = Sha256::digest(found.token.as_bytes()).into();
        if let Some(hit) = self.cached(state, &digest, found, ps) {
            return hit;
        }
        let checked = self.check_uncached(state, &digest, found, ps, verdicts);
        if let Checked::Ok(v) = &checked {
            state.cache.insert(digest, v.clone());
        }
        checked
    }

    /// A cache hit, re-checked for this request; `None` means "verify from scratch".
    fn cached(&self, state: &mut GateState, digest: &TokenDigest, found: &Found<'_>, ps: &[usize]) -> Option<Checked> {
        let v = state.cache.get(digest)?;
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
        if ps.iter().find(|p| self.config.providers[**p].issuer == *issuer) != Some(&v.provider) {
            return None;
        }
        let keys = &state.keys[v.provider];
        if v.keys_generation != keys.generation() {
            state.cache.remove(digest);
            return None;
        }
        let prov = &self.config.providers[v.provider];
        if !prov.sources.contains(&found.source) {
            return Some(Checked::Err(AuthError::WrongSource));
        }
        if self.now_ms / 1000 >= v.exp_s.saturating_add(prov.clock_skew_s) {
            state.cache.remove(digest);
            return Some(Checked::Err(AuthError::Expired));
        }
        match keys.lookup(v.kid.as_deref(), v.alg, self.now_ms) {
            Lookup::Found(_) => Some(Checked::Ok(v.clone())),
            Lookup::Unavailable { .. } => Some(Checked::Err(AuthError::KeysUnavailable)),
            Lookup::Unknown => {
                state.cache.remove(digest);
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
        let chosen = ps.iter().find(|p| Some(config.providers[**p].issuer.as_str()) == iss).copied();
        let Ok(p) = Trace::check(t, None, Check::Issuer, chosen.ok_or(AuthError::WrongIssuer)) else {
            return Checked::Err(AuthError::WrongIssuer);
        };
        let prov = &config.providers[p];
        let name = Some(prov.name.as_str());
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
        self.after_signature(state, p, &u, verified)
    }

    /// Claims, claim headers and the claims the policy keeps, once the signature step
    /// has an outcome; the verified token (or why it is refused).
    fn after_signature(
        &self,
        state: &mut GateState,
        p: usize,
        u: &Unverified<'_>,
        verified: Result<(), AuthError>,
    ) -> Checked {
        let prov = &self.config.providers[p];
        let name = Some(prov.name.as_str());
        let t = &mut state.trace;
        let key_found = !matches!(verified, Err(AuthError::UnknownKey | AuthError::KeysUnavailable));
        let key = if key_found { Ok(()) } else { verified.clone() };
        if Trace::check(t, name, Check::Key, key).is_ok() {
            Trace::check(t, name, Check::Signature, verified.clone()).ok();
        }
        let claimed = verified
            .and_then(|()| Trace::check(t, name, Check::Claims, claims::validate(&u.claims, prov, self.now_ms / 1000)));
        if let Err(e) = claimed {
            return Checked::Err(e);
        }
        let headers = match Trace::check(t, name, Check::ClaimHeaders, claim_headers(&u.claims, &prov.claim_headers)) {
            Ok(h) => h,
            Err(e) => return Checked::Err(e),
        };
        let kept = crate::policy::keep(&u.claims, &self.config.policy_claims);
        let policy_claims = match Trace::check(t, name, Check::PolicyClaims, kept) {
            Ok(c) => c,
            Err(e) => return Checked::Err(e),
        };
        let keys = &state.keys[p];
        Checked::Ok(Verified {
            provider: p,
            alg: u.header.alg,
            kid: u.header.kid.clone(),
            exp_s: claims::expiry(&u.claims).unwrap_or(0),
            keys_generation: keys.generation(),
            scopes: claims::granted_scopes(&u.claims).into_iter().map(str::to_owned).collect(),
            headers,
            claims: policy_claims,
        })
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
                let key_ref = KeyRef { provider: p, generation: keys.generation(), kid: key.kid.clone() };
                match self.verify_signature(key, key_ref, u, digest, verdicts) {
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

    /// By verifier: the asynchronous host's verdict for this token and key (or a request
    /// for one), or the host's synchronous verifier; the software verifier covers
    /// whatever they decline (HMAC, keys a host cannot take).
    fn verify_signature(
        &self,
        key: &Key,
        key_ref: KeyRef,
        u: &Unverified<'_>,
        digest: &TokenDigest,
        verdicts: &[Verdict],
    ) -> Signature {
        let alg = u.header.alg;
        let Some(software) = key.verifier(alg) else { return Signature::WrongKey };
        let message = u.signing_input.as_bytes();
        let verdict = match (self.verifier, key.spki(), key.public_jwk()) {
            (Verifier::Async, _, Some(jwk)) if !alg.is_symmetric() => match verdict_for(verdicts, digest, &key_ref) {
                Some(valid) => Some(valid),
                None => {
                    return Signature::Ask(Ask {
                        digest: *digest,
                        key: key_ref,
                        alg,
                        jwk: jwk.to_owned(),
                        message: u.signing_input.to_owned(),
                        signature: u.signature.clone(),
                    })
                }
            },
            (Verifier::Native(n), Some(spki), _) => n.verify(alg, spki, message, &u.signature),
            _ => None,
        };
        match verdict.unwrap_or_else(|| software.verify(message, &u.signature)) {
            true => Signature::Valid,
            false => Signature::Invalid,
        }
    }
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
        Check::Source => require(prov.sources.contains(&found.source), AuthError::WrongSource),
        Check::Size => require(found.token.len() <= prov.max_token_bytes, AuthError::TokenTooLarge),
        Check::Algorithm => require(prov.algorithms.contains(&u.header.alg), AuthError::AlgorithmNotAllowed),
        Check::TokenType => {
            let tt = prov.token_type.as_ref()?;
            require(token::typ_matches(u.header.typ.as_deref(), tt), AuthError::WrongTokenType)
        }
        _ => return None,
    })
}
