//! A bounded cache of verified tokens, so a token seen again skips decoding, signature
//! verification and claim parsing.
//!
//! - Keyed by SHA-256 of the whole token text: ECDSA signatures are malleable, so two
//!   different strings can carry "the same" valid signature; hashing the exact bytes
//!   never lets one stand in for the other.
//! - Only successes are cached, so a later valid token can never fail because of an
//!   earlier failure.
//! - A hit is re-checked on every use: `exp` against the current time, the provider
//!   being acceptable for the route, the key set generation (a refresh that changes the
//!   keys invalidates entries, so a removed key stops working), and the key still being
//!   servable (stale bound).

use crate::alg::Alg;
use crate::revocation::TokenIds;
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;

pub type TokenDigest = [u8; 32];

/// What a verified token proved, reduced to what later requests need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub provider: usize,
    pub exp_s: u64,
    /// What vouched for the claims.
    pub proof: Proof,
    pub scopes: Vec<String>,
    pub headers: Vec<(String, String)>,
    /// The claims that the config's `require` trees read (their top-level members
    /// only), so a cache hit is authorized like a fresh token; `None` when no rule
    /// has a tree.
    pub claims: Option<Rc<Map<String, Value>>>,
    /// What revocation entries match (`jti`, `sub`, `sid`, client, `iat`), kept only
    /// for providers with a `revocation` block: every hit is checked again.
    pub ids: Option<Box<TokenIds>>,
    /// The token's sender binding (`cnf`), checked on every use.
    pub cnf: Confirmation,
}

/// RFC 7800 `cnf` members jwtgate checks: the DPoP key thumbprint (RFC 9449 §6) and the
/// client-certificate thumbprint (RFC 8705 §3.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Confirmation {
    pub jkt: Option<String>,
    pub x5t_s256: Option<String>,
}

/// What vouched for a token's claims.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Proof {
    /// A signature checked with this key of the provider's key set.
    Signature {
        alg: Alg,
        kid: Option<String>,
        /// The key set generation the signature was checked against.
        keys_generation: u64,
    },
    /// The IdP's introspection endpoint said `active: true` (RFC 7662). Such answers
    /// live in the introspection cache, with their own TTL, never in this one.
    Introspection,
}

/// FIFO-evicting map with a fixed capacity (0 disables caching).
#[derive(Debug, Default)]
pub struct TokenCache {
    capacity: usize,
    entries: HashMap<TokenDigest, Verified>,
    order: VecDeque<TokenDigest>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        TokenCache { capacity, entries: HashMap::new(), order: VecDeque::new() }
    }

    pub fn get(&self, digest: &TokenDigest) -> Option<&Verified> {
        self.entries.get(digest)
    }

    pub fn insert(&mut self, digest: TokenDigest, v: Verified) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.insert(digest, v).is_none() {
            self.order.push_back(digest);
        }
        while self.entries.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.entries.remove(&old);
                }
                None => break,
            }
        }
    }

    pub fn remove(&mut self, digest: &TokenDigest) {
        if self.entries.remove(digest).is_some() {
            self.order.retain(|d| d != digest);
        }
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(exp_s: u64) -> Verified {
        Verified {
            provider: 0,
            exp_s,
            proof: Proof::Signature { alg: Alg::ES256, kid: None, keys_generation: 1 },
            scopes: vec![],
            headers: vec![],
            claims: None,
            ids: None,
            cnf: Confirmation::default(),
        }
    }

    #[test]
    fn evicts_oldest_beyond_capacity() {
        let mut c = TokenCache::new(2);
        c.insert([1; 32], v(1));
        c.insert([2; 32], v(2));
        c.insert([3; 32], v(3));
        assert_eq!(c.len(), 2);
        assert!(c.get(&[1; 32]).is_none());
        assert_eq!(c.get(&[3; 32]).map(|e| e.exp_s), Some(3));
    }

    #[test]
    fn zero_capacity_caches_nothing_and_remove_works() {
        let mut c = TokenCache::new(0);
        c.insert([1; 32], v(1));
        assert_eq!(c.len(), 0);
        let mut c = TokenCache::new(4);
        c.insert([1; 32], v(1));
        c.remove(&[1; 32]);
        assert!(c.get(&[1; 32]).is_none());
        c.insert([1; 32], v(5));
        assert_eq!(c.get(&[1; 32]).map(|e| e.exp_s), Some(5));
    }
}
