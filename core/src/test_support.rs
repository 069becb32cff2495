//! Shared fixtures for the core's unit tests: keys, JWKS documents, signed tokens and
//! requests. RSA keys come from `testdata/` (generating them in a debug build is slow);
//! EC and Ed25519 keys are generated per test.

use crate::b64;
use jwt_simple::prelude::*;
use p256::ecdsa::signature::Signer;
use serde_json::{json, Map, Value};

/// A fixed "now" for every test, so nothing depends on the wall clock.
pub const NOW_S: u64 = 1_700_000_000;
pub const NOW_MS: u64 = NOW_S * 1000;
pub const ISS_A: &str = "https://idp-a.example";
pub const ISS_B: &str = "https://idp-b.example";
pub const ISS_R: &str = "https://idp-r.example";
pub const AUD: &str = "api://orders";

pub const RSA2048_PEM: &str = include_str!("../testdata/rsa2048.pem");
pub const RSA2048_PUB_PEM: &str = include_str!("../testdata/rsa2048.pub.pem");
pub const RSA2048_JWKS: &str = include_str!("../testdata/rsa2048.jwks.json");
pub const RSA1024_JWKS: &str = include_str!("../testdata/rsa1024.jwks.json");

pub fn ec_key(kid: &str) -> ES256KeyPair {
    ES256KeyPair::generate().with_key_id(kid)
}

/// The public JWK of an ES256 key pair (`use: sig`, `alg: ES256`).
pub fn ec_jwk(kp: &ES256KeyPair) -> Value {
    let point = kp.public_key().public_key().to_bytes_uncompressed();
    assert_eq!(point.len(), 65, "uncompressed SEC1 P-256 point");
    let mut jwk = json!({
        "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256",
        "x": b64::encode(&point[1..33]), "y": b64::encode(&point[33..]),
    });
    if let Some(kid) = kp.key_id() {
        jwk["kid"] = json!(kid);
    }
    jwk
}

pub fn ed_key(kid: &str) -> Ed25519KeyPair {
    Ed25519KeyPair::generate().with_key_id(kid)
}

pub fn ed_jwk(kp: &Ed25519KeyPair) -> Value {
    let kid = kp.key_id().clone().expect("test Ed25519 keys have a kid");
    json!({"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": b64::encode(&kp.public_key().to_bytes())})
}

/// The 2048-bit RSA test key, with kid `rsa-2048` (as in `rsa2048.jwks.json`).
pub fn rsa_key() -> RS256KeyPair {
    RS256KeyPair::from_pem(RSA2048_PEM).expect("testdata/rsa2048.pem parses").with_key_id("rsa-2048")
}

pub fn rsa_jwk() -> Value {
    let doc: Value = serde_json::from_str(RSA2048_JWKS).expect("rsa2048.jwks.json is JSON");
    doc["keys"][0].clone()
}

pub fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}

/// A valid payload for provider A at [`NOW_S`]; members of `changes` replace the
/// defaults and a `null` member removes one.
pub fn payload(changes: Value) -> Value {
    let mut p = json!({
        "iss": ISS_A, "aud": AUD, "sub": "user-1", "scope": "read",
        "iat": NOW_S - 10, "exp": NOW_S + 600,
    });
    let map = p.as_object_mut().expect("object");
    for (k, v) in changes.as_object().expect("changes is an object") {
        if v.is_null() {
            map.remove(k);
        } else {
            map.insert(k.clone(), v.clone());
        }
    }
    p
}

pub fn as_map(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("a JSON object")
}

/// Signs arbitrary header and payload JSON *text* with an ES256 key, so tests can send
/// tokens no well-behaved library would produce (duplicate members, `crit`, odd types).
pub fn sign_es256_raw(kp: &ES256KeyPair, header: &str, payload: &str) -> String {
    let signing_input = format!("{}.{}", b64::encode(header.as_bytes()), b64::encode(payload.as_bytes()));
    let sig: p256::ecdsa::Signature = kp.key_pair().as_ref().sign(signing_input.as_bytes());
    format!("{signing_input}.{}", b64::encode(&sig.to_bytes()))
}

/// An ES256 token with header `{"alg":"ES256","typ":"JWT","kid":…}`.
pub fn es256_token(kp: &ES256KeyPair, payload: &Value) -> String {
    let mut header = json!({"alg": "ES256", "typ": "JWT"});
    if let Some(kid) = kp.key_id() {
        header["kid"] = json!(kid);
    }
    sign_es256_raw(kp, &header.to_string(), &payload.to_string())
}

/// jwt-simple claims that serialise to exactly `payload` (every registered claim is
/// left unset and the payload rides in the flattened custom claims).
fn jwt_claims(payload: &Value) -> JWTClaims<Map<String, Value>> {
    let mut c = Claims::with_custom_claims(as_map(payload.clone()), Duration::from_secs(0));
    c.issued_at = None;
    c.expires_at = None;
    c.invalid_before = None;
    c
}

pub fn ed_token(kp: &Ed25519KeyPair, payload: &Value) -> String {
    kp.sign(jwt_claims(payload)).expect("EdDSA signing")
}

pub fn rsa_token(kp: &RS256KeyPair, payload: &Value) -> String {
    kp.sign(jwt_claims(payload)).expect("RS256 signing")
}

pub fn hs256_token(secret: &[u8], kid: Option<&str>, payload: &Value) -> String {
    let mut key = HS256Key::from_bytes(secret);
    if let Some(kid) = kid {
        key = key.with_key_id(kid);
    }
    key.authenticate(jwt_claims(payload)).expect("HS256 signing")
}

/// An owned request, viewed as the [`RequestView`] hosts pass in.
pub type Req = crate::request::OwnedRequest;

pub fn req(method: &str, path: &str, headers: &[(&str, &str)]) -> Req {
    Req {
        method: method.to_owned(),
        path: path.to_owned(),
        headers: headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        conn: Default::default(),
    }
}

/// `GET path` with `Authorization: Bearer <token>`.
pub fn bearer(path: &str, token: &str) -> Req {
    req("GET", path, &[("authorization", &format!("Bearer {token}"))])
}

/// A gate with two inline providers and one remote one, and the keys behind them.
/// Providers are indexed in name order: `a` = 0, `b` = 1, `r` = 2.
///
/// Rules: `/public/` public; `/admin/` needs `a` with scope `admin`; `/api/` any of
/// `a`, `b`; `/opt/` allow-missing `a`; `/remote/` needs `r`. Anything else: no rule.
pub struct World {
    pub gate: crate::gate::Gate,
    pub ec_a: ES256KeyPair,
    pub ed_a: Ed25519KeyPair,
    pub ec_b: ES256KeyPair,
    pub ec_r: ES256KeyPair,
}

pub const PROVIDER_R: usize = 2;
pub const REMOTE_MAX_STALE_S: u64 = 3600;
pub const REMOTE_COOLDOWN_S: u64 = 30;

pub fn world() -> World {
    world_with(|_| {})
}

/// Like [`world`], with `edit` applied to the config JSON first.
pub fn world_with(edit: impl FnOnce(&mut Value)) -> World {
    world_verified_by(crate::job::Verifier::Software, edit)
}

/// Like [`world_with`], with the host offering `verifier`.
pub fn world_verified_by(verifier: crate::job::Verifier, edit: impl FnOnce(&mut Value)) -> World {
    let (ec_a, ed_a, ec_b, ec_r) = (ec_key("ec-a"), ed_key("ed-a"), ec_key("ec-b"), ec_key("ec-r"));
    let mut config = json!({
        "providers": {
            "a": {"issuer": ISS_A, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(&ec_a), ed_jwk(&ed_a), rsa_jwk()])}},
            "b": {"issuer": ISS_B, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(&ec_b)])}},
            "r": {
                "issuer": ISS_R, "audiences": [AUD], "algorithms": ["ES256"],
                "jwks": {
                    "uri": "https://idp-r.example/jwks.json",
                    "max_stale_s": REMOTE_MAX_STALE_S, "kid_refetch_cooldown_s": REMOTE_COOLDOWN_S
                }
            }
        },
        "rules": [
            {"match": {"prefix": "/public/"}, "public": true},
            {"match": {"prefix": "/admin/"}, "requires": {"provider": "a"}, "scopes": ["admin"]},
            {"match": {"prefix": "/api/"}, "requires": {"any_of": ["a", "b"]}},
            {"match": {"prefix": "/opt/"}, "requires": {"allow_missing": ["a"]}},
            {"match": {"prefix": "/remote/"}, "requires": {"provider": "r"}}
        ]
    });
    edit(&mut config);
    let config = crate::config::GateConfig::from_json(&config.to_string()).expect("test config is valid");
    let gate = crate::gate::Gate::new(config, verifier, 42);
    World { gate, ec_a, ed_a, ec_b, ec_r }
}

impl World {
    /// The JWKS the remote provider's IdP serves.
    pub fn remote_body(&self) -> Vec<u8> {
        jwks(&[ec_jwk(&self.ec_r)]).to_string().into_bytes()
    }

    /// A valid ES256 token from provider `r`.
    pub fn remote_token(&self) -> String {
        es256_token(&self.ec_r, &payload(json!({"iss": ISS_R})))
    }
}

/// Decides `r`, arrived at [`NOW_MS`], at [`NOW_MS`] (keys may still be waited for).
pub fn decide(w: &mut World, r: &Req) -> crate::decision::Decision {
    w.gate.decide(&r.view(), NOW_MS, NOW_MS)
}

pub fn allowed(d: crate::decision::Decision) -> crate::decision::Allowed {
    match d {
        crate::decision::Decision::Allow(a) => a,
        other => panic!("expected Allow, got {other:?}"),
    }
}

pub fn denied(d: crate::decision::Decision) -> crate::decision::Denial {
    match d {
        crate::decision::Decision::Deny(d) => d,
        other => panic!("expected Deny, got {other:?}"),
    }
}

/// The value an allowed request's edits set for `header`.
pub fn set<'a>(a: &'a crate::decision::Allowed, header: &str) -> Option<&'a str> {
    a.set.iter().find(|(h, _)| h == header).map(|(_, v)| v.as_str())
}

/// A revocation feed source at `https://idp.example/revocations`: refresh 5 s, timeout
/// 1 s, the given bound, 64 KiB bodies.
pub fn feed_remote(max_stale_s: u64, max_body_bytes: usize) -> crate::config::RemoteJwks {
    crate::config::RemoteJwks {
        cluster: None,
        uri: Some("https://idp.example/revocations".into()),
        path: "/revocations".into(),
        authority: "idp.example".into(),
        refresh_interval_s: 5,
        min_refresh_interval_s: 5,
        timeout_ms: 1000,
        max_stale_s,
        kid_refetch_cooldown_s: 5,
        max_body_bytes,
    }
}

/// `envoy/jwtgate.json` with its `${…}` placeholders filled as `tests/up.py` fills them
/// (ports of the test stack), so unit tests load the demo config the hosts run.
pub fn demo_config_text() -> String {
    include_str!("../../envoy/jwtgate.json")
        .replace("${IDP_ISSUER}", "http://127.0.0.1:9400")
        .replace("${IDP_AUTHORITY}", "127.0.0.1:9400")
        .replace("${OPAQUE_ISSUER}", "http://127.0.0.1:9403")
        .replace("${OPAQUE_AUTHORITY}", "127.0.0.1:9403")
        .replace("${THIRD_ISSUER}", "https://127.0.0.1:9404")
        .replace("${THIRD_AUTHORITY}", "127.0.0.1:9404")
        .replace("${KEYFEED_PORT}", "9405")
        .replace("${LOGIN_ISSUER}", "http://127.0.0.1:9406")
        .replace("${LOGIN_AUTHORITY}", "127.0.0.1:9406")
        .replace("${SESSION_KEY}", &crate::b64::encode(&[1; 32]))
        .replace("${SESSION_KEY_PREVIOUS}", &crate::b64::encode(&[2; 32]))
        .replace("\"${GATE_CLIENT_JWK}\"", &gate_client_jwk())
}

/// A P-256 private JWK in place of the key tests/client_key.py makes at `make up`.
fn gate_client_jwk() -> String {
    let mut jwk = ec_jwk(&ec_key("gate"));
    jwk["d"] = serde_json::json!(crate::b64::encode(&[7u8; 32]));
    jwk.to_string()
}
