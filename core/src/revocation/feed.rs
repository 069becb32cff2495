//! The revocation feed: a [`Document`] on the generic fetch machine, so it gets the
//! JWKS's conditional requests, jittered refresh, backoff, last-good-on-failure and the
//! staleness bound for free. What is particular to it:
//!
//! - **Versions only go forward.** A full list older than the one held is refused (a
//!   replayed or rolled-back feed would un-revoke tokens), and so is a different list
//!   under the same version; the last good list is kept and the failure counted.
//! - **Deltas.** A `delta` document lists only what was added since `base`, the version
//!   it applies to; it must equal the held version, or it is refused. The gate asks for
//!   a delta by sending the held list's `next` cursor as `since`, and only while its
//!   last fetch succeeded: after any failure it asks for a full list, which heals a feed
//!   that lost its history.
//!
//! The schema is `docs/revocation-feed.schema.json`; `docs/revocation.md` explains it.

use super::entry::Entry;
use super::list::Denylist;
use crate::fetched::{Document, Summary};
use serde_json::{Map, Value};
use std::fmt;

/// The most entries one list may hold (a delta that would pass it is refused).
pub const MAX_ENTRIES: usize = 1_000_000;
/// The longest `next` cursor accepted; it goes into the request path as it is.
pub const MAX_CURSOR_BYTES: usize = 128;

/// What parsing a feed needs besides the bytes.
#[derive(Clone, Debug)]
pub struct FeedContext {
    /// The provider's issuer: entries for another issuer are skipped.
    pub issuer: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    Full,
    Delta,
}

/// The held list and where it came from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedDoc {
    pub version: u64,
    /// When the feed says it generated the document (unix seconds; informational).
    pub generated_at_s: u64,
    pub list: Denylist,
    /// Sent back as `since` to ask for a delta.
    pub next: Option<String>,
    last: Change,
}

/// What the latest accepted document did, for the log line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Change {
    pub kind: FeedKind,
    pub version: u64,
    pub added: usize,
    pub skipped: usize,
    pub entries: usize,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            FeedKind::Full => "full",
            FeedKind::Delta => "delta",
        };
        write!(f, "loaded revocation list version {} ({kind}: {} entries", self.version, self.added)?;
        if self.skipped > 0 {
            write!(f, ", {} for other issuers skipped", self.skipped)?;
        }
        write!(f, "; {} held)", self.entries)
    }
}

impl Summary for Change {
    const DOCUMENT: &'static str = "revocation list";
    const CONTENT: &'static str = "list";
}

/// A parsed feed body, before it is applied.
struct Body {
    kind: FeedKind,
    version: u64,
    base: Option<u64>,
    generated_at_s: u64,
    next: Option<String>,
    entries: Vec<Entry>,
    skipped: usize,
}

impl Document for FeedDoc {
    const ACCEPT: &'static str = "application/json";
    type Context = FeedContext;
    type Summary = Change;

    fn parse(body: &[u8], cx: &FeedContext) -> Result<FeedDoc, String> {
        match Self::parse_after(None, body, cx)? {
            Some(doc) => Ok(doc),
            None => Err("a delta needs a held list".into()),
        }
    }

    fn parse_after(held: Option<&mut FeedDoc>, body: &[u8], cx: &FeedContext) -> Result<Option<FeedDoc>, String> {
        let b = parse_body(body, cx)?;
        match (b.kind, held) {
            (FeedKind::Full, held) => {
                if let Some(h) = held {
                    if b.version < h.version {
                        return Err(format!("version {} goes back from the held {}; refused", b.version, h.version));
                    }
                    if b.version == h.version {
                        return Err(format!("version {} was served before with other content; refused", b.version));
                    }
                }
                Ok(Some(full(b)))
            }
            (FeedKind::Delta, None) => Err("a delta arrived but no list is held".into()),
            (FeedKind::Delta, Some(h)) => {
                apply_delta(h, b)?;
                Ok(None)
            }
        }
    }

    fn summary(&self) -> Change {
        self.last.clone()
    }

    /// The held list's cursor as `since`, so the feed can answer with a delta.
    fn request_path(&self, base: &str) -> String {
        match &self.next {
            Some(c) => format!("{base}{}since={c}", if base.contains('?') { '&' } else { '?' }),
            None => base.to_owned(),
        }
    }
}

fn full(b: Body) -> FeedDoc {
    let mut list = Denylist::default();
    let added = b.entries.len();
    b.entries.into_iter().for_each(|e| list.insert(e));
    let last = Change { kind: FeedKind::Full, version: b.version, added, skipped: b.skipped, entries: list.len() };
    FeedDoc { version: b.version, generated_at_s: b.generated_at_s, list, next: b.next, last }
}

/// Checks everything first, then mutates: a refused delta leaves `held` untouched.
fn apply_delta(held: &mut FeedDoc, b: Body) -> Result<(), String> {
    let base = b.base.ok_or("a delta needs `base`")?;
    if base != held.version {
        return Err(format!("delta from version {base} does not apply to the held version {}", held.version));
    }
    if b.version < base {
        return Err(format!("delta version {} goes back from its base {base}; refused", b.version));
    }
    if held.list.len().saturating_add(b.entries.len()) > MAX_ENTRIES {
        return Err(format!("the list would pass {MAX_ENTRIES} entries"));
    }
    let added = b.entries.len();
    b.entries.into_iter().for_each(|e| held.list.insert(e));
    held.version = b.version;
    held.generated_at_s = b.generated_at_s;
    held.next = b.next;
    held.last =
        Change { kind: FeedKind::Delta, version: b.version, added, skipped: b.skipped, entries: held.list.len() };
    Ok(())
}

fn parse_body(body: &[u8], cx: &FeedContext) -> Result<Body, String> {
    let doc = crate::json::parse_object(body).map_err(|_| "not a JSON object (or a duplicate member)".to_owned())?;
    const MEMBERS: [&str; 7] = ["version", "generated_at", "kind", "issuer", "base", "entries", "next"];
    if let Some(k) = doc.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
        return Err(format!("unknown member `{k}`"));
    }
    let version = whole(&doc, "version")?.ok_or("`version` is required")?;
    let generated_at_s = whole(&doc, "generated_at")?.ok_or("`generated_at` is required")?;
    let kind = match doc.get("kind").and_then(Value::as_str) {
        Some("full") => FeedKind::Full,
        Some("delta") => FeedKind::Delta,
        _ => return Err("`kind` must be \"full\" or \"delta\"".into()),
    };
    let base = whole(&doc, "base")?;
    if kind == FeedKind::Full && base.is_some() {
        return Err("`base` belongs to a delta only".into());
    }
    let issuer = match doc.get("issuer") {
        None => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.as_str()),
        Some(_) => return Err("`issuer` must be a non-empty string".into()),
    };
    let next = match doc.get("next") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) if cursor_ok(c) => Some(c.clone()),
        Some(_) => return Err(format!("`next` must be 1 to {MAX_CURSOR_BYTES} URL-safe characters")),
    };
    let Some(items) = doc.get("entries").and_then(Value::as_array) else {
        return Err("`entries` must be an array".into());
    };
    if items.len() > MAX_ENTRIES {
        return Err(format!("more than {MAX_ENTRIES} entries"));
    }
    let mut entries = Vec::with_capacity(items.len());
    let mut skipped = 0;
    for (i, item) in items.iter().enumerate() {
        let e = Entry::from_json(item).map_err(|e| {
            let at = if e.member.is_empty() { String::new() } else { format!(".{}", e.member) };
            format!("entries[{i}]{at}: {}", e.problem)
        })?;
        match e.iss.as_deref().or(issuer) {
            Some(iss) if iss != cx.issuer => skipped += 1,
            _ => entries.push(e),
        }
    }
    Ok(Body { kind, version, base, generated_at_s, next, entries, skipped })
}

fn whole(doc: &Map<String, Value>, member: &str) -> Result<Option<u64>, String> {
    match doc.get(member) {
        None => Ok(None),
        Some(v) => match v.as_u64() {
            Some(n) if n <= 1 << 53 => Ok(Some(n)),
            _ => Err(format!("`{member}` must be a whole non-negative number")),
        },
    }
}

fn cursor_ok(c: &str) -> bool {
    !c.is_empty() && c.len() <= MAX_CURSOR_BYTES && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

#[cfg(test)]
#[path = "feed_tests.rs"]
mod tests;
