//! Remote documents the gate fetches and keeps: one state machine, many documents.
//!
//! A [`Fetched<D>`] owns one remote document of type `D` (today the JWKS; later the
//! revocation list, discovery documents, introspection answers). It tells the host when
//! to fetch ([`Fetched::poll`] → [`FetchRequest`]), takes the outcome back
//! ([`Fetched::on_fetch_result`] ← [`FetchResult`]), keeps the last good document through
//! failures up to `max_stale_s` after *that document was fetched*, and remembers its
//! `ETag` / `Last-Modified` so the next fetch is conditional. `D` only says how its bytes
//! parse and what a successful load reports ([`Document`]).
//!
//! Hosts carry out every fetch the same way whatever `D` is.

mod api_keys;
mod discovery;
mod doc;
mod jwks;
mod machine;
mod phase;

pub use api_keys::{KeyFeedEvent, KeyFeedLoaded, KeyLookup, KeyStore};
pub use discovery::{DiscoveryCheck, DiscoveryDoc, DiscoveryLoaded};
pub use doc::{DocEvent, DocId, DocKind, FetchMethod};
pub use jwks::{KeySet, KeySetEvent, KeysLoaded, Lookup};
pub use machine::Fetched;
pub use phase::{Phase, Status, Unavailable};

use crate::config::{IntrospectionConfig, RemoteJwks};
use sha2::{Digest, Sha256};
use std::fmt;

/// What a fetched document type supplies to the machine.
pub trait Document: Sized {
    /// The `Accept` header its fetches send.
    const ACCEPT: &'static str = "application/json";
    /// What parsing needs besides the bytes (for a JWKS: the provider's allowed algorithms).
    type Context;
    /// What a successful load reports to the host's log.
    type Summary: Summary;
    /// Parses and validates a `200` body. The error says what is wrong with it.
    fn parse(body: &[u8], cx: &Self::Context) -> Result<Self, String>;
    fn summary(&self) -> Self::Summary;

    /// Parses a `200` body that may build on the held document (a delta): `Ok(None)`
    /// means `held` was updated in place. On an error `held` must be left untouched, so
    /// the last good document survives. By default every body is a whole document.
    fn parse_after(_held: Option<&mut Self>, body: &[u8], cx: &Self::Context) -> Result<Option<Self>, String> {
        Self::parse(body, cx).map(Some)
    }

    /// The path to fetch while this document is held and its last fetch succeeded (a
    /// feed adds its cursor here). By default the configured path.
    fn request_path(&self, base: &str) -> String {
        base.to_owned()
    }
}

/// The log-facing side of a load ("loaded 3 keys"), and how the document is named in
/// failure messages.
pub trait Summary: Clone + fmt::Debug + PartialEq + fmt::Display {
    /// The document's name in log lines ("JWKS").
    const DOCUMENT: &'static str;
    /// What it holds, for "keeping the last good …" ("keys").
    const CONTENT: &'static str;
}

/// Something a host must fetch on the core's behalf.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchRequest {
    /// What is fetched; hand it back to [`crate::Gate::on_fetch_result`].
    pub doc: DocId,
    pub method: FetchMethod,
    /// The request body (a form for `POST`; empty for `GET`).
    pub body: Vec<u8>,
    /// Request headers besides `:method`, `:path`, `:authority`, `accept`,
    /// `user-agent` and the validators (e.g. `content-type`, client authentication).
    /// Lower-case names.
    pub headers: Vec<(String, String)>,
    pub accept: &'static str,
    /// Envoy: the cluster to call. `None` means the host must use `uri`.
    pub cluster: Option<String>,
    pub uri: Option<String>,
    pub path: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub reason: FetchReason,
    /// When the need for this fetch arose (for an unknown kid: when the token arrived).
    pub requested_at_ms: u64,
    /// Validators of the document held now: send them as `If-None-Match` /
    /// `If-Modified-Since`, and hand them back in [`FetchResult::sent`].
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<String>,
    kid_cooldown_ms: u64,
    min_refresh_ms: u64,
}

/// Why the machine wants a fetch. Derived from its phase and demand, never stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchReason {
    /// No document yet.
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

    /// A one-off `POST` of a form (an introspection call): no validators, no schedule.
    pub(crate) fn post_form(
        doc: DocId,
        i: &IntrospectionConfig,
        body: Vec<u8>,
        headers: Vec<(String, String)>,
        now_ms: u64,
    ) -> FetchRequest {
        FetchRequest {
            doc,
            method: FetchMethod::Post,
            body,
            headers,
            accept: "application/json",
            cluster: i.cluster.clone(),
            uri: i.uri.clone(),
            path: i.path.clone(),
            authority: i.authority.clone(),
            timeout_ms: i.timeout_ms,
            reason: FetchReason::Cold,
            requested_at_ms: now_ms,
            if_none_match: None,
            if_modified_since: None,
            kid_cooldown_ms: 0,
            min_refresh_ms: 0,
        }
    }

    /// What this request sends as conditional-request validators.
    pub fn sent(&self) -> Validators<'_> {
        Validators { etag: self.if_none_match.as_deref(), last_modified: self.if_modified_since.as_deref() }
    }
}

/// `ETag` and `Last-Modified` of a response, or the `If-None-Match` /
/// `If-Modified-Since` values a request carried.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Validators<'a> {
    pub etag: Option<&'a str>,
    pub last_modified: Option<&'a str>,
}

impl Validators<'_> {
    pub fn is_empty(&self) -> bool {
        self.etag.is_none() && self.last_modified.is_none()
    }
}

/// What came back from a fetch.
#[derive(Clone, Copy, Debug)]
pub struct FetchResult<'a> {
    /// When the request was sent: the document is as old as this, wherever it is applied
    /// (another VM may adopt it minutes later), and it cannot know of anything that
    /// appeared after it.
    pub sent_at_ms: u64,
    /// `None`: no response (timeout, reset, no cluster).
    pub status: Option<u16>,
    pub body: &'a [u8],
    /// `Cache-Control: max-age`, if the response had one.
    pub max_age_s: Option<u64>,
    /// The response's `ETag` / `Last-Modified`.
    pub validators: Validators<'a>,
    /// The validators the request carried ([`FetchRequest::sent`]). A `304` is a
    /// successful refresh only for a request that sent some, matching the held document.
    pub sent: Validators<'a>,
}

impl<'a> FetchResult<'a> {
    /// A response without caching headers to an unconditional request.
    pub fn response(sent_at_ms: u64, status: u16, body: &'a [u8]) -> FetchResult<'a> {
        FetchResult {
            sent_at_ms,
            status: Some(status),
            body,
            max_age_s: None,
            validators: Validators::default(),
            sent: Validators::default(),
        }
    }

    /// No response at all (timeout, connection failure, dispatch refused).
    pub fn no_response(sent_at_ms: u64) -> FetchResult<'static> {
        FetchResult {
            sent_at_ms,
            status: None,
            body: &[],
            max_age_s: None,
            validators: Validators::default(),
            sent: Validators::default(),
        }
    }
}

/// One state change, for the host to log and count.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchEvent<S> {
    Loaded(S),
    /// A `304` to a conditional request, or the same bytes again.
    Unchanged,
    Failed {
        reason: String,
        have_last_good: bool,
        retry_in_ms: u64,
    },
}

impl<S: Summary> fmt::Display for FetchEvent<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchEvent::Loaded(s) => fmt::Display::fmt(s, f),
            FetchEvent::Unchanged => write!(f, "{} unchanged", S::DOCUMENT),
            FetchEvent::Failed { reason, have_last_good, retry_in_ms } => {
                let kept = if *have_last_good { "keeping the last good" } else { "no" };
                let tail = if *have_last_good { "" } else { " yet" };
                write!(
                    f,
                    "{} fetch failed: {reason}; {kept} {}{tail}; retry in {retry_in_ms} ms",
                    S::DOCUMENT,
                    S::CONTENT
                )
            }
        }
    }
}

/// Everything that decides which bytes a fetch returns, plus the issuer the document is
/// trusted for. Hosts that share fetched documents between processes or VMs (Envoy's
/// shared data) key them on this, and adopt only a record carrying the same identity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FetchIdentity(String);

impl FetchIdentity {
    pub fn of(kind: DocKind, remote: &RemoteJwks, issuer: &str) -> FetchIdentity {
        // A JSON array: unambiguous whatever the fields contain.
        let text = serde_json::json!([
            kind.label(),
            remote.cluster,
            remote.authority,
            remote.path,
            remote.uri,
            issuer,
            remote.max_body_bytes,
        ]);
        FetchIdentity(text.to_string())
    }

    /// An introspection endpoint's identity (the client too: another client may be
    /// answered differently).
    pub fn of_introspection(kind: DocKind, i: &IntrospectionConfig, issuer: &str) -> FetchIdentity {
        let text = serde_json::json!([kind.label(), i.cluster, i.authority, i.path, i.uri, issuer, i.client_id]);
        FetchIdentity(text.to_string())
    }

    /// The canonical text, stored next to a shared record.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A short key suffix: 96 bits of SHA-256 over the canonical text, hex.
    pub fn key(&self) -> String {
        crate::hex::encode(&Sha256::digest(self.0.as_bytes())[..12])
    }
}

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

#[cfg(test)]
#[path = "mod_tests.rs"]
mod tests;
