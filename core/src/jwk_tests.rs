use super::*;
use crate::test_support::*;
use serde_json::json;

const ASYM: [Alg; 4] = [Alg::RS256, Alg::ES256, Alg::ES384, Alg::EdDSA];

fn parse(doc: &Value, origin: JwksOrigin, allowed: &[Alg]) -> Result<KeySetDoc, JwksError> {
    parse_jwks(doc.to_string().as_bytes(), origin, allowed)
}

/// Parses a set holding one good EC key plus `candidate`, and returns why the candidate
/// was skipped (panicking if it was accepted).
fn skip_reason(candidate: Value, origin: JwksOrigin, allowed: &[Alg]) -> String {
    let good = ec_jwk(&ec_key("good"));
    let doc = parse(&jwks(&[good, candidate]), origin, allowed).expect("the good key keeps the set usable");
    assert_eq!(doc.keys.len(), 1, "only the good key is usable: {:?}", doc.keys);
    assert_eq!(doc.keys[0].kid.as_deref(), Some("good"));
    assert_eq!(doc.skipped.len(), 1);
    doc.skipped[0].clone()
}

fn hmac_jwk(kid: &str) -> Value {
    json!({"kty": "oct", "kid": kid, "k": b64::encode(&[7u8; 32])})
}

#[test]
fn rsa_2048_key_is_accepted_for_its_alg_only() {
    let doc = parse_jwks(RSA2048_JWKS.as_bytes(), JwksOrigin::Remote, &[Alg::RS256, Alg::PS256]).expect("usable");
    assert_eq!(doc.keys.len(), 1);
    let k = &doc.keys[0];
    assert_eq!((k.kid.as_deref(), k.family), (Some("rsa-2048"), KeyFamily::Rsa));
    assert!(k.verifier(Alg::RS256).is_some());
    // The JWK says `alg: RS256`, so it must not be usable for PS256 even if allowed.
    assert!(k.verifier(Alg::PS256).is_none());
}

#[test]
fn rsa_key_without_alg_serves_every_allowed_rsa_alg() {
    let mut jwk = rsa_jwk();
    jwk.as_object_mut().expect("object").remove("alg");
    let doc = parse(&jwks(&[jwk]), JwksOrigin::Remote, &[Alg::RS256, Alg::PS256, Alg::ES256]).expect("usable");
    let k = &doc.keys[0];
    assert!(k.verifier(Alg::RS256).is_some() && k.verifier(Alg::PS256).is_some());
    assert!(k.verifier(Alg::RS512).is_none(), "RS512 is not in the allow-list");
    assert!(k.verifier(Alg::ES256).is_none() && k.verifier(Alg::HS256).is_none());
}

#[test]
fn rsa_1024_key_is_skipped_as_weak() {
    let err = parse_jwks(RSA1024_JWKS.as_bytes(), JwksOrigin::Remote, &ASYM).expect_err("1024-bit only");
    let JwksError::NoUsableKeys(why) = err else { panic!("expected NoUsableKeys, got {err:?}") };
    assert_eq!(why.len(), 1);
    assert!(why[0].contains("weaker than 2048"), "{why:?}");
    assert!(why[0].contains("rsa-1024"), "the skip reason names the key: {why:?}");
}

#[test]
fn encryption_keys_are_skipped() {
    let mut k = ec_jwk(&ec_key("enc"));
    k["use"] = json!("enc");
    assert!(skip_reason(k, JwksOrigin::Remote, &ASYM).contains("`use`"));
}

#[test]
fn key_ops_without_verify_are_skipped() {
    let mut k = ec_jwk(&ec_key("signer"));
    k["key_ops"] = json!(["sign"]);
    assert!(skip_reason(k.clone(), JwksOrigin::Remote, &ASYM).contains("key_ops"));
    k["key_ops"] = json!("verify");
    assert!(skip_reason(k.clone(), JwksOrigin::Remote, &ASYM).contains("not an array"));
    k["key_ops"] = json!(["verify"]);
    let doc = parse(&jwks(&[k]), JwksOrigin::Remote, &ASYM).expect("verify is enough");
    assert_eq!(doc.keys.len(), 1);
}

#[test]
fn symmetric_keys_from_a_remote_jwks_are_never_trusted() {
    let hs = [Alg::HS256, Alg::ES256];
    let why = skip_reason(hmac_jwk("secret"), JwksOrigin::Remote, &hs);
    assert!(why.contains("remote"), "{why}");
}

#[test]
fn inline_symmetric_key_needs_an_hmac_algorithm_allowed() {
    let why = skip_reason(hmac_jwk("secret"), JwksOrigin::Inline, &ASYM);
    assert!(why.contains("algorithms"), "{why}");
    let doc = parse(&jwks(&[hmac_jwk("secret")]), JwksOrigin::Inline, &[Alg::HS256]).expect("allowed");
    assert_eq!(doc.keys[0].family, KeyFamily::Hmac);
    assert!(doc.keys[0].verifier(Alg::HS256).is_some());
}

#[test]
fn short_hmac_secret_is_skipped() {
    let short = json!({"kty": "oct", "kid": "short", "k": b64::encode(&[7u8; 31])});
    let why = skip_reason(short, JwksOrigin::Inline, &[Alg::HS256, Alg::ES256]);
    assert!(why.contains("shorter"), "{why}");
}

#[test]
fn keys_with_private_members_are_skipped() {
    for member in ["d", "p", "q", "dp", "dq", "qi", "oth"] {
        let mut k = ec_jwk(&ec_key("leaked"));
        k[member] = json!("AQAB");
        assert!(skip_reason(k, JwksOrigin::Remote, &ASYM).contains("private"), "{member}");
    }
    let mut rsa = rsa_jwk();
    rsa["d"] = json!("AQAB");
    let err = parse(&jwks(&[rsa]), JwksOrigin::Remote, &ASYM).expect_err("private RSA key");
    assert!(matches!(err, JwksError::NoUsableKeys(ref w) if w[0].contains("private")), "{err:?}");
}

#[test]
fn ec_point_off_the_curve_is_skipped() {
    let mut k = ec_jwk(&ec_key("bent"));
    // (1, 1) is not on P-256.
    let mut one = [0u8; 32];
    one[31] = 1;
    k["x"] = json!(b64::encode(&one));
    k["y"] = json!(b64::encode(&one));
    assert!(skip_reason(k, JwksOrigin::Remote, &ASYM).contains("not on the curve"));
}

#[test]
fn ec_coordinates_of_the_wrong_length_are_skipped() {
    let k = ec_jwk(&ec_key("short"));
    let x = b64::decode(k["x"].as_str().expect("x")).expect("b64");
    let mut short = k.clone();
    short["x"] = json!(b64::encode(&x[1..]));
    assert!(skip_reason(short, JwksOrigin::Remote, &ASYM).contains("wrong length"));
    // A P-256 point labelled P-384 has 32-byte coordinates where 48 are needed.
    let mut relabelled = k.clone();
    relabelled["crv"] = json!("P-384");
    relabelled["alg"] = json!("ES384");
    assert!(skip_reason(relabelled, JwksOrigin::Remote, &ASYM).contains("wrong length"));
}

#[test]
fn non_canonical_base64_member_is_skipped() {
    let mut k = ec_jwk(&ec_key("padded"));
    k["x"] = json!(format!("{}=", k["x"].as_str().expect("x")));
    assert!(skip_reason(k, JwksOrigin::Remote, &ASYM).contains("base64url"));
}

#[test]
fn alg_that_does_not_fit_the_key_type_is_skipped() {
    let mut ec = ec_jwk(&ec_key("ec-as-rsa"));
    ec["alg"] = json!("RS256");
    assert!(skip_reason(ec, JwksOrigin::Remote, &ASYM).contains("does not match"));
    let mut rsa = rsa_jwk();
    rsa["alg"] = json!("HS256");
    assert!(skip_reason(rsa, JwksOrigin::Inline, &[Alg::HS256, Alg::ES256]).contains("does not match"));
}

#[test]
fn unknown_or_none_alg_is_skipped() {
    for alg in [json!("ES512"), json!("none"), json!("es256"), json!(256)] {
        let mut k = ec_jwk(&ec_key("odd"));
        k["alg"] = alg.clone();
        assert!(skip_reason(k, JwksOrigin::Remote, &ASYM).contains("unsupported `alg`"), "{alg}");
    }
}

#[test]
fn key_of_a_disallowed_algorithm_is_skipped() {
    let why = skip_reason(rsa_jwk(), JwksOrigin::Remote, &[Alg::ES256]);
    assert!(why.contains("algorithms"), "{why}");
}

#[test]
fn unsupported_kty_crv_and_non_string_kid_are_skipped() {
    let k = ec_jwk(&ec_key("x"));
    let mut kty = k.clone();
    kty["kty"] = json!("XYZ");
    assert!(skip_reason(kty, JwksOrigin::Remote, &ASYM).contains("kty"));
    let mut crv = k.clone();
    crv["crv"] = json!("secp256k1");
    assert!(skip_reason(crv, JwksOrigin::Remote, &ASYM).contains("curve"));
    let mut kid = k.clone();
    kid["kid"] = json!(7);
    assert!(skip_reason(kid, JwksOrigin::Remote, &ASYM).contains("kid"));
    assert!(skip_reason(json!("not a key"), JwksOrigin::Remote, &ASYM).contains("not a JSON object"));
}

#[test]
fn ed25519_key_is_accepted() {
    let doc = parse(&jwks(&[ed_jwk(&ed_key("ed"))]), JwksOrigin::Remote, &ASYM).expect("usable");
    assert_eq!(doc.keys[0].family, KeyFamily::Ed25519);
    assert!(doc.keys[0].verifier(Alg::EdDSA).is_some());
}

#[test]
fn duplicate_kid_rejects_the_whole_set() {
    let a = ec_jwk(&ec_key("same"));
    let b = ec_jwk(&ec_key("same"));
    let err = parse(&jwks(&[a, b]), JwksOrigin::Remote, &ASYM).expect_err("ambiguous kid");
    assert_eq!(err, JwksError::DuplicateKid("same".into()));
}

#[test]
fn kidless_keys_are_not_duplicates() {
    let mut a = ec_jwk(&ec_key("a"));
    let mut b = ec_jwk(&ec_key("b"));
    a.as_object_mut().expect("object").remove("kid");
    b.as_object_mut().expect("object").remove("kid");
    let doc = parse(&jwks(&[a, b]), JwksOrigin::Remote, &ASYM).expect("two kid-less keys");
    assert_eq!(doc.keys.len(), 2);
}

#[test]
fn set_without_usable_keys_is_an_error_listing_reasons() {
    let mut enc = ec_jwk(&ec_key("enc"));
    enc["use"] = json!("enc");
    let err = parse(&jwks(&[enc, hmac_jwk("h")]), JwksOrigin::Remote, &ASYM).expect_err("nothing usable");
    let JwksError::NoUsableKeys(why) = &err else { panic!("expected NoUsableKeys, got {err:?}") };
    assert_eq!(why.len(), 2, "{why:?}");
    let empty = parse(&jwks(&[]), JwksOrigin::Remote, &ASYM).map(|_| ());
    assert_eq!(empty, Err(JwksError::NoUsableKeys(vec![])));
}

#[test]
fn malformed_documents_are_refused() {
    let p = |b: &[u8]| parse_jwks(b, JwksOrigin::Remote, &ASYM).map(|_| ()).expect_err("refused");
    assert_eq!(p(b"<html>"), JwksError::NotJson);
    assert_eq!(p(b""), JwksError::NotJson);
    assert_eq!(p(br#"{"keys":[],"keys":[]}"#), JwksError::NotJson);
    assert_eq!(p(br#"[{"kty":"RSA"}]"#), JwksError::NotJson);
    assert_eq!(p(br#"{"foo":[]}"#), JwksError::NoKeysArray);
    assert_eq!(p(br#"{"keys":{}}"#), JwksError::NoKeysArray);
}

#[test]
fn too_many_keys_are_refused() {
    let key = ec_jwk(&ec_key("k"));
    let keys: Vec<Value> = (0..=MAX_KEYS)
        .map(|i| {
            let mut k = key.clone();
            k["kid"] = json!(format!("k{i}"));
            k
        })
        .collect();
    let err = parse(&jwks(&keys), JwksOrigin::Remote, &ASYM).map(|_| ()).expect_err("65 keys");
    assert_eq!(err, JwksError::TooManyKeys(MAX_KEYS + 1));
    let doc = parse(&jwks(&keys[..MAX_KEYS]), JwksOrigin::Remote, &ASYM).expect("64 keys are fine");
    assert_eq!(doc.keys.len(), MAX_KEYS);
}
