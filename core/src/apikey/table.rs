//! The key table of one `api_keys` provider: digest → application, built from the
//! config's `keys` or from a feed document, both with the same entry shape and checks.
//!
//! Lookups hash the presented key's SHA-256 into a `HashMap` (O(1)) and compare the
//! candidate digest in constant time (`subtle`). Even a variable-time compare would
//! leak only how many leading bytes of *a digest* match one the attacker computed
//! themselves, which gives no way towards a preimage; the constant-time compare makes
//! that argument unnecessary.

use super::format::{parse_digest, KeyDigest};
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use std::hash::{Hash, Hasher};
use std::rc::Rc;
use subtle::ConstantTimeEq;

/// Longest `client` and metadata string accepted (they become header values).
const MAX_TEXT: usize = 256;
/// Longest metadata name (it becomes part of a header name).
const MAX_NAME: usize = 32;
/// Claim names the gate sets itself; metadata cannot shadow them.
const RESERVED: [&str; 2] = ["client_id", "scope"];

/// One key entry exactly as the config or the feed writes it.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawKeyEntry {
    #[serde(default)]
    pub digest: Option<String>,
    #[serde(default)]
    pub client: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// Unix seconds; the key stops working at this instant.
    #[serde(default)]
    pub expires_at: Option<u64>,
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub metadata: BTreeMap<String, Value>,
}

/// The header names an application's identity is forwarded under.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendering {
    pub client_header: String,
    pub scope_header: String,
    /// `x-jwt-meta-`: each metadata member `m` becomes `<prefix>m`.
    pub metadata_prefix: String,
}

/// The config's defaults (`x-jwt-client`, `x-jwt-scope`, `x-jwt-meta-`).
impl Default for Rendering {
    fn default() -> Rendering {
        use crate::config::defaults::{API_KEY_CLIENT_HEADER, API_KEY_METADATA_PREFIX, API_KEY_SCOPE_HEADER};
        Rendering {
            client_header: API_KEY_CLIENT_HEADER.to_owned(),
            scope_header: API_KEY_SCOPE_HEADER.to_owned(),
            metadata_prefix: API_KEY_METADATA_PREFIX.to_owned(),
        }
    }
}

/// What a key entry proves about the caller, precomputed at load so an allowed request
/// only copies it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct App {
    pub client: String,
    pub scopes: Vec<String>,
    expires_at_s: Option<u64>,
    disabled: bool,
    /// Upstream header edits: client, scopes, metadata.
    pub headers: Vec<(String, String)>,
    /// What the policy layer reads, as it reads token claims: `client_id`, `scope`
    /// (space-separated) and every metadata member at the top level.
    pub claims: Rc<Map<String, Value>>,
}

/// Why a well-formed key is refused. The client never learns which (one 401 for all);
/// it is for tests and the operator's reasoning, never for the response.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejected {
    Unknown,
    Disabled,
    Expired,
}

/// A table key: hashed by its first 8 bytes (uniform: SHA-256 output), compared in
/// constant time over all 32.
#[derive(Clone, Copy, Debug)]
struct Slot(KeyDigest);

impl PartialEq for Slot {
    fn eq(&self, other: &Slot) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for Slot {}

impl Hash for Slot {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write(&self.0[..8]);
    }
}

/// A field-relative load error (`keys[2].digest`); the caller prefixes its own path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    pub field: String,
    pub problem: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyTable {
    entries: HashMap<Slot, App>,
}

impl KeyTable {
    /// Validates every entry; the first problem names its field (`keys[i].member`).
    pub fn build(raw: Vec<RawKeyEntry>, r: &Rendering) -> Result<KeyTable, EntryError> {
        let mut entries = HashMap::with_capacity(raw.len());
        for (i, e) in raw.into_iter().enumerate() {
            let field = |m: &str| format!("keys[{i}].{m}");
            let fail = |m: &str, problem: String| EntryError { field: field(m), problem };
            let digest = e.digest.ok_or_else(|| fail("digest", "`digest` is required".into()))?;
            let digest = parse_digest(&digest)
                .ok_or_else(|| fail("digest", "must be `sha256:` and 64 hex digits (see `make apikey`)".into()))?;
            let client = e.client.ok_or_else(|| fail("client", "`client` is required".into()))?;
            if !header_text(&client) {
                return Err(fail("client", header_text_rule()));
            }
            if let Some(j) = e.scopes.iter().position(|s| s.is_empty() || !s.bytes().all(|b| b.is_ascii_graphic())) {
                return Err(fail(&format!("scopes[{j}]"), "a scope is a non-empty word of visible ASCII".into()));
            }
            let app = app(client, e.scopes, e.expires_at, e.disabled, e.metadata, r).map_err(|(m, p)| fail(&m, p))?;
            if entries.insert(Slot(digest), app).is_some() {
                return Err(fail("digest", "the same digest is listed twice".into()));
            }
        }
        Ok(KeyTable { entries })
    }

    /// The application of a well-formed key's digest, if the key may be used at `now_s`.
    pub fn lookup(&self, digest: &KeyDigest, now_s: u64) -> Result<&App, Rejected> {
        let app = self.entries.get(&Slot(*digest)).ok_or(Rejected::Unknown)?;
        if app.disabled {
            return Err(Rejected::Disabled);
        }
        if app.expires_at_s.is_some_and(|t| now_s >= t) {
            return Err(Rejected::Expired);
        }
        Ok(app)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Entries that can be used at `now_s` (neither disabled nor expired).
    pub fn usable(&self, now_s: u64) -> usize {
        self.entries.values().filter(|a| !a.disabled && a.expires_at_s.is_none_or(|t| now_s < t)).count()
    }
}

/// Builds one application; errors are (member, problem).
fn app(
    client: String,
    scopes: Vec<String>,
    expires_at_s: Option<u64>,
    disabled: bool,
    metadata: BTreeMap<String, Value>,
    r: &Rendering,
) -> Result<App, (String, String)> {
    let mut headers = vec![(r.client_header.clone(), client.clone())];
    if !scopes.is_empty() {
        headers.push((r.scope_header.clone(), scopes.join(" ")));
    }
    let mut claims = Map::new();
    claims.insert("client_id".into(), Value::from(client.clone()));
    claims.insert("scope".into(), Value::from(scopes.join(" ")));
    for (name, value) in metadata {
        let member = format!("metadata.{name}");
        let name_ok = !name.is_empty()
            && name.len() <= MAX_NAME
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok || RESERVED.contains(&name.as_str()) {
            let problem = format!("a metadata name is 1 to {MAX_NAME} of `a-z0-9-`, and not {RESERVED:?}");
            return Err((member, problem));
        }
        let text = match &value {
            Value::String(s) if header_text(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) if n.is_i64() || n.is_u64() => n.to_string(),
            _ => {
                return Err((
                    member,
                    format!("a metadata value is an integer, a boolean or a string: {}", header_text_rule()),
                ))
            }
        };
        headers.push((format!("{}{name}", r.metadata_prefix), text));
        claims.insert(name, value);
    }
    Ok(App { client, scopes, expires_at_s, disabled, headers, claims: Rc::new(claims) })
}

/// Text that has exactly one header form: printable ASCII, no edge spaces, bounded.
fn header_text(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= MAX_TEXT
        && s.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && !s.starts_with(' ')
        && !s.ends_with(' ')
}

fn header_text_rule() -> String {
    format!("1 to {MAX_TEXT} printable ASCII characters without leading or trailing spaces")
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
