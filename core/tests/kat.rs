//! Known-answer tests: JWS examples published in RFC 7515, RFC 8037 and RFC 7520, kept
//! in `tests/kat/*.json` (each names its source section). Every supported vector must
//! verify with the published key, both through the `VerifyKey` constructors and through
//! a JWKS, and must stop verifying when one signature byte, or one signed byte, changes.
//! Vectors whose payload is a JSON claims set also go through a whole `Gate::decide`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwtgate_core::{parse_compact, parse_jwks, Alg, AuthError, Decision, Gate, JwksOrigin, RequestView, VerifyKey};
use serde_json::{json, Value};

const VECTORS: [(&str, &str); 7] = [
    ("rfc7515_a1_hs256.json", include_str!("kat/rfc7515_a1_hs256.json")),
    ("rfc7515_a2_rs256.json", include_str!("kat/rfc7515_a2_rs256.json")),
    ("rfc7515_a3_es256.json", include_str!("kat/rfc7515_a3_es256.json")),
    ("rfc8037_a4_ed25519.json", include_str!("kat/rfc8037_a4_ed25519.json")),
    ("rfc7520_4_1_rs256.json", include_str!("kat/rfc7520_4_1_rs256.json")),
    ("rfc7520_4_3_es512.json", include_str!("kat/rfc7520_4_3_es512.json")),
    ("rfc7520_4_4_hs256.json", include_str!("kat/rfc7520_4_4_hs256.json")),
];

struct Kat {
    name: &'static str,
    v: Value,
}

impl Kat {
    fn str(&self, key: &str) -> &str {
        self.v[key].as_str().unwrap_or_else(|| panic!("{}: `{key}` is not a string", self.name))
    }
    fn jws(&self) -> &str {
        self.str("jws")
    }
    fn str_jwk(&self, key: &str) -> &str {
        self.v["jwk"][key].as_str().unwrap_or_else(|| panic!("{}: jwk `{key}` missing", self.name))
    }
    fn jwk_bytes(&self, member: &str) -> Vec<u8> {
        b64(self.v["jwk"][member].as_str().unwrap_or_else(|| panic!("{}: jwk has no `{member}`", self.name)))
    }
    /// `header.payload`, and the decoded signature.
    fn parts(&self) -> (&str, Vec<u8>) {
        let (input, sig) = self.jws().rsplit_once('.').expect("a compact JWS");
        (input, b64(sig))
    }
    fn origin(&self) -> JwksOrigin {
        if self.v["jwk"]["kty"] == "oct" {
            JwksOrigin::Inline
        } else {
            JwksOrigin::Remote
        }
    }
}

fn b64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap_or_else(|e| panic!("not base64url ({e}): {s}"))
}

fn vectors() -> Vec<Kat> {
    VECTORS
        .iter()
        .map(|(name, text)| {
            let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            for key in ["source", "alg", "jws", "expected"] {
                assert!(v[key].is_string(), "{name}: `{key}` missing");
            }
            assert!(v["jwk"].is_object(), "{name}: `jwk` missing");
            Kat { name, v }
        })
        .collect()
}

fn supported() -> Vec<Kat> {
    vectors().into_iter().filter(|k| k.str("expected") == "verifies").collect()
}

/// The published key through the `VerifyKey` constructor for its type.
fn direct_key(k: &Kat, alg: Alg) -> VerifyKey {
    let key = match k.str_jwk("kty") {
        "RSA" => VerifyKey::rsa(alg, &k.jwk_bytes("n"), &k.jwk_bytes("e")),
        "EC" => {
            let mut sec1 = vec![4u8];
            sec1.extend(k.jwk_bytes("x"));
            sec1.extend(k.jwk_bytes("y"));
            VerifyKey::ec(alg, &sec1)
        }
        "OKP" => VerifyKey::ed25519(&k.jwk_bytes("x")),
        "oct" => VerifyKey::hmac(alg, &k.jwk_bytes("k")),
        other => panic!("{}: unexpected kty {other}", k.name),
    };
    key.unwrap_or_else(|e| panic!("{}: the published key is refused: {e}", k.name))
}

/// Asserts `verify` accepts the vector and refuses it with any one byte changed.
fn assert_verifies_and_is_tamper_evident(k: &Kat, how: &str, key: &VerifyKey) {
    let (input, sig) = k.parts();
    assert!(key.verify(input.as_bytes(), &sig), "{} ({how}): the published signature does not verify", k.name);
    for i in [0, sig.len() / 2, sig.len() - 1] {
        let mut bad = sig.clone();
        bad[i] ^= 0x01;
        assert!(!key.verify(input.as_bytes(), &bad), "{} ({how}): verifies with signature byte {i} flipped", k.name);
    }
    let mut input_bad = input.as_bytes().to_vec();
    let last = input_bad.len() - 1;
    input_bad[last] ^= 0x01;
    assert!(!key.verify(&input_bad, &sig), "{} ({how}): verifies with the signing input changed", k.name);
    assert!(!key.verify(input.as_bytes(), &sig[..sig.len() - 1]), "{} ({how}): verifies a truncated signature", k.name);
}

#[test]
fn vectors_verify_through_verify_key_constructors() {
    for k in supported() {
        let alg = Alg::parse(k.str("alg")).unwrap_or_else(|| panic!("{}: alg not supported", k.name));
        assert_verifies_and_is_tamper_evident(&k, "VerifyKey", &direct_key(&k, alg));
    }
}

#[test]
fn vectors_verify_through_a_jwks() {
    for k in supported() {
        let alg = Alg::parse(k.str("alg")).expect("supported");
        let set = json!({ "keys": [k.v["jwk"]] }).to_string();
        let doc =
            parse_jwks(set.as_bytes(), k.origin(), &[alg]).unwrap_or_else(|e| panic!("{}: JWKS refused: {e}", k.name));
        assert_eq!(doc.keys.len(), 1, "{}", k.name);
        assert_eq!(doc.keys[0].kid.as_deref(), k.v["jwk"]["kid"].as_str(), "{}", k.name);
        let key = doc.keys[0].verifier(alg).unwrap_or_else(|| panic!("{}: no verifier for {alg}", k.name));
        assert_verifies_and_is_tamper_evident(&k, "JWKS", key);
    }
}

#[test]
fn hmac_vectors_are_refused_from_a_remote_jwks() {
    for k in supported().into_iter().filter(|k| k.origin() == JwksOrigin::Inline) {
        let set = json!({ "keys": [k.v["jwk"]] }).to_string();
        assert!(parse_jwks(set.as_bytes(), JwksOrigin::Remote, &Alg::ALL).is_err(), "{}", k.name);
    }
}

#[test]
fn compact_parsing_matches_the_published_parts() {
    for k in supported() {
        let alg = Alg::parse(k.str("alg")).expect("supported");
        let (input, sig) = k.parts();
        match parse_compact(k.jws(), 16 * 1024) {
            Ok(u) => {
                assert!(k.v["payload_is_claims_set"] == true, "{}: a non-JSON payload was accepted", k.name);
                assert_eq!(u.header.alg, alg, "{}", k.name);
                assert_eq!(u.header.kid.as_deref(), k.v["jwk"]["kid"].as_str(), "{}", k.name);
                assert_eq!(u.signing_input, input, "{}", k.name);
                assert_eq!(u.signature, sig, "{}", k.name);
                assert!(direct_key(&k, alg).verify(u.signing_input.as_bytes(), &u.signature), "{}", k.name);
            }
            // RFC 8037 and RFC 7520 sign prose, not a claims set: jwtgate takes JWTs only.
            Err(e) => {
                assert!(k.v["payload_is_claims_set"] == false, "{}: refused: {e:?}", k.name);
                assert_eq!(e, AuthError::Malformed("payload is not a JSON object"), "{}", k.name);
            }
        }
    }
}

/// The RFC 7515 vectors carry `{"iss":"joe","exp":1300819380,...}`: a whole gate with
/// the published key inline allows them just before `exp` and refuses them after, or
/// with a changed signature.
#[test]
fn claims_set_vectors_pass_the_whole_gate() {
    let mut ran = 0;
    for k in supported().into_iter().filter(|k| k.v["payload_is_claims_set"] == true) {
        let exp = k.v["exp"].as_u64().expect("claims-set vectors give `exp`");
        let config = json!({
            "providers": {"rfc": {
                "issuer": k.str("issuer"), "audiences": "*", "algorithms": [k.str("alg")],
                "jwks": {"inline": {"keys": [k.v["jwk"]]}}
            }},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "rfc"}}]
        });
        let decide = |token: &str, now_s: u64| {
            let mut gate = Gate::from_json(&config.to_string(), 7).unwrap_or_else(|e| panic!("{}: {e}", k.name));
            let headers = vec![("authorization".to_owned(), format!("Bearer {token}"))];
            gate.decide(
                &RequestView { method: "GET", path: "/x", headers: &headers, conn: Default::default() },
                now_s * 1000,
                now_s * 1000,
            )
        };
        let denial = |d: Decision| match d {
            Decision::Deny(d) => d.reason,
            other => panic!("{}: expected a denial, got {other:?}", k.name),
        };
        assert!(matches!(decide(k.jws(), exp - 10), Decision::Allow(_)), "{}: refused before exp", k.name);
        assert_eq!(denial(decide(k.jws(), exp + 3600)), AuthError::Expired, "{}", k.name);
        let (input, mut sig) = k.parts();
        sig[0] ^= 0x01;
        let tampered = format!("{input}.{}", URL_SAFE_NO_PAD.encode(&sig));
        assert_eq!(denial(decide(&tampered, exp - 10)), AuthError::BadSignature, "{}", k.name);
        ran += 1;
    }
    assert_eq!(ran, 3, "RFC 7515 A.1-A.3 all carry a claims set");
}

#[test]
fn es512_is_refused_at_every_step() {
    let refused: Vec<Kat> = vectors().into_iter().filter(|k| k.str("expected") == "alg-refused").collect();
    assert_eq!(refused.len(), 1);
    for k in refused {
        assert_eq!(Alg::parse(k.str("alg")), None, "{}", k.name);
        assert_eq!(parse_compact(k.jws(), 16 * 1024).err(), Some(AuthError::AlgorithmNotAllowed), "{}", k.name);
        let set = json!({ "keys": [k.v["jwk"]] }).to_string();
        assert!(parse_jwks(set.as_bytes(), JwksOrigin::Remote, &Alg::ALL).is_err(), "{}: P-521 key accepted", k.name);
    }
}
