//! The API-key side of a decision pass: which of a rule's providers a found credential
//! belongs to, and admitting an application's key (checksum, O(1) lookup, policy,
//! header edits). The presented key is always stripped before forwarding.

use super::Pass;
use crate::apikey;
use crate::decision::{Allowed, Decision};
use crate::error::AuthError;
use crate::extract::{removal_edits, Found};
use crate::fetched::KeyLookup;
use crate::gate::fingerprint;
use crate::policy::{self, Matched, Mode};
use crate::request::RequestView;
use std::borrow::Cow;
use std::ops::ControlFlow;

impl Pass<'_> {
    /// The `api_keys` provider of `ps` that reads credentials from `source`, if any
    /// (sources never overlap between kinds: checked at load).
    pub(super) fn key_provider_for(&self, ps: &[usize], source: &crate::config::TokenSource) -> Option<usize> {
        let providers = &self.config.providers;
        ps.iter().copied().find(|p| providers[*p].is_api_keys() && providers[*p].sources.contains(source))
    }

    /// `ps` without its `api_keys` provider: the providers a token is checked against.
    pub(super) fn token_providers<'p>(&self, ps: &'p [usize]) -> Cow<'p, [usize]> {
        let providers = &self.config.providers;
        if ps.iter().any(|p| providers[*p].is_api_keys()) {
            Cow::Owned(ps.iter().copied().filter(|p| !providers[*p].is_api_keys()).collect())
        } else {
            Cow::Borrowed(ps)
        }
    }

    /// What a request without any credential is told: a key-only route answers exactly
    /// as to an unknown key; a route taking either offers both schemes.
    pub(super) fn missing(&self, ps: &[usize]) -> AuthError {
        let keys = ps.iter().filter(|p| self.config.providers[**p].is_api_keys()).count();
        match keys {
            0 => AuthError::MissingToken,
            k if k == ps.len() => AuthError::InvalidApiKey,
            _ => AuthError::MissingCredential,
        }
    }

    /// A malformed credential on a key-only route is an invalid key like any other
    /// (two credentials stay `MultipleTokens`, refused as for tokens).
    pub(super) fn extraction_error(&self, ps: &[usize], e: AuthError) -> AuthError {
        let key_only = ps.iter().all(|p| self.config.providers[*p].is_api_keys());
        match e {
            AuthError::MalformedCredential(_) | AuthError::Malformed(_) if key_only => AuthError::InvalidApiKey,
            other => other,
        }
    }

    /// Admits the key `found` for `api_keys` provider `p`; `Break` ends the decision.
    /// A key with a bad checksum is refused before any lookup.
    pub(super) fn admit_key(
        &mut self,
        req: &RequestView<'_>,
        found: &Found<'_>,
        p: usize,
        m: &Matched<'_, '_>,
        allowed: &mut Allowed,
    ) -> ControlFlow<Decision> {
        // The digest prefix: what the config's `sha256:` line starts with, never the key.
        let hash = fingerprint(found.token);
        let Some(digest) = apikey::digest_of(found.token) else {
            return ControlFlow::Break(self.deny(AuthError::InvalidApiKey, Some(hash)));
        };
        let Some(store) = self.state.api_keys.get(p).and_then(Option::as_ref) else {
            return ControlFlow::Break(self.deny(AuthError::Internal("no key table for an api_keys provider"), None));
        };
        let app = match store.lookup(&digest, self.checker.now_ms) {
            KeyLookup::Found(app) => app,
            KeyLookup::Rejected => return ControlFlow::Break(self.deny(AuthError::InvalidApiKey, Some(hash))),
            KeyLookup::Unavailable { cold, refreshable } if self.checker.may_hold && (cold || refreshable) => {
                return ControlFlow::Break(Decision::NeedKeys { provider: p })
            }
            KeyLookup::Unavailable { .. } => {
                return ControlFlow::Break(self.deny(AuthError::KeyFeedUnavailable, Some(hash)))
            }
        };
        if let Err(e) = policy::authorize_grant(m, &app.scopes, Some(&app.claims), req) {
            match policy::mode_of(self.config, Some(m.rule)) {
                Mode::Enforce => return ControlFlow::Break(self.deny(e, Some(hash))),
                Mode::ReportOnly => {
                    allowed.verdict.get_or_insert_with(|| policy::Verdict::deny(&m.rule.name, &e, Mode::ReportOnly));
                }
            }
        }
        allowed.set.extend(app.headers.iter().cloned());
        allowed.stale_keys |= store.is_stale();
        let (remove, set) = removal_edits(req, &found.source);
        allowed.remove.extend(remove);
        allowed.set.extend(set);
        allowed.token_hash = Some(hash);
        ControlFlow::Continue(())
    }
}
