//! The key table of an `api_keys` provider: inline, or a feed document on the fetch
//! machine (the same bound and 503 semantics as a stale JWKS: past `max_stale_s` the
//! provider's routes answer 503, never allow; a disabled or removed key stops working
//! at the first refresh that no longer lists it usable).
//!
//! The feed document is `{"keys": [entry, …]}` with the config's entry shape.

use super::{Document, FetchEvent, FetchRequest, FetchResult, Fetched, Summary};
use crate::apikey::{App, KeyDigest, KeyTable, RawKeyEntry, Rendering};
use crate::config::RemoteJwks;
use serde::Deserialize;
use std::fmt;

/// What loading a key feed reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyFeedLoaded {
    pub keys: usize,
}

impl fmt::Display for KeyFeedLoaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loaded {} API-key digests", self.keys)
    }
}

impl Summary for KeyFeedLoaded {
    const DOCUMENT: &'static str = "API-key feed";
    const CONTENT: &'static str = "API-key digests";
}

/// A key-feed state change.
pub type KeyFeedEvent = FetchEvent<KeyFeedLoaded>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedDoc {
    keys: Vec<RawKeyEntry>,
}

impl Document for KeyTable {
    /// The header names entries are rendered under (from the provider's config).
    type Context = Rendering;
    type Summary = KeyFeedLoaded;

    fn parse(body: &[u8], r: &Rendering) -> Result<KeyTable, String> {
        let mut de = serde_json::Deserializer::from_slice(body);
        let doc: FeedDoc = serde_path_to_error::deserialize(&mut de)
            .map_err(|e| format!("not a key feed at `{}`: {}", e.path(), e.inner()))?;
        KeyTable::build(doc.keys, r).map_err(|e| format!("at `{}`: {}", e.field, e.problem))
    }

    fn summary(&self) -> KeyFeedLoaded {
        KeyFeedLoaded { keys: self.len() }
    }
}

/// The outcome of looking a well-formed key up.
#[derive(Debug)]
pub enum KeyLookup<'k> {
    Found(&'k App),
    /// Unknown, disabled or expired (the client is never told which).
    Rejected,
    /// No usable table: never loaded (`cold`), or past `max_stale_s` (see
    /// [`super::Lookup::Unavailable`]).
    Unavailable {
        cold: bool,
        refreshable: bool,
    },
}

#[derive(Debug)]
pub enum KeyStore {
    Inline(KeyTable),
    Feed(Box<Fetched<KeyTable>>),
}

impl KeyStore {
    pub fn feed(doc: super::DocId, remote: RemoteJwks, r: Rendering, seed: u64) -> KeyStore {
        KeyStore::Feed(Box::new(Fetched::new(doc, remote, r, seed)))
    }

    pub fn lookup(&self, digest: &KeyDigest, now_ms: u64) -> KeyLookup<'_> {
        let table = match self {
            KeyStore::Inline(t) => t,
            KeyStore::Feed(f) => match f.serving(now_ms) {
                Ok(t) => t,
                Err(super::Unavailable { cold, refreshable }) => return KeyLookup::Unavailable { cold, refreshable },
            },
        };
        match table.lookup(digest, now_ms / 1000) {
            Ok(app) => KeyLookup::Found(app),
            Err(_) => KeyLookup::Rejected,
        }
    }

    /// The table is served while its refreshes fail.
    pub fn is_stale(&self) -> bool {
        matches!(self, KeyStore::Feed(f) if matches!(f.phase(), super::Phase::Failing { .. }))
    }

    pub fn body_cap(&self) -> usize {
        match self {
            KeyStore::Inline(_) => 0,
            KeyStore::Feed(f) => f.remote().max_body_bytes,
        }
    }

    pub fn poll(&mut self, now_ms: u64) -> Option<FetchRequest> {
        match self {
            KeyStore::Inline(_) => None,
            KeyStore::Feed(f) => f.poll(now_ms),
        }
    }

    pub fn on_fetch_result(&mut self, now_ms: u64, r: FetchResult<'_>) -> KeyFeedEvent {
        match self {
            KeyStore::Inline(_) => FetchEvent::Unchanged,
            KeyStore::Feed(f) => f.on_fetch_result(now_ms, r),
        }
    }

    /// Keys held (any state), for gauges and tests.
    pub fn key_count(&self) -> usize {
        match self {
            KeyStore::Inline(t) => t.len(),
            KeyStore::Feed(f) => f.document().map_or(0, KeyTable::len),
        }
    }
}

#[cfg(test)]
#[path = "api_keys_tests.rs"]
mod tests;
