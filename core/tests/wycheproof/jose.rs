//! `json_web_key_test.json` and `json_web_signature_test.json`: a key set and a token,
//! taken through the gate's own steps: `parse_jwks`, `parse_compact`, the provider's
//! algorithm list, the key lookup by `kid` (or the one fitting key when there is none),
//! and `VerifyKey::verify` over the signing input.
//!
//! Every Wycheproof JOSE vector has a payload that is not a JSON object (`foo`, `Test`,
//! RFC 7520's prose), which jwtgate refuses before looking at the signature: a JWT's
//! payload is a claims set. So each vector runs in two modes:
//!   * `<file>:<origin>`: the token exactly as given (what the gate does);
//!   * `<file>:<origin>:sig`: the same, except that `parse_compact` sees the payload
//!     segment replaced by `e30` (`{}`); the original payload must still be strict
//!     base64url and the signature is verified over the original signing input. This
//!     keeps every header, key, base64 and signature check in play for these vectors.
//!
//! Origins: every key set is loaded as a remote JWKS (asymmetric algorithms allowed);
//! sets that hold an `oct` key are also loaded as an inline JWKS with every algorithm
//! allowed, the only way jwtgate ever accepts HMAC keys.

use super::support::{flags, str_of, Exceptions, Tally};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwtgate_core::{parse_compact, parse_jwks, Alg, JwksOrigin};
use serde_json::{json, Value};
use std::collections::BTreeMap;

const MAX_TOKEN_BYTES: usize = 64 * 1024;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    AsGiven,
    PayloadBypassed,
}

fn origin_name(origin: JwksOrigin) -> &'static str {
    match origin {
        JwksOrigin::Remote => "remote",
        JwksOrigin::Inline => "inline",
    }
}

fn label(file: &str, origin: JwksOrigin, mode: Mode) -> String {
    let suffix = if mode == Mode::PayloadBypassed { ":sig" } else { "" };
    format!("{file}:{}{suffix}", origin_name(origin))
}

/// Every label the JOSE files can produce, for checking the exceptions file.
pub fn labels(file: &str) -> Vec<String> {
    let mut out = Vec::new();
    for origin in [JwksOrigin::Remote, JwksOrigin::Inline] {
        for mode in [Mode::AsGiven, Mode::PayloadBypassed] {
            out.push(label(file, origin, mode));
        }
    }
    out
}

fn allowed(origin: JwksOrigin) -> Vec<Alg> {
    match origin {
        JwksOrigin::Remote => Alg::ALL.iter().copied().filter(|a| !a.is_symmetric()).collect(),
        JwksOrigin::Inline => Alg::ALL.to_vec(),
    }
}

/// Accepted, or the first step that refused and why.
fn evaluate(set: &Value, origin: JwksOrigin, jws: &str, mode: Mode) -> Result<(), String> {
    let allowed = allowed(origin);
    let doc = parse_jwks(set.to_string().as_bytes(), origin, &allowed).map_err(|e| format!("jwks: {e}"))?;
    let (text, signing_input) = match (mode, jws.split('.').collect::<Vec<_>>().as_slice()) {
        (Mode::PayloadBypassed, [h, p, s]) => {
            URL_SAFE_NO_PAD.decode(p).map_err(|_| "bypass: payload is not base64url".to_owned())?;
            (format!("{h}.e30.{s}"), Some(format!("{h}.{p}")))
        }
        _ => (jws.to_owned(), None),
    };
    let u = parse_compact(&text, MAX_TOKEN_BYTES).map_err(|e| format!("parse: {e:?}"))?;
    let alg = u.header.alg;
    if !allowed.contains(&alg) {
        return Err(format!("{alg} is not allowed for a {} JWKS", origin_name(origin)));
    }
    let key = match u.header.kid.as_deref() {
        Some(kid) => doc.keys.iter().find(|k| k.kid.as_deref() == Some(kid)),
        None => {
            let mut fitting = doc.keys.iter().filter(|k| k.verifier(alg).is_some());
            match (fitting.next(), fitting.next()) {
                (Some(k), None) => Some(k),
                _ => None,
            }
        }
    };
    let verifier =
        key.and_then(|k| k.verifier(alg)).ok_or_else(|| format!("no key for kid {:?} and {alg}", u.header.kid))?;
    let input = signing_input.as_deref().unwrap_or(u.signing_input);
    if verifier.verify(input.as_bytes(), &u.signature) {
        Ok(())
    } else {
        Err(format!("{alg} signature does not verify"))
    }
}

/// A group's key set: a JWK Set as given (JWK file) or one JWK wrapped in a set (JWS
/// file); the public form when there is one.
fn key_set(group: &Value) -> Value {
    let keys = if group["public"].is_object() { &group["public"] } else { &group["private"] };
    if keys["keys"].is_array() {
        keys.clone()
    } else {
        json!({ "keys": [keys] })
    }
}

fn has_oct(set: &Value) -> bool {
    set["keys"].as_array().is_some_and(|ks| ks.iter().any(|k| k["kty"] == "oct"))
}

/// Runs one JOSE file under every applicable origin and mode.
pub fn run(dir: &std::path::Path, file: &str, ex: &Exceptions) -> Vec<Tally> {
    let doc = super::support::load(dir, file);
    let mut tallies: BTreeMap<String, Tally> = BTreeMap::new();
    for group in doc["testGroups"].as_array().unwrap_or_else(|| panic!("{file}: no testGroups")) {
        let set = key_set(group);
        let mut origins = vec![JwksOrigin::Remote];
        if has_oct(&set) {
            origins.push(JwksOrigin::Inline);
        }
        for t in group["tests"].as_array().unwrap_or_else(|| panic!("{file}: a group has no tests")) {
            let tc_id = t["tcId"].as_u64().unwrap_or_else(|| panic!("{file}: test without tcId"));
            let jws = str_of(t, "jws");
            for &origin in &origins {
                for mode in [Mode::AsGiven, Mode::PayloadBypassed] {
                    let name = label(file, origin, mode);
                    let tally = tallies.entry(name.clone()).or_insert_with(|| Tally::new(name.clone()));
                    let expected = match str_of(t, "result") {
                        "valid" => true,
                        "invalid" => false,
                        "acceptable" => match ex.acceptable_verdict(&name, tc_id, &flags(t)) {
                            Ok(v) => v,
                            Err(e) => {
                                tally.errors.push(e);
                                continue;
                            }
                        },
                        other => panic!("{file} tcId {tc_id}: unknown result {other:?}"),
                    };
                    let outcome = evaluate(&set, origin, jws, mode);
                    tally.record(tc_id, expected, outcome.is_ok(), || {
                        let why = outcome.err().unwrap_or_else(|| "all checks passed".into());
                        format!("{why}; group {:?}; comment {:?}", group["comment"], t["comment"])
                    });
                }
            }
        }
    }
    tallies.into_values().collect()
}
