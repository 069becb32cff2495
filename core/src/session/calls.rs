//! Token endpoint calls (RFC 6749 §4.1.3 code exchange, §6 refresh), single-flight: one
//! call per authorization code or refresh token per gate (Envoy VM / edge isolate).
//! Requests needing the answer are held (`Decision::NeedKeys`) and decided again when it
//! lands, like introspection. An answer is kept [`ANSWER_KEEP_MS`] so every request that
//! waited on it (and every request that still carries the old cookie meanwhile) gets the
//! same new tokens instead of spending the rotated refresh token again.

use crate::config::LoginConfig;
use crate::fetched::{DocId, DocKind, FetchRequest};
use crate::introspect::call;
use std::collections::HashMap;

/// How long a token answer is reused for requests carrying the same code or refresh
/// token (concurrent requests of one session, and the cookie race right after a refresh).
pub const ANSWER_KEEP_MS: u64 = 30_000;
/// How long a failed call is remembered before the next request may try again.
const FAILURE_KEEP_MS: u64 = 5_000;
/// Calls remembered at most (oldest forgotten first).
const MAX_CALLS: usize = 4096;
/// Largest token endpoint answer read.
pub const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// What the token endpoint gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub id_token: Option<String>,
    /// Absolute expiry of the access token, seconds.
    pub exp_s: u64,
}

/// Why a call gave no tokens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallError {
    /// `invalid_grant`: the code or refresh token is spent, expired or revoked.
    InvalidGrant,
    /// No usable answer (timeout, 5xx, another error, a broken body).
    Failed,
}

#[derive(Debug)]
enum State {
    Unsent { form: Vec<(String, String)> },
    Sent { at_ms: u64 },
    Done { tokens: Tokens, until_ms: u64 },
    Failed { error: CallError, until_ms: u64 },
}

/// What is known about a grant now.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    Done(&'a Tokens),
    Failed(CallError),
    /// A call is under way (or now started): hold the request.
    Waiting,
}

/// The calls of one provider's `login` block, keyed by SHA-256 of `kind:grant`.
#[derive(Debug, Default)]
pub struct Calls {
    by_key: HashMap<[u8; 32], (u64, State)>,
    slots: HashMap<u64, [u8; 32]>,
    next_slot: u64,
}

fn key(grant: &str) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    Sha256::digest(grant.as_bytes()).into()
}

impl Calls {
    /// The answer for `grant` (`code:<code>` or `refresh:<token>`), starting the call
    /// with `form` when nothing usable is known.
    pub fn lookup(
        &mut self,
        grant: &str,
        form: impl FnOnce() -> Vec<(String, String)>,
        now_ms: u64,
        timeout_ms: u64,
    ) -> Lookup<'_> {
        let k = key(grant);
        let restart = match self.by_key.get(&k) {
            None => true,
            Some((_, State::Sent { at_ms })) => now_ms > at_ms + timeout_ms + 1000,
            Some((_, State::Done { until_ms, .. } | State::Failed { until_ms, .. })) => now_ms >= *until_ms,
            Some((_, State::Unsent { .. })) => false,
        };
        if restart {
            self.begin(k, form(), now_ms);
        }
        match self.by_key.get(&k) {
            Some((_, State::Done { tokens, .. })) => Lookup::Done(tokens),
            Some((_, State::Failed { error, .. })) => Lookup::Failed(*error),
            _ => Lookup::Waiting,
        }
    }

    /// Forgets `grant` (a code once its login completed: single use).
    pub fn forget(&mut self, grant: &str) {
        if let Some((slot, _)) = self.by_key.remove(&key(grant)) {
            self.slots.remove(&slot);
        }
    }

    fn begin(&mut self, k: [u8; 32], form: Vec<(String, String)>, now_ms: u64) {
        self.next_slot += 1;
        let slot = self.next_slot;
        if let Some((old, _)) = self.by_key.insert(k, (slot, State::Unsent { form })) {
            self.slots.remove(&old);
        }
        self.slots.insert(slot, k);
        self.prune(now_ms);
    }

    /// Drops finished entries past their time, then the oldest if still over the cap.
    fn prune(&mut self, now_ms: u64) {
        let slots = &mut self.slots;
        self.by_key.retain(|_, (slot, s)| {
            let keep = match s {
                State::Done { until_ms, .. } | State::Failed { until_ms, .. } => now_ms < *until_ms,
                _ => true,
            };
            if !keep {
                slots.remove(slot);
            }
            keep
        });
        while self.by_key.len() > MAX_CALLS {
            let Some(oldest) = self.slots.keys().min().copied() else { break };
            if let Some(k) = self.slots.remove(&oldest) {
                self.by_key.remove(&k);
            }
        }
    }

    pub fn has_unsent(&self) -> bool {
        self.by_key.values().any(|(_, s)| matches!(s, State::Unsent { .. }))
    }

    /// The calls to send now, as POSTs to the token endpoint.
    pub fn poll(
        &mut self,
        provider: usize,
        login: &LoginConfig,
        now_ms: u64,
        jti: &mut dyn FnMut() -> [u8; 16],
    ) -> Vec<FetchRequest> {
        let mut out = Vec::new();
        for (slot, state) in self.by_key.values_mut() {
            let State::Unsent { form } = state else { continue };
            let pairs: Vec<(&str, &str)> = form.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let parts = call::form_parts(&login.token, &pairs, now_ms / 1000, &mut *jti);
            let doc = DocId { provider, kind: DocKind::Token(*slot) };
            out.push(FetchRequest::post_form(doc, &login.token, parts.body, parts.headers, now_ms));
            *state = State::Sent { at_ms: now_ms };
        }
        out
    }

    /// Applies the token endpoint's answer to call `slot`; the event for the log.
    pub fn on_result(&mut self, slot: u64, now_ms: u64, status: Option<u16>, body: &[u8]) -> TokenEvent {
        let Some(k) = self.slots.get(&slot).copied() else { return TokenEvent::Dropped };
        let Some((_, state)) = self.by_key.get_mut(&k) else { return TokenEvent::Dropped };
        let (next, event) = match parse(status, body, now_ms / 1000) {
            Ok(tokens) => (State::Done { tokens, until_ms: now_ms + ANSWER_KEEP_MS }, TokenEvent::Tokens),
            Err(error) => {
                (State::Failed { error, until_ms: now_ms + FAILURE_KEEP_MS }, TokenEvent::Failed(error, status))
            }
        };
        *state = next;
        event
    }
}

/// The outcome of one call, for the host's log line (no token in it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenEvent {
    Tokens,
    Failed(CallError, Option<u16>),
    Dropped,
}

impl std::fmt::Display for TokenEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenEvent::Tokens => f.write_str("token endpoint: tokens received"),
            TokenEvent::Failed(CallError::InvalidGrant, _) => f.write_str("token endpoint: invalid_grant"),
            TokenEvent::Failed(CallError::Failed, s) => write!(f, "token endpoint call failed (status {s:?})"),
            TokenEvent::Dropped => f.write_str("token endpoint answer dropped (call forgotten)"),
        }
    }
}

/// RFC 6749 §5.1 / §5.2.
pub fn parse(status: Option<u16>, body: &[u8], now_s: u64) -> Result<Tokens, CallError> {
    if body.len() > MAX_ANSWER_BYTES {
        return Err(CallError::Failed);
    }
    let json: serde_json::Value = serde_json::from_slice(body).map_err(|_| CallError::Failed)?;
    let text = |k: &str| json.get(k).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    match status {
        Some(200) => {}
        Some(400 | 401) if text("error").as_deref() == Some("invalid_grant") => return Err(CallError::InvalidGrant),
        _ => return Err(CallError::Failed),
    }
    if !text("token_type").is_some_and(|t| t.eq_ignore_ascii_case("bearer")) {
        return Err(CallError::Failed);
    }
    let access_token = text("access_token").ok_or(CallError::Failed)?;
    let expires_in = json.get("expires_in").and_then(serde_json::Value::as_u64).unwrap_or(300);
    Ok(Tokens {
        access_token,
        refresh_token: text("refresh_token"),
        id_token: text("id_token"),
        exp_s: now_s + expires_in,
    })
}

#[cfg(test)]
#[path = "calls_tests.rs"]
mod tests;
