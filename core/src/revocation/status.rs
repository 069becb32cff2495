//! Token Status List (draft-ietf-oauth-status-list) as a revocation source: a token whose
//! `status.status_list` names `{idx, uri}` is refused unless the status at `idx` in the
//! Status List Token at `uri` is VALID.
//!
//! - The Status List Token is a fetched document (one [`Fetched`] per URI, created when a
//!   token first names it, at most `max_lists` per provider). Only URIs under the
//!   configured `uri_prefix` are fetched: the URI comes from a verified token, but the
//!   gate still decides where it connects.
//! - It is a JWT (`typ: statuslist+jwt`, `sub` = its URI) signed with the issuer's keys;
//!   the signature is checked against the provider's current key set when used, and the
//!   result kept per key-set generation.
//! - It is usable until the earliest of: `max_staleness_s` after its fetch was sent (the
//!   same bound as the feed), its `ttl` after that, its `exp`.

use super::Check;
use crate::alg::Alg;
use crate::config::{RemoteJwks, StatusListConfig};
use crate::fetched::{
    DocId, DocKind, Document, FetchEvent, FetchRequest, FetchResult, Fetched, KeySet, Lookup, Status, Summary,
};
use crate::status_list::{StatusList, TokenStatus};
use serde_json::Value;
use std::cell::Cell;
use std::fmt;

/// A token's `status.status_list` claim.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum StatusClaim {
    #[default]
    Absent,
    Ref {
        idx: u64,
        uri: String,
    },
    /// Present but not `{"status_list": {"idx": <n>, "uri": "<uri>"}}`: refused.
    Malformed,
}

impl StatusClaim {
    pub fn of(claims: &serde_json::Map<String, Value>) -> StatusClaim {
        let Some(status) = claims.get("status") else { return StatusClaim::Absent };
        let Some(list) = status.get("status_list") else { return StatusClaim::Absent };
        match (list.get("idx").and_then(Value::as_u64), list.get("uri").and_then(Value::as_str)) {
            (Some(idx), Some(uri)) => StatusClaim::Ref { idx, uri: uri.to_owned() },
            _ => StatusClaim::Malformed,
        }
    }
}

/// A fetched Status List Token, parsed; its signature is checked when used.
#[derive(Debug)]
pub struct StatusListDoc {
    alg: Alg,
    kid: Option<String>,
    signing_input: String,
    signature: Vec<u8>,
    list: StatusList,
    ttl_s: Option<u64>,
    exp_s: Option<u64>,
    /// The key-set generation the signature was found valid with.
    verified_with: Cell<Option<u64>>,
}

/// What parsing a Status List Token needs: the URI it must name, and the output bound.
#[derive(Clone, Debug)]
pub struct ListContext {
    pub uri: String,
    pub max_bytes: usize,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListLoaded {
    pub statuses: usize,
}

impl fmt::Display for ListLoaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "loaded a status list of {} statuses", self.statuses)
    }
}

impl Summary for ListLoaded {
    const DOCUMENT: &'static str = "status list";
    const CONTENT: &'static str = "list";
}

pub type StatusListEvent = FetchEvent<ListLoaded>;

impl Document for StatusListDoc {
    const ACCEPT: &'static str = "application/statuslist+jwt";
    type Context = ListContext;
    type Summary = ListLoaded;

    fn parse(body: &[u8], cx: &ListContext) -> Result<StatusListDoc, String> {
        let text = std::str::from_utf8(body).map_err(|_| "not UTF-8")?.trim();
        let u = crate::token::parse(text, body.len().max(64)).map_err(|e| format!("not a compact JWT: {e}"))?;
        if u.header.typ.as_deref() != Some("statuslist+jwt") {
            return Err("`typ` must be statuslist+jwt".into());
        }
        if u.claims.get("sub").and_then(Value::as_str) != Some(cx.uri.as_str()) {
            return Err("`sub` is not the status list's URI".into());
        }
        let sl = u.claims.get("status_list").ok_or("`status_list` is required")?;
        let bits = sl.get("bits").and_then(Value::as_u64).ok_or("`status_list.bits` is required")?;
        let lst = sl.get("lst").and_then(Value::as_str).ok_or("`status_list.lst` is required")?;
        let list = StatusList::decode(bits, lst, cx.max_bytes)?;
        let secs = |k: &str| u.claims.get(k).and_then(Value::as_u64);
        Ok(StatusListDoc {
            alg: u.header.alg,
            kid: u.header.kid.clone(),
            signing_input: u.signing_input.to_owned(),
            signature: u.signature.clone(),
            list,
            ttl_s: secs("ttl"),
            exp_s: secs("exp"),
            verified_with: Cell::new(None),
        })
    }

    fn summary(&self) -> ListLoaded {
        ListLoaded { statuses: self.list.len() }
    }
}

impl StatusListDoc {
    /// Whether the issuer's current keys sign this list (remembered per generation).
    fn signed_by(&self, keys: &KeySet, now_ms: u64) -> bool {
        let generation = keys.generation();
        if self.verified_with.get() == Some(generation) {
            return true;
        }
        let ok = match keys.lookup(self.kid.as_deref(), self.alg, now_ms) {
            Lookup::Found(key) => {
                key.verifier(self.alg).is_some_and(|v| v.verify(self.signing_input.as_bytes(), &self.signature))
            }
            _ => false,
        };
        if ok {
            self.verified_with.set(Some(generation));
        }
        ok
    }
}

/// The status lists one provider has seen, by URI.
#[derive(Debug)]
pub struct StatusLists {
    cfg: StatusListConfig,
    owner: usize,
    seed: u64,
    lists: Vec<(String, Fetched<StatusListDoc>)>,
}

impl StatusLists {
    pub fn new(owner: usize, cfg: StatusListConfig, seed: u64) -> StatusLists {
        StatusLists { cfg, owner, seed, lists: Vec::new() }
    }

    /// The status of `idx` in the list at `uri` for a token of this provider.
    pub fn check(&mut self, uri: &str, idx: u64, keys: &KeySet, now_ms: u64) -> Check {
        let Some(slot) = self.slot(uri) else { return Check::Unavailable { cold: false, refreshable: false } };
        let Some((_, f)) = self.lists.get(slot) else { return Check::Unavailable { cold: false, refreshable: false } };
        let doc = match (f.usable(now_ms), f.status(now_ms)) {
            (Some(doc), _) => doc,
            (None, Status::Stale { refreshable }) => return Check::Unavailable { cold: false, refreshable },
            (None, _) => return Check::Unavailable { cold: true, refreshable: true },
        };
        let age_s = f.fetched_at_ms().map_or(0, |t| now_ms.saturating_sub(t) / 1000);
        let expired = doc.exp_s.is_some_and(|e| now_ms / 1000 >= e) || doc.ttl_s.is_some_and(|t| age_s > t);
        // Past its ttl or exp, or not signed by the issuer's keys: not used, and no fetch
        // is due yet to wait for (the schedule refreshes it).
        if expired || !doc.signed_by(keys, now_ms) {
            return Check::Unavailable { cold: false, refreshable: false };
        }
        match doc.list.status(idx) {
            Some(TokenStatus::Valid) => Check::Clear,
            _ => Check::Revoked(super::Matched::StatusList),
        }
    }

    /// Whether `uri` may be fetched at all (under `uri_prefix`, plain characters).
    pub fn allowed(&self, uri: &str) -> bool {
        uri.starts_with(&self.cfg.uri_prefix)
            && uri.len() <= 1024
            && !uri.contains("..")
            && uri.bytes().all(|b| b.is_ascii_graphic() && b != b'#' && b != b'\\')
    }

    /// The slot of `uri`, created on first use while fewer than `max_lists` exist.
    fn slot(&mut self, uri: &str) -> Option<usize> {
        if let Some(i) = self.lists.iter().position(|(u, _)| u == uri) {
            return Some(i);
        }
        if self.lists.len() >= self.cfg.max_lists {
            return None;
        }
        let remote = self.remote_for(uri)?;
        let slot = self.lists.len();
        let doc = DocId { provider: self.owner, kind: DocKind::StatusList(slot as u16) };
        let cx = ListContext { uri: uri.to_owned(), max_bytes: self.cfg.max_statuses_bytes };
        let seed = self.seed.wrapping_add(slot as u64);
        self.lists.push((uri.to_owned(), Fetched::new(doc, remote, cx, seed)));
        Some(slot)
    }

    fn remote_for(&self, uri: &str) -> Option<RemoteJwks> {
        let rest = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"))?;
        let (authority, path) = rest.split_at(rest.find('/')?);
        let t = &self.cfg.remote;
        let authority = if t.authority.is_empty() { authority.to_owned() } else { t.authority.clone() };
        Some(RemoteJwks { uri: Some(uri.to_owned()), path: path.to_owned(), authority, ..t.clone() })
    }

    pub fn remote(&self, slot: usize) -> Option<&RemoteJwks> {
        self.lists.get(slot).map(|(_, f)| f.remote())
    }

    pub fn poll(&mut self, now_ms: u64) -> Vec<FetchRequest> {
        self.lists.iter_mut().filter_map(|(_, f)| f.poll(now_ms)).collect()
    }

    pub fn on_fetch_result(&mut self, slot: usize, now_ms: u64, r: FetchResult<'_>) -> Option<StatusListEvent> {
        self.lists.get_mut(slot).map(|(_, f)| f.on_fetch_result(now_ms, r))
    }

    pub fn body_cap(&self) -> usize {
        self.cfg.remote.max_body_bytes
    }
}
