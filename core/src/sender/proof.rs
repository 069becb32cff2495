//! Reading one DPoP proof (RFC 9449 §4.2–4.3) before its signature is checked: a compact
//! JWS with `typ: dpop+jwt`, an asymmetric `alg` from the allow-list, and a public `jwk`
//! in its header; then its claims against the request.

use crate::alg::Alg;
use crate::b64;
use crate::error::AuthError;
use crate::json;
use crate::jwk::{self, Key};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A structurally valid proof whose signature is not checked yet.
pub struct Proof<'p> {
    pub alg: Alg,
    /// The header's `jwk`, as a verification key (public members only).
    pub key: Key,
    /// RFC 7638 thumbprint of `key`, base64url: what the token's `cnf.jkt` must equal.
    pub jkt: String,
    pub claims: Map<String, Value>,
    pub signing_input: &'p str,
    pub signature: Vec<u8>,
}

/// What the request says the proof must state.
pub struct Expected<'a> {
    pub method: &'a str,
    /// The request's URI in `htu::normalize` form.
    pub htu: &'a str,
    /// The access token the proof must be bound to (`ath`).
    pub token: &'a str,
    pub now_s: u64,
    /// Oldest accepted `iat` is `now - max_age_s - skew_s`; newest `now + skew_s`.
    pub max_age_s: u64,
    pub skew_s: u64,
}

fn bad(why: &'static str) -> AuthError {
    AuthError::InvalidDpopProof(why)
}

/// JWK members that only a private or symmetric key has: a proof carrying one leaks the
/// client's key or tries key confusion.
const PRIVATE_MEMBERS: [&str; 8] = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// Parses the proof and its key. `algs` is the allow-list (asymmetric only).
pub fn parse<'p>(raw: &'p str, algs: &[Alg], max_bytes: usize) -> Result<Proof<'p>, AuthError> {
    if raw.len() > max_bytes {
        return Err(bad("the proof is too large"));
    }
    let mut parts = raw.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(bad("the proof is not a compact JWS"));
    };
    let header = b64::decode(h).and_then(|b| json::parse_object(&b).ok()).ok_or(bad("the proof header is not JSON"))?;
    let claims =
        b64::decode(p).and_then(|b| json::parse_object(&b).ok()).ok_or(bad("the proof claims are not JSON"))?;
    let signature = b64::decode(s).filter(|s| !s.is_empty()).ok_or(bad("the proof signature is not base64url"))?;
    if !header.get("typ").and_then(Value::as_str).is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt")) {
        return Err(bad("the proof's typ is not dpop+jwt"));
    }
    if header.contains_key("crit") {
        return Err(bad("the proof has a crit header"));
    }
    let alg = header.get("alg").and_then(Value::as_str).and_then(Alg::parse);
    let alg = match alg {
        Some(a) if !a.is_symmetric() && algs.contains(&a) => a,
        _ => return Err(bad("the proof's alg is not allowed")),
    };
    let Some(Value::Object(jwk)) = header.get("jwk") else { return Err(bad("the proof header has no jwk")) };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(bad("the proof's jwk carries private key material"));
    }
    let key = jwk::parse_key(jwk, jwk::JwksOrigin::Remote, &[alg]).map_err(|_| bad("the proof's jwk is not usable"))?;
    let jkt = thumbprint(jwk).ok_or(bad("the proof's jwk is not usable"))?;
    Ok(Proof { alg, key, jkt, claims, signing_input: &raw[..h.len() + 1 + p.len()], signature })
}

/// RFC 7638: SHA-256 over the required members in lexicographic order, no whitespace.
pub fn thumbprint(jwk: &Map<String, Value>) -> Option<String> {
    let members: &[&str] = match jwk.get("kty")?.as_str()? {
        "RSA" => &["e", "kty", "n"],
        "EC" => &["crv", "kty", "x", "y"],
        "OKP" => &["crv", "kty", "x"],
        _ => return None,
    };
    let mut canonical = Map::new();
    for m in members {
        canonical.insert((*m).to_owned(), Value::String(jwk.get(*m)?.as_str()?.to_owned()));
    }
    // serde_json's Map is ordered by key (no `preserve_order` feature): lexicographic.
    let text = Value::Object(canonical).to_string();
    Some(URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes())))
}

/// `ath`: base64url SHA-256 of the access token (RFC 9449 §4.2).
pub fn token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

impl Proof<'_> {
    fn text(&self, name: &str) -> Option<&str> {
        self.claims.get(name).and_then(Value::as_str)
    }

    pub fn jti(&self) -> Option<&str> {
        self.text("jti")
    }

    pub fn nonce(&self) -> Option<&str> {
        self.text("nonce")
    }

    pub fn iat(&self) -> Option<u64> {
        self.claims.get("iat").and_then(Value::as_u64)
    }

    /// `htm`, `htu`, `iat`, `jti` and `ath` against the request (not the nonce).
    pub fn check_claims(&self, want: &Expected<'_>) -> Result<(), AuthError> {
        if self.text("htm") != Some(want.method) {
            return Err(bad("the proof's htm is not this request's method"));
        }
        let htu = self.text("htu").and_then(super::htu::normalize);
        if htu.as_deref() != Some(want.htu) {
            return Err(bad("the proof's htu is not this request's URI"));
        }
        let iat = self.iat().ok_or(bad("the proof has no integer iat"))?;
        if iat > want.now_s.saturating_add(want.skew_s) {
            return Err(bad("the proof is issued in the future"));
        }
        if iat.saturating_add(want.max_age_s).saturating_add(want.skew_s) < want.now_s {
            return Err(bad("the proof is too old"));
        }
        match self.jti() {
            Some(j) if !j.is_empty() && j.len() <= 256 => {}
            _ => return Err(bad("the proof has no usable jti")),
        }
        if self.text("ath") != Some(token_hash(want.token).as_str()) {
            return Err(bad("the proof's ath does not match the access token"));
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "proof_tests.rs"]
mod tests;
