//! A bounded cache of verified tokens, so a token seen again skips decoding, signature
//! verification and claim parsing.
//!
//! - Keyed by a 128-bit keyed SipHash-2-4 of the whole token text ([`TokenKey`]): ECDSA
//!   signatures are malleable, so two different strings can carry "the same" valid
//!   signature; hashing the exact bytes never lets one stand in for the other. The key
//!   is 128 random bits drawn when the cache is made and never leaves it, so SipHash
//!   (a PRF) gives an attacker no way to aim a token at another's entry: short of the
//!   key, a forged hit is a 2^-128 guess per cached token. The token's SHA-256, which
//!   this replaced, cost several times more per request on the cached path (a token is
//!   ~15 SHA-256 blocks; SipHash is a few rounds per 8 bytes), and storing the token
//!   itself to compare on a hit would triple the cache's memory (~10,000 tokens of
//!   ~700 bytes). Without randomness from the platform the cache stays off.
//! - Only successes are cached, so a later valid token can never fail because of an
//!   earlier failure.
//! - A hit is re-checked on every use: `exp` against the current time, the provider
//!   being acceptable for the route, the key set generation (a refresh that changes the
//!   keys invalidates entries, so a removed key stops working), and the key still being
//!   servable (stale bound).

use crate::alg::Alg;
use crate::revocation::TokenIds;
use serde_json::{Map, Value};
use siphasher::sip128::{Hasher128, SipHasher24};
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::rc::Rc;

/// SHA-256 of a token: the introspection cache and the asynchronous host's verdicts.
pub type TokenDigest = [u8; 32];

/// The verified-token cache's key for a token: keyed SipHash-2-4, 128 bits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TokenKey(u128);

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

/// A [`TokenKey`] is already a keyed hash: the map uses its low 64 bits as they are
/// instead of hashing it again.
#[derive(Default)]
struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u128` is reached (the derived `Hash` of `TokenKey`); any other
        // input still spreads over the 64 bits.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u128(&mut self, i: u128) {
        self.0 = i as u64;
    }
}

/// FIFO-evicting map with a fixed capacity (0 disables caching).
#[derive(Debug, Default)]
pub struct TokenCache {
    capacity: usize,
    /// The SipHash key; `None` when the platform gave no randomness (nothing is cached).
    key: Option<[u8; 16]>,
    /// Each entry with the token's log label ([`crate::gate::fingerprint`], a SHA-256
    /// prefix), computed once on the miss so a hit hashes nothing but the SipHash.
    entries: HashMap<TokenKey, (Rc<Verified>, String), BuildHasherDefault<PassThrough>>,
    order: VecDeque<TokenKey>,
}

impl TokenCache {
    pub fn new(capacity: usize) -> TokenCache {
        let mut key = [0u8; 16];
        let key = (capacity > 0 && getrandom::getrandom(&mut key).is_ok()).then_some(key);
        TokenCache { capacity: if key.is_some() { capacity } else { 0 }, key, ..TokenCache::default() }
    }

    /// The cache's key for `token` (any value when caching is off: nothing matches it).
    pub fn key(&self, token: &str) -> TokenKey {
        let Some(key) = &self.key else { return TokenKey(0) };
        let mut h = SipHasher24::new_with_key(key);
        h.write(token.as_bytes());
        TokenKey(h.finish128().as_u128())
    }

    pub fn get(&self, key: &TokenKey) -> Option<&Rc<Verified>> {
        self.entries.get(key).map(|(v, _)| v)
    }

    /// `token`'s log label (`key` is its [`TokenCache::key`]): from its entry when
    /// cached, else computed.
    pub fn label(&self, key: &TokenKey, token: &str) -> String {
        match self.entries.get(key) {
            Some((_, label)) => label.clone(),
            None => crate::gate::fingerprint(token),
        }
    }

    /// Caches `v` for `token` (whose key is `key`).
    pub fn insert(&mut self, key: TokenKey, token: &str, v: Rc<Verified>) {
        if self.capacity == 0 {
            return;
        }
        if self.entries.insert(key, (v, crate::gate::fingerprint(token))).is_none() {
            self.order.push_back(key);
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

    pub fn remove(&mut self, key: &TokenKey) {
        if self.entries.remove(key).is_some() {
            self.order.retain(|d| d != key);
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
        let [k1, k2, k3] = ["a.b.c", "a.b.d", "a.b.e"].map(|t| c.key(t));
        c.insert(k1, "a.b.c", Rc::new(v(1)));
        c.insert(k2, "a.b.c", Rc::new(v(2)));
        c.insert(k3, "a.b.c", Rc::new(v(3)));
        assert_eq!(c.len(), 2);
        assert!(c.get(&k1).is_none());
        assert_eq!(c.get(&k3).map(|e| e.exp_s), Some(3));
    }

    #[test]
    fn zero_capacity_caches_nothing_and_remove_works() {
        let mut c = TokenCache::new(0);
        c.insert(c.key("a.b.c"), "a.b.c", Rc::new(v(1)));
        assert_eq!(c.len(), 0);
        let mut c = TokenCache::new(4);
        let k = c.key("a.b.c");
        c.insert(k, "a.b.c", Rc::new(v(1)));
        c.remove(&k);
        assert!(c.get(&k).is_none());
        c.insert(k, "a.b.c", Rc::new(v(5)));
        assert_eq!(c.get(&k).map(|e| e.exp_s), Some(5));
    }

    /// A hit's label is the one computed on the miss, and equals the uncached label.
    #[test]
    fn the_label_is_the_tokens_fingerprint_cached_or_not() {
        let mut c = TokenCache::new(4);
        let want = crate::gate::fingerprint("a.b.c");
        let k = c.key("a.b.c");
        assert_eq!(c.label(&k, "a.b.c"), want);
        c.insert(k, "a.b.c", Rc::new(v(1)));
        assert_eq!(c.label(&k, "a.b.c"), want);
        assert_ne!(c.label(&c.key("a.b.d"), "a.b.d"), want);
    }

    /// Every byte of the token counts (one changed signature character, a trailing
    /// byte, a re-encoded signature), and two caches key the same token differently.
    #[test]
    fn keys_differ_for_any_change_and_per_cache() {
        let c = TokenCache::new(4);
        let t = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl";
        assert_eq!(c.key(t), c.key(t));
        for other in [
            &t[..t.len() - 1],
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJm",
            "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl=",
        ] {
            assert_ne!(c.key(t), c.key(other), "{other}");
        }
        assert_ne!(TokenCache::new(4).key(t), c.key(t), "the SipHash key is random per cache");
    }
}
