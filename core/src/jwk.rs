//! JWK Set parsing (RFC 7517) into keys jwtgate will trust.
//!
//! A key is usable only if it is a signature key of a supported type, strong enough,
//! public only, and its `alg` (if any) agrees with its type and the provider's
//! allow-list. Unusable keys are skipped with a reason; a malformed set, a duplicate
//! `kid` or a set with no usable key is an error, so the caller keeps its last good set.

use crate::alg::{Alg, KeyFamily};
use crate::b64;
use crate::json;
use crate::verify::VerifyKey;
use serde_json::{Map, Value};
use std::fmt;

/// Where a JWKS came from: symmetric keys are only trusted from the operator's config.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JwksOrigin {
    Inline,
    Remote,
}

/// A trusted verification key, ready for each algorithm it may verify.
#[derive(Clone)]
pub struct Key {
    pub kid: Option<String>,
    pub family: KeyFamily,
    verifiers: Vec<(Alg, VerifyKey)>,
    /// DER SubjectPublicKeyInfo for host-native verifiers (RSA and EC keys).
    spki: Option<Vec<u8>>,
    /// The public members as a JWK (kty, n, e, crv, x, y), for hosts whose crypto API
    /// imports JWKs (WebCrypto). Never carries private or symmetric material.
    public_jwk: Option<String>,
}

impl Key {
    pub fn spki(&self) -> Option<&[u8]> {
        self.spki.as_deref()
    }

    pub fn public_jwk(&self) -> Option<&str> {
        self.public_jwk.as_deref()
    }

    /// The algorithms this key may verify (for tools that list a key set).
    pub fn algorithms(&self) -> impl Iterator<Item = Alg> + '_ {
        self.verifiers.iter().map(|(a, _)| *a)
    }

    /// The verifier for `alg`, if this key may verify it.
    pub fn verifier(&self, alg: Alg) -> Option<&VerifyKey> {
        self.verifiers.iter().find(|(a, _)| *a == alg).map(|(_, v)| v)
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let algs: Vec<_> = self.verifiers.iter().map(|(a, _)| a.name()).collect();
        write!(f, "Key(kid={:?}, algs={algs:?})", self.kid)
    }
}

/// The usable keys of one JWKS, plus why the others were skipped.
#[derive(Clone, Debug, Default)]
pub struct KeySetDoc {
    pub keys: Vec<Key>,
    pub skipped: Vec<String>,
}

/// Why a whole JWKS was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum JwksError {
    NotJson,
    NoKeysArray,
    TooManyKeys(usize),
    DuplicateKid(String),
    NoUsableKeys(Vec<String>),
}

impl fmt::Display for JwksError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JwksError::NotJson => f.write_str("JWKS is not a JSON object (or has duplicate members)"),
            JwksError::NoKeysArray => f.write_str("JWKS has no `keys` array"),
            JwksError::TooManyKeys(n) => write!(f, "JWKS has {n} keys; at most {MAX_KEYS} are accepted"),
            JwksError::DuplicateKid(k) => write!(f, "JWKS has two signature keys with kid {k:?}"),
            JwksError::NoUsableKeys(why) => write!(f, "JWKS has no usable key ({})", why.join("; ")),
        }
    }
}

impl std::error::Error for JwksError {}

pub const MAX_KEYS: usize = 64;

/// Parses JWKS bytes, keeping only keys usable for `allowed` algorithms.
pub fn parse_jwks(bytes: &[u8], origin: JwksOrigin, allowed: &[Alg]) -> Result<KeySetDoc, JwksError> {
    let doc = json::parse_object(bytes).map_err(|_| JwksError::NotJson)?;
    let entries = match doc.get("keys") {
        Some(Value::Array(a)) => a,
        _ => return Err(JwksError::NoKeysArray),
    };
    if entries.len() > MAX_KEYS {
        return Err(JwksError::TooManyKeys(entries.len()));
    }
    // A kid names one key: two signature-capable entries with the same kid are ambiguous
    // even when one of them is unusable (which one did the IdP mean?), so the whole set
    // is refused. Encryption keys (`use: enc`) may share kids with signature keys.
    let mut seen: Vec<&str> = Vec::new();
    for entry in entries {
        let is_enc = entry.get("use").and_then(Value::as_str) == Some("enc");
        if let (Some(kid), false) = (entry.get("kid").and_then(Value::as_str), is_enc) {
            if seen.contains(&kid) {
                return Err(JwksError::DuplicateKid(kid.to_owned()));
            }
            seen.push(kid);
        }
    }
    let mut out = KeySetDoc::default();
    for (i, entry) in entries.iter().enumerate() {
        let label = entry.get("kid").and_then(Value::as_str).map_or(format!("#{i}"), |k| format!("{k:?}"));
        match entry.as_object().ok_or("not a JSON object").and_then(|m| parse_key(m, origin, allowed)) {
            Ok(key) => out.keys.push(key),
            Err(why) => out.skipped.push(format!("key {label}: {why}")),
        }
    }
    if out.keys.is_empty() {
        return Err(JwksError::NoUsableKeys(out.skipped));
    }
    Ok(out)
}

type KeyResult<T> = Result<T, &'static str>;

pub(crate) fn parse_key(m: &Map<String, Value>, origin: JwksOrigin, allowed: &[Alg]) -> KeyResult<Key> {
    if let Some(u) = m.get("use") {
        if u.as_str() != Some("sig") {
            return Err("`use` is not \"sig\"");
        }
    }
    if let Some(ops) = m.get("key_ops") {
        let ops = ops.as_array().ok_or("`key_ops` is not an array")?;
        if !ops.iter().any(|o| o.as_str() == Some("verify")) {
            return Err("`key_ops` does not include \"verify\"");
        }
    }
    let kid = match m.get("kid") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err("`kid` is not a string"),
    };
    let kty = m.get("kty").and_then(Value::as_str).ok_or("`kty` is missing")?;
    let family = key_family(kty, m, origin)?;
    let algs = usable_algs(m, family, allowed)?;
    let mut verifiers = Vec::with_capacity(algs.len());
    for alg in algs {
        verifiers.push((alg, build_verifier(alg, m)?));
    }
    let spki = verifiers.first().and_then(|(_, v)| v.spki_der());
    let public_jwk = (family != KeyFamily::Hmac).then(|| {
        let public: Map<String, Value> = ["kty", "n", "e", "crv", "x", "y"]
            .iter()
            .filter_map(|k| m.get(*k).map(|v| ((*k).to_owned(), v.clone())))
            .collect();
        Value::Object(public).to_string()
    });
    Ok(Key { kid, family, verifiers, spki, public_jwk })
}

fn key_family(kty: &str, m: &Map<String, Value>, origin: JwksOrigin) -> KeyResult<KeyFamily> {
    let private = ["d", "p", "q", "dp", "dq", "qi", "oth"];
    if kty != "oct" && private.iter().any(|p| m.contains_key(*p)) {
        return Err("contains private key material");
    }
    match (kty, m.get("crv").and_then(Value::as_str)) {
        ("RSA", _) => Ok(KeyFamily::Rsa),
        ("EC", Some("P-256")) => Ok(KeyFamily::P256),
        ("EC", Some("P-384")) => Ok(KeyFamily::P384),
        ("EC", _) => Err("unsupported EC curve"),
        ("OKP", Some("Ed25519")) => Ok(KeyFamily::Ed25519),
        ("OKP", _) => Err("unsupported OKP curve"),
        ("oct", _) if origin == JwksOrigin::Remote => Err("symmetric keys are never taken from a remote JWKS"),
        ("oct", _) => Ok(KeyFamily::Hmac),
        _ => Err("unsupported kty"),
    }
}

/// The algorithms this key may verify: its own `alg` if set (it must fit the key
/// type), else every allowed algorithm of its family.
fn usable_algs(m: &Map<String, Value>, family: KeyFamily, allowed: &[Alg]) -> KeyResult<Vec<Alg>> {
    let algs: Vec<Alg> = match m.get("alg") {
        Some(v) => {
            let alg = v.as_str().and_then(Alg::parse).ok_or("unsupported `alg`")?;
            if alg.family() != family {
                return Err("`alg` does not match the key type");
            }
            vec![alg]
        }
        None => Alg::ALL.iter().copied().filter(|a| a.family() == family).collect(),
    };
    let algs: Vec<Alg> = algs.into_iter().filter(|a| allowed.contains(a)).collect();
    if algs.is_empty() {
        return Err("its algorithm is not in the provider's `algorithms`");
    }
    Ok(algs)
}

fn member(m: &Map<String, Value>, name: &'static str) -> KeyResult<Vec<u8>> {
    let s = m.get(name).and_then(Value::as_str).ok_or(name)?;
    b64::decode(s).filter(|b| !b.is_empty()).ok_or("a member is not canonical base64url")
}

fn build_verifier(alg: Alg, m: &Map<String, Value>) -> KeyResult<VerifyKey> {
    match alg.family() {
        KeyFamily::Rsa => VerifyKey::rsa(alg, &member(m, "n")?, &member(m, "e")?),
        KeyFamily::P256 | KeyFamily::P384 => {
            let size = if alg.family() == KeyFamily::P256 { 32 } else { 48 };
            let (x, y) = (member(m, "x")?, member(m, "y")?);
            if x.len() != size || y.len() != size {
                return Err("EC coordinates have the wrong length");
            }
            let mut sec1 = Vec::with_capacity(1 + 2 * size);
            sec1.push(4);
            sec1.extend_from_slice(&x);
            sec1.extend_from_slice(&y);
            VerifyKey::ec(alg, &sec1)
        }
        KeyFamily::Ed25519 => VerifyKey::ed25519(&member(m, "x")?),
        KeyFamily::Hmac => VerifyKey::hmac(alg, &member(m, "k")?),
    }
}

#[cfg(test)]
#[path = "jwk_tests.rs"]
mod tests;
