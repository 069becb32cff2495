use super::*;
use crate::config::IntrospectionConfig;
use p256::ecdsa::signature::Verifier;

fn cfg(auth: ClientAuth) -> IntrospectionConfig {
    IntrospectionConfig {
        from_discovery: false,
        cluster: Some("idp".into()),
        uri: None,
        path: "/token/introspection".into(),
        authority: "idp.example".into(),
        timeout_ms: 1000,
        client_id: "gate client".into(),
        auth,
        max_ttl_s: 60,
        negative_ttl_s: 5,
        stale_if_error_s: 0,
        max_body_bytes: 4096,
        cache_size: 8,
        shared_cache_size: 0,
    }
}

#[test]
fn basic_auth_form_encodes_id_and_secret_first() {
    let p = parts(&cfg(ClientAuth::SecretBasic { secret: "a:b&c".into() }), "t+/=", 0, || unreachable!());
    assert_eq!(String::from_utf8(p.body).expect("utf-8"), "token=t%2B%2F%3D&token_type_hint=access_token");
    let expected = base64::engine::general_purpose::STANDARD.encode("gate+client:a%3Ab%26c");
    assert!(p.headers.contains(&("authorization".into(), format!("Basic {expected}"))));
    assert!(p.headers.contains(&("content-type".into(), "application/x-www-form-urlencoded".into())));
}

#[test]
fn private_key_jwt_sends_a_verifiable_short_lived_assertion_with_a_fresh_jti() {
    let sk = p256::ecdsa::SigningKey::from_slice(&[7u8; 32]).expect("scalar");
    let key = AssertionKey { d: vec![7u8; 32], kid: Some("gate-1".into()) };
    let aud = "https://idp.example/token/introspection".to_owned();
    let c = cfg(ClientAuth::PrivateKeyJwt { key, audience: aud.clone() });
    let p = parts(&c, "tok", 1000, || [9u8; 16]);
    let body = String::from_utf8(p.body).expect("utf-8");
    assert!(!p.headers.iter().any(|(k, _)| k == "authorization"));
    assert!(body.contains("client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"));
    let jwt = body.split("client_assertion=").nth(1).expect("assertion");
    let segs: Vec<&str> = jwt.split('.').collect();
    let claims: serde_json::Value = serde_json::from_slice(&crate::b64::decode(segs[1]).expect("b64")).expect("json");
    assert_eq!(claims["iss"], "gate client");
    assert_eq!(claims["sub"], "gate client");
    assert_eq!(claims["aud"], aud.as_str());
    assert_eq!((claims["iat"].as_u64(), claims["exp"].as_u64()), (Some(1000), Some(1060)));
    assert_eq!(claims["jti"], crate::hex::encode(&[9u8; 16]));
    let header: serde_json::Value = serde_json::from_slice(&crate::b64::decode(segs[0]).expect("b64")).expect("json");
    assert_eq!((header["alg"].as_str(), header["kid"].as_str()), (Some("ES256"), Some("gate-1")));
    let sig = p256::ecdsa::Signature::from_slice(&crate::b64::decode(segs[2]).expect("b64")).expect("sig");
    let input = format!("{}.{}", segs[0], segs[1]);
    assert!(sk.verifying_key().verify(input.as_bytes(), &sig).is_ok());
    let other = parts(&c, "tok", 1000, || [8u8; 16]);
    assert_ne!(other.body, body.into_bytes(), "another jti, another assertion");
}
