//! The JWKS of one provider: the first [`Document`] on the fetch machine, plus key lookup.
//!
//! The last good key set survives any failed refresh until `max_stale_s` has passed since
//! it was fetched; after that lookups report `Unavailable` (503), never a silent allow
//! and never a 401.

use super::{DocId, Document, FetchEvent, FetchRequest, FetchResult, Fetched, Summary};
use crate::alg::Alg;
use crate::config::RemoteJwks;
use crate::jwk::{parse_jwks, JwksOrigin, Key, KeySetDoc};
use std::fmt;

/// What loading a JWKS reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeysLoaded {
    pub keys: usize,
    /// Keys left out, each with the reason.
    pub skipped: Vec<String>,
}

impl fmt::Display for KeysLoaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let KeysLoaded { keys, skipped } = self;
        if skipped.is_empty() {
            write!(f, "loaded {keys} keys")
        } else {
            write!(f, "loaded {keys} keys, skipped {}: {}", skipped.len(), skipped.join("; "))
        }
    }
}

impl Summary for KeysLoaded {
    const DOCUMENT: &'static str = "JWKS";
    const CONTENT: &'static str = "keys";
}

/// A key-set state change.
pub type KeySetEvent = FetchEvent<KeysLoaded>;

impl Document for KeySetDoc {
    const ACCEPT: &'static str = "application/json, application/jwk-set+json";
    /// The provider's allowed algorithms: keys for none of them are skipped.
    type Context = Vec<Alg>;
    type Summary = KeysLoaded;

    fn parse(body: &[u8], algorithms: &Vec<Alg>) -> Result<KeySetDoc, String> {
        parse_jwks(body, JwksOrigin::Remote, algorithms).map_err(|e| e.to_string())
    }

    fn summary(&self) -> KeysLoaded {
        KeysLoaded { keys: self.keys.len(), skipped: self.skipped.clone() }
    }
}

/// Result of looking a token's key up.
#[derive(Debug)]
pub enum Lookup<'k> {
    Found(&'k Key),
    /// No key with this `kid` (or no unique key for a kid-less token).
    Unknown,
    /// No usable key set: never loaded yet (`cold`), or stale past `max_stale_s`.
    /// `refreshable`: no refresh has failed since the last success (the set is only old,
    /// e.g. an idle edge isolate), so a fetch is worth waiting for.
    Unavailable {
        cold: bool,
        refreshable: bool,
    },
}

/// One provider's keys: configured inline, or fetched.
#[derive(Debug)]
pub enum KeySet {
    Inline(KeySetDoc),
    /// Boxed: the machine is several times the size of an inline set.
    Remote(Box<Fetched<KeySetDoc>>),
}

impl KeySet {
    pub fn inline(_provider: usize, doc: KeySetDoc) -> KeySet {
        KeySet::Inline(doc)
    }

    pub fn remote(provider: usize, remote: RemoteJwks, algorithms: Vec<Alg>, seed: u64) -> KeySet {
        KeySet::Remote(Box::new(Fetched::new(DocId::jwks(provider), remote, algorithms, seed)))
    }

    /// The largest JWKS body this key set accepts (0 for inline sets).
    pub fn body_cap(&self) -> usize {
        match self {
            KeySet::Inline(_) => 0,
            KeySet::Remote(f) => f.remote().max_body_bytes,
        }
    }

    /// The fetch location of a remote set (`None` for inline sets).
    pub fn remote_location(&self) -> Option<&RemoteJwks> {
        match self {
            KeySet::Inline(_) => None,
            KeySet::Remote(f) => Some(f.remote()),
        }
    }

    /// See [`Fetched::set_remote`]; inline sets have no location.
    pub fn set_remote(&mut self, remote: RemoteJwks) {
        if let KeySet::Remote(f) = self {
            f.set_remote(remote);
        }
    }

    /// Bumped whenever the keys change, so cached verifications can tell.
    pub fn generation(&self) -> u64 {
        match self {
            KeySet::Inline(_) => 1,
            KeySet::Remote(f) => f.generation(),
        }
    }

    /// Keys are loaded but the latest refresh failed: they are being served stale.
    pub fn is_stale(&self) -> bool {
        matches!(self, KeySet::Remote(f) if matches!(f.phase(), super::Phase::Failing { .. }))
    }

    pub fn key_count(&self) -> usize {
        match self {
            KeySet::Inline(doc) => doc.keys.len(),
            KeySet::Remote(f) => f.document().map_or(0, |d| d.keys.len()),
        }
    }

    /// A fetch to start now, if one is due and none is in flight.
    pub fn poll(&mut self, now_ms: u64) -> Option<FetchRequest> {
        match self {
            KeySet::Inline(_) => None,
            KeySet::Remote(f) => f.poll(now_ms),
        }
    }

    /// Applies a fetch outcome. A failure keeps the last good keys.
    pub fn on_fetch_result(&mut self, now_ms: u64, r: FetchResult<'_>) -> KeySetEvent {
        match self {
            KeySet::Inline(_) => FetchEvent::Unchanged,
            KeySet::Remote(f) => f.on_fetch_result(now_ms, r),
        }
    }

    /// Asks for an early refetch because a token named an unknown `kid`; see
    /// [`Fetched::want_refetch`]. Inline sets never refetch.
    pub fn want_refetch(&mut self, now_ms: u64) -> bool {
        match self {
            KeySet::Inline(_) => false,
            KeySet::Remote(f) => f.want_refetch(now_ms),
        }
    }

    /// Finds the key for a token's `kid` and `alg`.
    pub fn lookup(&self, kid: Option<&str>, alg: Alg, now_ms: u64) -> Lookup<'_> {
        let doc = match self {
            KeySet::Inline(doc) => doc,
            KeySet::Remote(f) => match f.serving(now_ms) {
                Ok(doc) => doc,
                Err(super::Unavailable { cold, refreshable }) => return Lookup::Unavailable { cold, refreshable },
            },
        };
        match kid {
            Some(kid) => match doc.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                Some(k) => Lookup::Found(k),
                None => Lookup::Unknown,
            },
            None => {
                let mut it = doc.keys.iter().filter(|k| k.verifier(alg).is_some());
                match (it.next(), it.next()) {
                    (Some(k), None) => Lookup::Found(k),
                    _ => Lookup::Unknown,
                }
            }
        }
    }
}

#[cfg(test)]
#[path = "jwks_tests.rs"]
mod tests;
