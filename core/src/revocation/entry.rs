//! One denylist entry as written in the config (`revocation.inline`) or served in a
//! revocation feed, and the identifiers of a token that entries are matched against.
//!
//! The same parser reads both places, so a typo is refused the same way in each: an
//! entry names exactly one target (`jti`, `sub`, `sid` or `client_id`), an `exp` after
//! which no token it could match is still valid, and optionally the issuer it applies to.

use serde_json::{Map, Value};

/// What an entry revokes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// One token.
    Jti(String),
    /// Every token of a subject (issued before `iat_before`, when given): logout
    /// everywhere, a disabled account.
    Sub { sub: String, iat_before: Option<u64> },
    /// Every token of a session (`sid` claim), e.g. after back-channel logout.
    Sid(String),
    /// Every token of a client (`client_id` or `azp` claim), issued before `iat_before`
    /// when given: a compromised client.
    ClientId { client_id: String, iat_before: Option<u64> },
}

/// A parsed entry. `iss` is `None` when the entry did not name one (it then applies to
/// the issuer of the list it is in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub target: Target,
    pub iss: Option<String>,
    /// Unix seconds after which (plus the provider's clock skew) the entry is dropped.
    pub exp_s: u64,
}

/// Why an entry was refused: the member at fault (relative to the entry) and the problem.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryError {
    pub member: &'static str,
    pub problem: String,
}

fn refuse<T>(member: &'static str, problem: impl Into<String>) -> Result<T, EntryError> {
    Err(EntryError { member, problem: problem.into() })
}

/// The members an entry may carry; anything else is a typo (e.g. `iat_befor` would
/// otherwise silently revoke every token of a subject) and is refused.
const MEMBERS: [&str; 7] = ["jti", "sub", "sid", "client_id", "iat_before", "exp", "iss"];
/// Identifier values longer than this are refused (no real `jti` or `sub` is).
pub const MAX_ID_BYTES: usize = 1024;

impl Entry {
    pub fn from_json(v: &Value) -> Result<Entry, EntryError> {
        let Some(m) = v.as_object() else { return refuse("", "must be an object") };
        if let Some(k) = m.keys().find(|k| !MEMBERS.contains(&k.as_str())) {
            return refuse("", format!("unknown member `{k}`"));
        }
        let exp_s = match m.get("exp") {
            None => return refuse("exp", "`exp` is required (when the entry may be dropped)"),
            Some(e) => {
                seconds(e).ok_or(EntryError { member: "exp", problem: "must be a unix time in seconds".into() })?
            }
        };
        let iss = match m.get("iss") {
            None => None,
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(_) => return refuse("iss", "must be a non-empty string"),
        };
        let iat_before = match m.get("iat_before") {
            None => None,
            Some(t) => Some(
                seconds(t)
                    .ok_or(EntryError { member: "iat_before", problem: "must be a unix time in seconds".into() })?,
            ),
        };
        let named: Vec<&str> = ["jti", "sub", "sid", "client_id"].into_iter().filter(|k| m.contains_key(*k)).collect();
        let [which] = named.as_slice() else {
            return refuse("", "must name exactly one of `jti`, `sub`, `sid`, `client_id`");
        };
        let id = id_value(m, which)?;
        let target = match *which {
            "jti" | "sid" if iat_before.is_some() => {
                return refuse("iat_before", "applies only to `sub` and `client_id` entries")
            }
            "jti" => Target::Jti(id),
            "sid" => Target::Sid(id),
            "sub" => Target::Sub { sub: id, iat_before },
            _ => Target::ClientId { client_id: id, iat_before },
        };
        Ok(Entry { target, iss, exp_s })
    }
}

fn id_value(m: &Map<String, Value>, member: &str) -> Result<String, EntryError> {
    let member: &'static str = match member {
        "jti" => "jti",
        "sub" => "sub",
        "sid" => "sid",
        _ => "client_id",
    };
    match m.get(member) {
        Some(Value::String(s)) if !s.is_empty() && s.len() <= MAX_ID_BYTES => Ok(s.clone()),
        _ => refuse(member, format!("must be a non-empty string of at most {MAX_ID_BYTES} bytes")),
    }
}

/// A whole non-negative number of seconds (as claims are; see `claims.rs`).
fn seconds(v: &Value) -> Option<u64> {
    v.as_u64().filter(|s| *s <= 1 << 53)
}

/// The identifiers of a verified token that entries match, kept in the verified-token
/// cache so a cache hit is checked against the current list too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenIds {
    pub jti: Option<String>,
    pub sub: Option<String>,
    pub sid: Option<String>,
    /// `client_id` (RFC 9068) and `azp` (OIDC), when present: an entry for either matches.
    pub clients: Vec<String>,
    pub iat: Option<u64>,
    /// `status.status_list` (Token Status List).
    pub status: super::status::StatusClaim,
}

impl TokenIds {
    pub fn of(claims: &Map<String, Value>) -> TokenIds {
        let s = |k: &str| claims.get(k).and_then(Value::as_str).map(str::to_owned);
        let mut clients: Vec<String> = ["client_id", "azp"].iter().filter_map(|k| s(k)).collect();
        clients.dedup();
        let status = super::status::StatusClaim::of(claims);
        TokenIds {
            jti: s("jti"),
            sub: s("sub"),
            sid: s("sid"),
            clients,
            iat: claims.get("iat").and_then(seconds),
            status,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn each_target_parses() {
        let e = Entry::from_json(&json!({"jti": "a", "exp": 5})).unwrap();
        assert_eq!(e, Entry { target: Target::Jti("a".into()), iss: None, exp_s: 5 });
        let e = Entry::from_json(&json!({"sub": "u", "iat_before": 3, "exp": 9, "iss": "https://i"})).unwrap();
        assert_eq!(e.target, Target::Sub { sub: "u".into(), iat_before: Some(3) });
        assert_eq!(e.iss.as_deref(), Some("https://i"));
        let e = Entry::from_json(&json!({"sid": "s", "exp": 9})).unwrap();
        assert_eq!(e.target, Target::Sid("s".into()));
        let e = Entry::from_json(&json!({"client_id": "c", "exp": 9})).unwrap();
        assert_eq!(e.target, Target::ClientId { client_id: "c".into(), iat_before: None });
    }

    #[test]
    fn refusals_name_the_member() {
        let member = |v: Value| Entry::from_json(&v).unwrap_err().member;
        assert_eq!(member(json!({"jti": "a"})), "exp");
        assert_eq!(member(json!({"jti": "a", "exp": -1})), "exp");
        assert_eq!(member(json!({"jti": "a", "exp": 1.5})), "exp");
        assert_eq!(member(json!({"jti": "", "exp": 1})), "jti");
        assert_eq!(member(json!({"sub": 7, "exp": 1})), "sub");
        assert_eq!(member(json!({"jti": "a", "iat_before": 3, "exp": 1})), "iat_before");
        assert_eq!(member(json!({"sub": "a", "iat_before": "x", "exp": 1})), "iat_before");
        assert_eq!(member(json!({"jti": "a", "iss": "", "exp": 1})), "iss");
        let typo = Entry::from_json(&json!({"sub": "a", "iat_befor": 3, "exp": 1})).unwrap_err();
        assert!(typo.problem.contains("iat_befor"), "{typo:?}");
        let two = Entry::from_json(&json!({"sub": "a", "jti": "b", "exp": 1})).unwrap_err();
        assert!(two.problem.contains("exactly one"));
        assert!(Entry::from_json(&json!({"exp": 1})).is_err());
        assert!(Entry::from_json(&json!(["jti"])).is_err());
        assert!(Entry::from_json(&json!({"jti": "x".repeat(MAX_ID_BYTES + 1), "exp": 1})).is_err());
    }

    #[test]
    fn token_ids_read_client_id_and_azp() {
        let c = json!({"jti": "j", "sub": "u", "sid": "s", "client_id": "c", "azp": "d", "iat": 7});
        let ids = TokenIds::of(c.as_object().unwrap());
        assert_eq!(ids.clients, vec!["c".to_owned(), "d".to_owned()]);
        assert_eq!((ids.jti.as_deref(), ids.iat), (Some("j"), Some(7)));
        let ids = TokenIds::of(json!({"iat": "7", "sub": 3}).as_object().unwrap());
        assert_eq!((ids.iat, ids.sub), (None, None));
    }
}
