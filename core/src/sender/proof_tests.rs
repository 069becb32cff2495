use super::*;
use serde_json::json;

#[test]
fn rfc_7638_section_3_1_thumbprint() {
    let jwk = json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    });
    let m = jwk.as_object().expect("object");
    assert_eq!(thumbprint(m).as_deref(), Some("NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"));
}

#[test]
fn thumbprints_need_their_required_members() {
    let ec = json!({"kty": "EC", "crv": "P-256", "x": "a"});
    assert_eq!(thumbprint(ec.as_object().expect("object")), None);
    let oct = json!({"kty": "oct", "k": "a"});
    assert_eq!(thumbprint(oct.as_object().expect("object")), None);
}

#[test]
fn ath_is_base64url_sha256_of_the_token() {
    // RFC 9449 §7.1 example: the access token `Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU`.
    assert_eq!(
        token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
        "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
    );
}

#[test]
fn structure_is_checked_before_any_key() {
    let algs = [Alg::ES256];
    let e = |raw: &str| parse(raw, &algs, 4096).err();
    assert_eq!(e("a.b"), Some(AuthError::InvalidDpopProof("the proof is not a compact JWS")));
    assert_eq!(e("a.b.c.d"), Some(AuthError::InvalidDpopProof("the proof is not a compact JWS")));
    assert_eq!(
        parse(&"a".repeat(5000), &algs, 4096).err(),
        Some(AuthError::InvalidDpopProof("the proof is too large"))
    );
}
