//! Registered-claim checks (RFC 7519 §4.1, RFC 9068 §4), done by jwtgate rather than
//! jwt-simple: `exp` is required, skew is the configured one, lifetimes are bounded,
//! and every time claim must be a non-negative integer.

use crate::config::{Audiences, ProviderConfig};
use crate::error::AuthError;
use serde_json::{Map, Value};

/// Validates time, issuer, audience and subject claims of a signature-verified token.
pub fn validate(claims: &Map<String, Value>, p: &ProviderConfig, now_s: u64) -> Result<(), AuthError> {
    let exp = time_claim(claims, "exp")?.ok_or(AuthError::MissingExpiry)?;
    let nbf = time_claim(claims, "nbf")?;
    let iat = time_claim(claims, "iat")?;
    let skew = p.clock_skew_s;
    if now_s >= exp.saturating_add(skew) {
        return Err(AuthError::Expired);
    }
    if nbf.is_some_and(|nbf| now_s.saturating_add(skew) < nbf) {
        return Err(AuthError::NotYetValid);
    }
    if iat.is_some_and(|iat| now_s.saturating_add(skew) < iat) {
        return Err(AuthError::IssuedInFuture);
    }
    let start = iat.or(nbf).unwrap_or(now_s).min(now_s);
    if exp.saturating_sub(start) > p.max_lifetime_s {
        return Err(AuthError::LifetimeTooLong);
    }
    check_issuer(claims, &p.issuer)?;
    check_audience(claims, &p.audiences)?;
    if claims.get("sub").is_some_and(|s| !s.is_string()) {
        return Err(AuthError::BadClaim("sub"));
    }
    Ok(())
}

/// A NumericDate as whole seconds. Fractions, strings, negatives and values past
/// 2^53 (where JSON numbers stop being exact) are refused rather than rounded.
fn time_claim(claims: &Map<String, Value>, name: &'static str) -> Result<Option<u64>, AuthError> {
    const MAX_EXACT: u64 = 1 << 53;
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match n.as_u64() {
            Some(v) if v <= MAX_EXACT => Ok(Some(v)),
            _ => Err(AuthError::BadClaim(name)),
        },
        Some(_) => Err(AuthError::BadClaim(name)),
    }
}

/// `exp` of claims that passed [`validate`].
pub fn expiry(claims: &Map<String, Value>) -> Option<u64> {
    claims.get("exp").and_then(Value::as_u64)
}

/// The unverified `iss`, used only to pick which provider's keys to try.
pub fn issuer(claims: &Map<String, Value>) -> Option<&str> {
    claims.get("iss").and_then(Value::as_str)
}

fn check_issuer(claims: &Map<String, Value>, expected: &str) -> Result<(), AuthError> {
    match issuer(claims) {
        Some(iss) if iss == expected => Ok(()),
        _ => Err(AuthError::WrongIssuer),
    }
}

fn check_audience(claims: &Map<String, Value>, policy: &Audiences) -> Result<(), AuthError> {
    let Audiences::OneOf(accepted) = policy else { return Ok(()) };
    let matches = |a: &str| accepted.iter().any(|x| x == a);
    match claims.get("aud") {
        Some(Value::String(a)) if matches(a) => Ok(()),
        Some(Value::String(_)) | None => Err(AuthError::WrongAudience),
        Some(Value::Array(list)) => {
            if list.iter().any(|v| !v.is_string()) {
                return Err(AuthError::BadClaim("aud"));
            }
            if list.iter().filter_map(Value::as_str).any(matches) {
                Ok(())
            } else {
                Err(AuthError::WrongAudience)
            }
        }
        Some(_) => Err(AuthError::BadClaim("aud")),
    }
}

/// The token's `cnf` (RFC 7800): `jkt` and `x5t#S256` when they are strings. A `cnf`
/// that is not an object, or a member of the wrong type, refuses the token: a binding
/// the gate cannot read must not make it a bearer token.
pub fn confirmation(claims: &Map<String, Value>) -> Result<crate::cache::Confirmation, AuthError> {
    let Some(cnf) = claims.get("cnf") else { return Ok(Default::default()) };
    let cnf = cnf.as_object().ok_or(AuthError::BadClaim("cnf"))?;
    let member = |name: &str| match cnf.get(name) {
        None => Ok(None),
        Some(Value::String(s)) if !s.is_empty() => Ok(Some(s.clone())),
        Some(_) => Err(AuthError::BadClaim("cnf")),
    };
    Ok(crate::cache::Confirmation { jkt: member("jkt")?, x5t_s256: member("x5t#S256")? })
}

/// Scopes granted by the token: `scope` (RFC 8693/9068, space-separated) or `scp`
/// (an array, as some IdPs send).
pub fn granted_scopes(claims: &Map<String, Value>) -> Vec<&str> {
    match (claims.get("scope"), claims.get("scp")) {
        (Some(Value::String(s)), _) => s.split(' ').filter(|x| !x.is_empty()).collect(),
        (Some(Value::Array(a)), _) => a.iter().filter_map(Value::as_str).collect(),
        (_, Some(Value::Array(a))) => a.iter().filter_map(Value::as_str).collect(),
        (_, Some(Value::String(s))) => s.split(' ').filter(|x| !x.is_empty()).collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
#[path = "claims_tests.rs"]
mod tests;
