//! Compact JWS parsing with the cheap checks first: size, shape, strict base64url,
//! strict JSON, and a header that names an algorithm and nothing jwtgate refuses.
//! Nothing here trusts the token; it only decides whether it is worth verifying.

use crate::alg::Alg;
use crate::b64;
use crate::error::AuthError;
use crate::json::{self, JsonError};
use serde_json::{Map, Value};

/// The protected header members that matter to jwtgate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub alg: Alg,
    pub kid: Option<String>,
    pub typ: Option<String>,
}

/// A token that is well-formed but not yet verified.
#[derive(Debug)]
pub struct Unverified<'t> {
    pub header: Header,
    pub claims: Map<String, Value>,
    /// `base64url(header) "." base64url(payload)`: the bytes the signature covers.
    pub signing_input: &'t str,
    pub signature: Vec<u8>,
}

/// Header members that would change how the token must be processed. jwtgate supports
/// none of them, so a token carrying one is refused (RFC 7515 §4.1.11: an unknown `crit`
/// makes the token invalid; `cty` signals a nested JWT; `b64`/`zip`/`enc` are other
/// serialisations).
const REFUSED_MEMBERS: [&str; 5] = ["crit", "cty", "b64", "zip", "enc"];

pub fn parse(raw: &str, max_bytes: usize) -> Result<Unverified<'_>, AuthError> {
    if raw.len() > max_bytes {
        return Err(AuthError::TokenTooLarge);
    }
    if raw.starts_with('{') {
        return Err(AuthError::Malformed("JWS JSON serialization is not accepted"));
    }
    let dots = raw.bytes().filter(|b| *b == b'.').count();
    if dots == 4 {
        return Err(AuthError::Malformed("JWE (encrypted) tokens are not accepted"));
    }
    let mut parts = raw.splitn(3, '.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(AuthError::Malformed("a JWS has three dot-separated segments"));
    };
    if dots != 2 {
        return Err(AuthError::Malformed("a JWS has three dot-separated segments"));
    }
    if s.is_empty() {
        return Err(AuthError::Malformed("the signature is empty"));
    }
    let header_json = b64::decode(h).ok_or(AuthError::Malformed("header is not base64url"))?;
    let header = parse_header(&header_json)?;
    let payload = b64::decode(p).ok_or(AuthError::Malformed("payload is not base64url"))?;
    let claims = json::parse_object(&payload).map_err(|e| json_error(e, "payload"))?;
    let signature = b64::decode(s).ok_or(AuthError::Malformed("signature is not base64url"))?;
    let signing_input = &raw[..h.len() + 1 + p.len()];
    Ok(Unverified { header, claims, signing_input, signature })
}

fn json_error(e: JsonError, part: &'static str) -> AuthError {
    match (e, part) {
        (JsonError::Duplicate, "header") => AuthError::Malformed("header has a duplicate member"),
        (JsonError::Duplicate, _) => AuthError::Malformed("payload has a duplicate member"),
        (JsonError::NotUtf8, _) => AuthError::Malformed("token JSON is not UTF-8"),
        (_, "header") => AuthError::Malformed("header is not a JSON object"),
        _ => AuthError::Malformed("payload is not a JSON object"),
    }
}

fn parse_header(bytes: &[u8]) -> Result<Header, AuthError> {
    let m = json::parse_object(bytes).map_err(|e| json_error(e, "header"))?;
    if let Some(member) = REFUSED_MEMBERS.iter().find(|k| m.contains_key(**k)) {
        return Err(AuthError::UnsupportedHeader(member));
    }
    let alg = match m.get("alg") {
        Some(Value::String(a)) => Alg::parse(a).ok_or(AuthError::AlgorithmNotAllowed)?,
        _ => return Err(AuthError::Malformed("header has no string `alg`")),
    };
    Ok(Header { alg, kid: opt_string(&m, "kid")?, typ: opt_string(&m, "typ")? })
}

fn opt_string(m: &Map<String, Value>, name: &'static str) -> Result<Option<String>, AuthError> {
    match m.get(name) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::Malformed(if name == "kid" {
            "header `kid` is not a string"
        } else {
            "header `typ` is not a string"
        })),
    }
}

/// RFC 7515 §4.1.9 / RFC 9068 §4: `typ` compares case-insensitively and may omit the
/// `application/` prefix, so `at+jwt` and `application/at+jwt` are the same type.
pub fn typ_matches(typ: Option<&str>, expected: &str) -> bool {
    let Some(typ) = typ else { return false };
    let strip = |s: &str| {
        let lower = s.to_ascii_lowercase();
        lower.strip_prefix("application/").map(str::to_owned).unwrap_or(lower)
    };
    strip(typ) == strip(expected)
}

#[cfg(test)]
#[path = "token_tests.rs"]
mod tests;
