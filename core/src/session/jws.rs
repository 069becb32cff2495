//! The two JWTs the login flow receives besides access tokens, each verified with the
//! provider's JWKS (the same key store, so cold keys hold the request like any token):
//! - the ID token (OIDC Core §3.1.3.7): signature, `iss`, `aud` = our client, `exp`,
//!   `nonce` equal to the one this login sent;
//! - the logout token (OIDC Back-Channel Logout §2.6): signature, `iss`, `aud`, `iat`,
//!   `jti`, the back-channel `events` member, `sid` and/or `sub`, and no `nonce`.
//!
//! Signatures are checked by the software verifier: one per login or logout, not per
//! request, so the asynchronous WebCrypto path would only add a round trip.

use crate::check::{signature, Signature};
use crate::config::{GateConfig, LoginConfig};
use crate::fetched::{KeySet, Lookup};
use crate::job::{KeyRef, Verifier};
use serde_json::{Map, Value};

pub const BACKCHANNEL_EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

/// Why a JWT of the login flow is refused (a fixed text for the error page), or that
/// the request must wait for the provider's keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwsError {
    NeedKeys,
    Refused(&'static str),
}

/// Verifies `token`'s signature with provider `p`'s keys and returns its claims.
pub fn verified_claims(
    config: &GateConfig,
    keys: &KeySet,
    p: usize,
    token: &str,
    now_ms: u64,
    may_hold: bool,
) -> Result<Map<String, Value>, JwsError> {
    let prov = &config.providers[p];
    let u = crate::token::parse(token, prov.max_token_bytes).map_err(|_| JwsError::Refused("malformed token"))?;
    if !prov.algorithms.contains(&u.header.alg) || u.header.alg.is_symmetric() {
        return Err(JwsError::Refused("algorithm not allowed"));
    }
    let key = match keys.lookup(u.header.kid.as_deref(), u.header.alg, now_ms) {
        Lookup::Found(k) => k,
        Lookup::Unavailable { cold, refreshable } if may_hold && (cold || refreshable) => {
            return Err(JwsError::NeedKeys)
        }
        Lookup::Unavailable { .. } => return Err(JwsError::Refused("the provider's keys are unavailable")),
        Lookup::Unknown => return Err(JwsError::Refused("unknown signing key")),
    };
    let key_ref = KeyRef::Provider { provider: p, generation: keys.generation(), kid: key.kid.clone() };
    let digest = [0u8; 32]; // only the asynchronous verifier reads it; software is used here
    let sig = (u.signing_input, u.signature.as_slice());
    match signature(&Verifier::Software, key, key_ref, u.header.alg, sig, &digest, &[]) {
        Signature::Valid => Ok(u.claims),
        _ => Err(JwsError::Refused("bad signature")),
    }
}

fn audience_has(claims: &Map<String, Value>, client_id: &str) -> bool {
    match claims.get("aud") {
        Some(Value::String(a)) => a == client_id,
        Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(client_id)),
        _ => false,
    }
}

fn num(claims: &Map<String, Value>, name: &str) -> Option<u64> {
    claims.get(name).and_then(Value::as_u64)
}

/// The ID token checks after the signature. `skew_s` is the provider's clock skew.
pub fn check_id_token(
    claims: &Map<String, Value>,
    issuer: &str,
    login: &LoginConfig,
    nonce: &str,
    now_s: u64,
    skew_s: u64,
) -> Result<(), &'static str> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err("the ID token's issuer is not the provider's");
    }
    if !audience_has(claims, &login.client_id) {
        return Err("the ID token is not for this client");
    }
    match num(claims, "exp") {
        Some(exp) if now_s < exp.saturating_add(skew_s) => {}
        _ => return Err("the ID token has expired"),
    }
    match claims.get("nonce").and_then(Value::as_str) {
        Some(n) if super::same(n, nonce) => Ok(()),
        _ => Err("the ID token's nonce is not the one this login sent"),
    }
}

/// Whom a valid logout token logs out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogoutOf {
    pub sid: Option<String>,
    pub sub: Option<String>,
}

/// The logout token checks after the signature (§2.6 steps 3-7). `max_age_s` bounds
/// how old `iat` may be.
pub fn check_logout_token(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now_s: u64,
    skew_s: u64,
    max_age_s: u64,
) -> Result<LogoutOf, &'static str> {
    if claims.get("iss").and_then(Value::as_str) != Some(issuer) {
        return Err("the logout token's issuer is not the provider's");
    }
    if !audience_has(claims, client_id) {
        return Err("the logout token is not for this client");
    }
    match num(claims, "iat") {
        Some(iat) if iat <= now_s + skew_s && now_s <= iat.saturating_add(max_age_s + skew_s) => {}
        _ => return Err("the logout token's `iat` is missing or not recent"),
    }
    if let Some(exp) = num(claims, "exp") {
        if now_s >= exp.saturating_add(skew_s) {
            return Err("the logout token has expired");
        }
    }
    if claims.get("jti").and_then(Value::as_str).is_none_or(str::is_empty) {
        return Err("the logout token has no `jti`");
    }
    let event = claims.get("events").and_then(Value::as_object).and_then(|e| e.get(BACKCHANNEL_EVENT));
    if !event.is_some_and(Value::is_object) {
        return Err("the logout token has no back-channel logout event");
    }
    // §2.4: a nonce is forbidden, so an ID token can never pass as a logout token.
    if claims.contains_key("nonce") {
        return Err("a logout token must not carry a `nonce`");
    }
    let text = |name: &str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned);
    let of = LogoutOf { sid: text("sid"), sub: text("sub") };
    if of.sid.is_none() && of.sub.is_none() {
        return Err("the logout token names neither `sid` nor `sub`");
    }
    Ok(of)
}

#[cfg(test)]
#[path = "jws_tests.rs"]
mod tests;
