//! The JWKS cache of one provider: a state machine driven by time and by fetch results.
//!
//! Hosts never decide when to fetch: they ask [`KeySet::poll`] and carry out the
//! [`FetchRequest`] it returns, then report the outcome to [`KeySet::on_fetch_result`].
//! The last good key set survives any failed refresh until `max_stale_s` has passed
//! since the last success; after that lookups report `Unavailable` (503), never a
//! silent allow and never a 401.

use crate::alg::Alg;
use crate::config::RemoteJwks;
use crate::jwk::{parse_jwks, JwksOrigin, Key, KeySetDoc};
use sha2::{Digest, Sha256};
use std::fmt;
use std::rc::Rc;

/// Something a host must fetch on the core's behalf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    pub provider: usize,
    /// Envoy: the cluster to call. `None` means the host must use `uri`.
    pub cluster: Option<String>,
    pub uri: Option<String>,
    pub path: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub reason: FetchReason,
    /// When the need for this fetch arose (for an unknown kid: when the token arrived).
    pub requested_at_ms: u64,
    kid_cooldown_ms: u64,
    min_refresh_ms: u64,
}

/// Why the key set wants a fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchReason {
    /// No keys yet.
    Cold,
    /// The refresh interval (or `max-age`) elapsed.
    Scheduled,
    /// The last fetch failed; this is the backoff retry.
    Retry,
    /// A token named a `kid` the set does not have.
    UnknownKid,
}

impl FetchRequest {
    /// Whether a result someone else fetched at `fetched_at_ms` (another VM of the same
    /// process, say) answers this request, so it need not be fetched again:
    /// - for an unknown kid, only a fetch made after the token arrived can know the new
    ///   key; or one made for another unknown kid within the cooldown (the cooldown is
    ///   meant per process, not per VM);
    /// - otherwise a success from within half the minimum refresh interval.
    pub fn satisfied_by(&self, fetched_at_ms: u64, succeeded: bool, kid_triggered: bool, now_ms: u64) -> bool {
        let age = now_ms.saturating_sub(fetched_at_ms);
        match self.reason {
            FetchReason::UnknownKid => {
                fetched_at_ms >= self.requested_at_ms || (kid_triggered && age < self.kid_cooldown_ms)
            }
            _ => succeeded && age < self.min_refresh_ms / 2,
        }
    }
}

/// What came back from a fetch. Transport failures (timeout, reset, no cluster) are
/// `status: None`.
#[derive(Clone, Copy, Debug)]
pub struct FetchResult<'a> {
    pub status: Option<u16>,
    pub body: &'a [u8],
    /// `Cache-Control: max-age`, if the response had one.
    pub max_age_s: Option<u64>,
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

/// One state change, for the host to log and count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeySetEvent {
    Loaded { keys: usize, skipped: Vec<String> },
    Unchanged,
    Failed { reason: String, have_keys: bool, retry_in_ms: u64 },
}

impl fmt::Display for KeySetEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySetEvent::Loaded { keys, skipped } if skipped.is_empty() => write!(f, "loaded {keys} keys"),
            KeySetEvent::Loaded { keys, skipped } => {
                write!(f, "loaded {keys} keys, skipped {}: {}", skipped.len(), skipped.join("; "))
            }
            KeySetEvent::Unchanged => f.write_str("JWKS unchanged"),
            KeySetEvent::Failed { reason, have_keys, retry_in_ms } => write!(
                f,
                "JWKS fetch failed: {reason}; {}; retry in {retry_in_ms} ms",
                if *have_keys { "keeping the last good keys" } else { "no keys yet" }
            ),
        }
    }
}

const MAX_BACKOFF_MS: u64 = 60_000;

/// `max-age` from a `Cache-Control` value; `no-store`/`no-cache` count as 0 (the
/// refresh bounds then apply).
pub fn parse_max_age(cache_control: &str) -> Option<u64> {
    let mut out = None;
    for directive in cache_control.split(',').map(str::trim) {
        let lower = directive.to_ascii_lowercase();
        if lower == "no-store" || lower == "no-cache" {
            return Some(0);
        }
        if let Some(v) = lower.strip_prefix("max-age=") {
            out = v.trim_matches('"').parse().ok();
        }
    }
    out
}

#[derive(Debug)]
pub struct KeySet {
    provider: usize,
    remote: Option<RemoteJwks>,
    algorithms: Vec<Alg>,
    keys: Option<Rc<KeySetDoc>>,
    last_success_ms: Option<u64>,
    next_fetch_ms: u64,
    in_flight_since: Option<u64>,
    failures: u32,
    last_kid_refetch_ms: Option<u64>,
    body_digest: Option<[u8; 32]>,
    jitter_state: u64,
    /// Bumped whenever the keys change, so cached verifications can tell.
    generation: u64,
    /// Set while a refetch for an unknown kid is wanted (since when).
    kid_refetch_requested: Option<u64>,
}

impl KeySet {
    pub fn inline(provider: usize, doc: KeySetDoc) -> KeySet {
        KeySet::new(provider, None, Vec::new(), Some(Rc::new(doc)), 0)
    }

    pub fn remote(provider: usize, remote: RemoteJwks, algorithms: Vec<Alg>, seed: u64) -> KeySet {
        KeySet::new(provider, Some(remote), algorithms, None, seed)
    }

    fn new(
        provider: usize,
        remote: Option<RemoteJwks>,
        algorithms: Vec<Alg>,
        keys: Option<Rc<KeySetDoc>>,
        seed: u64,
    ) -> KeySet {
        KeySet {
            provider,
            remote,
            algorithms,
            keys,
            last_success_ms: None,
            next_fetch_ms: 0,
            in_flight_since: None,
            failures: 0,
            last_kid_refetch_ms: None,
            body_digest: None,
            jitter_state: seed | 1,
            generation: 1,
            kid_refetch_requested: None,
        }
    }

    /// The largest JWKS body this key set accepts (0 for inline sets).
    pub fn body_cap(&self) -> usize {
        self.remote.as_ref().map_or(0, |r| r.max_body_bytes)
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Keys are loaded but the latest refresh failed: they are being served stale.
    pub fn is_stale(&self) -> bool {
        self.failures > 0 && self.keys.is_some()
    }

    pub fn key_count(&self) -> usize {
        self.keys.as_ref().map_or(0, |k| k.keys.len())
    }

    /// A fetch to start now, if one is due and none is in flight.
    pub fn poll(&mut self, now_ms: u64) -> Option<FetchRequest> {
        let remote = self.remote.as_ref()?;
        if let Some(since) = self.in_flight_since {
            // The host lost a fetch (it should always report back): give up on it.
            if now_ms < since + 2 * remote.timeout_ms + 1000 {
                return None;
            }
        }
        if now_ms < self.next_fetch_ms {
            return None;
        }
        self.in_flight_since = Some(now_ms);
        let (reason, requested_at_ms) = match (self.kid_refetch_requested, &self.keys, self.failures) {
            (Some(t), _, _) => (FetchReason::UnknownKid, t),
            (None, None, _) => (FetchReason::Cold, now_ms),
            (None, Some(_), 0) => (FetchReason::Scheduled, now_ms),
            (None, Some(_), _) => (FetchReason::Retry, now_ms),
        };
        Some(FetchRequest {
            provider: self.provider,
            cluster: remote.cluster.clone(),
            uri: remote.uri.clone(),
            path: remote.path.clone(),
            authority: remote.authority.clone(),
            timeout_ms: remote.timeout_ms,
            reason,
            requested_at_ms,
            kid_cooldown_ms: remote.kid_refetch_cooldown_s.saturating_mul(1000),
            min_refresh_ms: remote.min_refresh_interval_s.saturating_mul(1000),
        })
    }

    /// Applies a fetch outcome. A failure keeps the last good keys.
    pub fn on_fetch_result(&mut self, now_ms: u64, r: FetchResult<'_>) -> KeySetEvent {
        self.in_flight_since = None;
        self.kid_refetch_requested = None;
        let Some(remote) = self.remote.clone() else { return KeySetEvent::Unchanged };
        match self.accept(&remote, r) {
            Ok(event) => {
                self.failures = 0;
                self.last_success_ms = Some(now_ms);
                let interval_s = r.max_age_s.map_or(remote.refresh_interval_s, |m| {
                    m.clamp(remote.min_refresh_interval_s, remote.refresh_interval_s)
                });
                self.next_fetch_ms = now_ms.saturating_add(self.jittered(interval_s.saturating_mul(1000)));
                event
            }
            Err(reason) => {
                self.failures = self.failures.saturating_add(1);
                let shift = self.failures.min(16) - 1;
                let retry_in_ms =
                    (1000u64 << shift).min(MAX_BACKOFF_MS).min(remote.refresh_interval_s.saturating_mul(1000));
                self.next_fetch_ms = now_ms + retry_in_ms;
                KeySetEvent::Failed { reason, have_keys: self.keys.is_some(), retry_in_ms }
            }
        }
    }

    fn accept(&mut self, remote: &RemoteJwks, r: FetchResult<'_>) -> Result<KeySetEvent, String> {
        match r.status {
            None => return Err("no response (timeout or connection failure)".into()),
            Some(304) if self.keys.is_some() => return Ok(KeySetEvent::Unchanged),
            Some(200) => {}
            Some(s) => return Err(format!("HTTP status {s}")),
        }
        if r.body.len() > remote.max_body_bytes {
            return Err(format!("body of {} bytes exceeds {} bytes", r.body.len(), remote.max_body_bytes));
        }
        let digest: [u8; 32] = Sha256::digest(r.body).into();
        if self.keys.is_some() && self.body_digest == Some(digest) {
            return Ok(KeySetEvent::Unchanged);
        }
        let doc = parse_jwks(r.body, JwksOrigin::Remote, &self.algorithms).map_err(|e| e.to_string())?;
        let event = KeySetEvent::Loaded { keys: doc.keys.len(), skipped: doc.skipped.clone() };
        self.keys = Some(Rc::new(doc));
        self.body_digest = Some(digest);
        self.generation += 1;
        Ok(event)
    }

    /// ±10% jitter so that many gates do not refresh in lockstep.
    fn jittered(&mut self, ms: u64) -> u64 {
        let mut x = self.jitter_state;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.jitter_state = x;
        let spread = ms / 5;
        if spread == 0 {
            return ms;
        }
        (ms - ms / 10).saturating_add(x % spread)
    }

    /// Finds the key for a token's `kid` and `alg`.
    pub fn lookup(&self, kid: Option<&str>, alg: Alg, now_ms: u64) -> Lookup<'_> {
        let Some(doc) = &self.keys else { return Lookup::Unavailable { cold: true, refreshable: true } };
        if let (Some(remote), Some(last)) = (&self.remote, self.last_success_ms) {
            if now_ms.saturating_sub(last) > remote.max_stale_s.saturating_mul(1000) {
                return Lookup::Unavailable { cold: false, refreshable: self.failures == 0 };
            }
        }
        let fits = |k: &&Key| k.verifier(alg).is_some();
        match kid {
            Some(kid) => match doc.keys.iter().find(|k| k.kid.as_deref() == Some(kid)) {
                Some(k) => Lookup::Found(k),
                None => Lookup::Unknown,
            },
            None => {
                let mut it = doc.keys.iter().filter(fits);
                match (it.next(), it.next()) {
                    (Some(k), None) => Lookup::Found(k),
                    _ => Lookup::Unknown,
                }
            }
        }
    }

    /// Asks for an early refetch because a token named an unknown `kid`. Returns true
    /// when waiting is worthwhile (a fetch is in flight or now scheduled); false while
    /// the cooldown holds, so a spray of random kids costs at most one fetch per cooldown.
    pub fn want_refetch(&mut self, now_ms: u64) -> bool {
        let Some(remote) = &self.remote else { return false };
        if self.in_flight_since.is_some() {
            return true;
        }
        let cooldown_ms = remote.kid_refetch_cooldown_s.saturating_mul(1000);
        if self.last_kid_refetch_ms.is_some_and(|t| now_ms < t.saturating_add(cooldown_ms)) {
            return false;
        }
        self.last_kid_refetch_ms = Some(now_ms);
        self.kid_refetch_requested = Some(now_ms);
        self.next_fetch_ms = self.next_fetch_ms.min(now_ms);
        true
    }
}

#[cfg(test)]
#[path = "keyset_tests.rs"]
mod tests;
