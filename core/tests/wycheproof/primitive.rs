//! Primitive signature vectors (RSA PKCS#1 v1.5, RSA-PSS, ECDSA P1363, Ed25519), run
//! through `VerifyKey`: the same constructors (and key policy) and the same `verify`
//! that the gate applies to a token's signing input.

use super::support::{flags, hex, str_of, Exceptions, Tally};
use jwtgate_core::{Alg, VerifyKey};
use serde_json::Value;

/// Which algorithm a primitive file's groups map to, or why a group has none.
fn alg_for(file: &str, group: &Value) -> Result<Alg, String> {
    let sha = group["sha"].as_str().unwrap_or("");
    match group["type"].as_str().unwrap_or("") {
        "RsassaPkcs1Verify" => match sha {
            "SHA-256" => Ok(Alg::RS256),
            "SHA-384" => Ok(Alg::RS384),
            "SHA-512" => Ok(Alg::RS512),
            other => Err(format!("no RS* algorithm uses {other}")),
        },
        "RsassaPssVerify" => {
            // JWS PS* fixes MGF1 with the same hash and a salt as long as the hash (RFC 7518 §3.5).
            let (mgf_sha, salt) = (group["mgfSha"].as_str().unwrap_or(""), group["sLen"].as_u64());
            match (sha, mgf_sha, salt, group["mgf"].as_str()) {
                ("SHA-256", "SHA-256", Some(32), Some("MGF1")) => Ok(Alg::PS256),
                ("SHA-384", "SHA-384", Some(48), Some("MGF1")) => Ok(Alg::PS384),
                ("SHA-512", "SHA-512", Some(64), Some("MGF1")) => Ok(Alg::PS512),
                _ => Err(format!("PSS with {sha}/MGF1-{mgf_sha}/salt {salt:?} is no JWS algorithm")),
            }
        }
        "EcdsaP1363Verify" => match (group["publicKey"]["curve"].as_str().unwrap_or(""), sha) {
            ("secp256r1", "SHA-256") => Ok(Alg::ES256),
            ("secp384r1", "SHA-384") => Ok(Alg::ES384),
            (curve, sha) => Err(format!("ECDSA on {curve} with {sha} is not supported")),
        },
        "EddsaVerify" => match group["publicKey"]["curve"].as_str() {
            Some("edwards25519") => Ok(Alg::EdDSA),
            other => Err(format!("EdDSA on {other:?} is not supported")),
        },
        other => panic!("{file}: unexpected test group type {other:?}"),
    }
}

/// Leading zero octets dropped, as JWK `n` / `e` carry them (RFC 7518 §6.3.1).
fn unsigned(bytes: Vec<u8>) -> Vec<u8> {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

/// The group's key, built the way a JWKS key is built; `Err` when jwtgate refuses it.
fn key_for(alg: Alg, group: &Value) -> Result<VerifyKey, String> {
    let pk = &group["publicKey"];
    let key = match alg {
        Alg::RS256 | Alg::RS384 | Alg::RS512 | Alg::PS256 | Alg::PS384 | Alg::PS512 => {
            VerifyKey::rsa(alg, &unsigned(hex(str_of(pk, "modulus"))), &unsigned(hex(str_of(pk, "publicExponent"))))
        }
        Alg::ES256 | Alg::ES384 => VerifyKey::ec(alg, &hex(str_of(pk, "uncompressed"))),
        Alg::EdDSA => VerifyKey::ed25519(&hex(str_of(pk, "pk"))),
        _ => Err("not a primitive-file algorithm"),
    };
    key.map_err(|e| format!("key refused: {e}"))
}

/// Runs every test of one primitive file; the label is the file name.
pub fn run(dir: &std::path::Path, file: &str, ex: &Exceptions) -> Tally {
    let doc = super::support::load(dir, file);
    let mut tally = Tally::new(file);
    let groups = doc["testGroups"].as_array().unwrap_or_else(|| panic!("{file}: no testGroups"));
    for group in groups {
        let key = alg_for(file, group).and_then(|alg| key_for(alg, group).map(|k| (alg, k)));
        for t in group["tests"].as_array().unwrap_or_else(|| panic!("{file}: a group has no tests")) {
            let tc_id = t["tcId"].as_u64().unwrap_or_else(|| panic!("{file}: test without tcId"));
            let flags = flags(t);
            let expected = match str_of(t, "result") {
                "valid" => true,
                "invalid" => false,
                "acceptable" => match ex.acceptable_verdict(file, tc_id, &flags) {
                    Ok(v) => v,
                    Err(e) => {
                        tally.errors.push(e);
                        continue;
                    }
                },
                other => panic!("{file} tcId {tc_id}: unknown result {other:?}"),
            };
            let actual = match &key {
                Ok((_, k)) => k.verify(&hex(str_of(t, "msg")), &hex(str_of(t, "sig"))),
                Err(_) => false,
            };
            tally.record(tc_id, expected, actual, || {
                let why = match &key {
                    Ok((alg, _)) => format!("{alg} verify"),
                    Err(e) => e.clone(),
                };
                format!("{why}; flags {flags:?}; comment {:?}", t["comment"].as_str().unwrap_or(""))
            });
        }
    }
    tally
}
