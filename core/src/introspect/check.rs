//! The checker's introspection step: what the cache says about a token for provider
//! `p`, re-checked for this request, or a hold while the call is under way.

use super::Lookup;
use crate::cache::TokenDigest;
use crate::check::{Checked, Checker};
use crate::error::AuthError;
use crate::extract::Found;
use crate::gate::GateState;

impl Checker<'_> {
    /// Introspects `found` for provider `p`. An answer is re-checked on every use (the
    /// token's place, its expiry), like a cached signature.
    pub(crate) fn introspect(
        &self,
        state: &mut GateState,
        p: usize,
        digest: &TokenDigest,
        found: &Found<'_>,
    ) -> Checked {
        let prov = &self.config.providers[p];
        if !prov.sources.contains(&found.source) {
            return Checked::Err(AuthError::WrongSource);
        }
        if found.token.len() > prov.max_token_bytes {
            return Checked::Err(AuthError::TokenTooLarge);
        }
        // Load-time validation guarantees the block (validation mode or `introspect`
        // rule); fail closed if not.
        let Some(intro) = state.introspectors.get_mut(p).and_then(Option::as_mut) else {
            return Checked::Err(AuthError::Internal("provider has no introspection endpoint"));
        };
        match intro.lookup(digest, found.token, self.now_ms) {
            Lookup::Active(v) | Lookup::Stale(v) => {
                if self.now_ms / 1000 >= v.exp_s.saturating_add(prov.clock_skew_s) {
                    Checked::Err(AuthError::Expired)
                } else {
                    Checked::Ok(std::rc::Rc::new(v.clone()))
                }
            }
            Lookup::Refused(e) => Checked::Err(e),
            Lookup::Unavailable => Checked::Err(AuthError::IntrospectionUnavailable),
            Lookup::Waiting if self.may_hold => Checked::NeedKeys(p),
            Lookup::Waiting => Checked::Err(AuthError::IntrospectionUnavailable),
        }
    }
}
