//! Reading an introspection response (RFC 7662 §2.2) and turning an `active` one into
//! the same [`Verified`] a JWT yields, through the same claim checks.

use crate::cache::{Proof, Verified};
use crate::config::GateConfig;
use crate::error::AuthError;
use crate::json::{parse_object, JsonError};
use serde_json::{Map, Value};

/// What the IdP said about a token.
#[derive(Debug, PartialEq)]
pub enum Answer {
    Active(Map<String, Value>),
    Inactive,
}

/// Why a response is not an answer: the IdP's problem (or the gate's client setup), so
/// the request gets 503, never 401 and never allow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallFailure {
    /// Timeout, reset, no cluster.
    NoResponse,
    /// Anything but `200` (5xx, or 401 when the gate's client credentials are wrong).
    Status(u16),
    TooLarge {
        cap: usize,
    },
    /// Not a JSON object, duplicate members, or `active` missing or not a boolean.
    Malformed(&'static str),
}

impl std::fmt::Display for CallFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallFailure::NoResponse => f.write_str("no response (timeout or connection failure)"),
            CallFailure::Status(s) => write!(f, "HTTP {s}"),
            CallFailure::TooLarge { cap } => write!(f, "response larger than {cap} bytes"),
            CallFailure::Malformed(what) => write!(f, "malformed response: {what}"),
        }
    }
}

/// Parses a response; `body` may be one byte longer than `cap` (hosts read that much so
/// an oversized answer is seen, not truncated into something else).
pub fn parse(status: Option<u16>, body: &[u8], cap: usize) -> Result<Answer, CallFailure> {
    match status {
        None => return Err(CallFailure::NoResponse),
        Some(200) => {}
        Some(s) => return Err(CallFailure::Status(s)),
    }
    if body.len() > cap {
        return Err(CallFailure::TooLarge { cap });
    }
    let mut doc = parse_object(body).map_err(|e| {
        CallFailure::Malformed(match e {
            JsonError::Duplicate => "duplicate member",
            JsonError::NotAnObject => "not a JSON object",
            JsonError::NotUtf8 | JsonError::Syntax => "not JSON",
        })
    })?;
    match doc.remove("active") {
        Some(Value::Bool(true)) => Ok(Answer::Active(doc)),
        Some(Value::Bool(false)) => Ok(Answer::Inactive),
        _ => Err(CallFailure::Malformed("`active` is missing or not a boolean")),
    }
}

/// The claims of an `active: true` answer, checked like a verified JWT's: issuer,
/// audience, expiry, lifetime and claim types (`claims::validate`), claim headers and
/// the claims `require` trees read. A missing `iss` is the provider's own (the endpoint
/// speaks for it); a different one, or a wrong `aud`, is refused. A `token_type` other
/// than an access token's (a refresh token sent as a bearer) is refused too.
pub fn accept(
    config: &GateConfig,
    provider: usize,
    mut claims: Map<String, Value>,
    now_s: u64,
) -> Result<Verified, AuthError> {
    let prov = &config.providers[provider];
    claims.entry("iss").or_insert_with(|| Value::String(prov.issuer.clone()));
    match claims.get("token_type") {
        None => {}
        Some(Value::String(t)) if ["bearer", "access_token", "dpop"].contains(&t.to_ascii_lowercase().as_str()) => {}
        Some(_) => return Err(AuthError::WrongTokenType),
    }
    crate::check::accept_claims(config, provider, &claims, now_s, Proof::Introspection, &mut None)
}

#[cfg(test)]
#[path = "answer_tests.rs"]
mod tests;
