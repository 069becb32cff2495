//! Fixtures shared by the fuzz targets: a gate configured with the published keys of
//! RFC 7515 Appendix A and RFC 8037 (inline JWKS) plus one remote provider, and the
//! RFC 7515 tokens that are valid at `NOW_MS`.
#![allow(dead_code)]

use jwtgate_core::{fingerprint, Decision, Gate, GateConfig, Verifier};
use serde_json::json;

/// Ten seconds before the RFC 7515 example tokens expire (`exp` 1300819380).
pub const NOW_MS: u64 = 1_300_819_370_000;

const PAYLOAD: &str = "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7515 A.1 (HS256), A.2 (RS256), A.3 (ES256): accepted by [`gate`] at [`NOW_MS`].
pub fn valid_tokens() -> Vec<String> {
    vec![
        format!("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.{PAYLOAD}.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        format!("eyJhbGciOiJSUzI1NiJ9.{PAYLOAD}.cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw"),
        format!("eyJhbGciOiJFUzI1NiJ9.{PAYLOAD}.DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"),
    ]
}

pub fn keys() -> serde_json::Value {
    json!({"keys": [
        {"kty": "oct", "k": "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"},
        {"kty": "RSA", "e": "AQAB", "n": "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ"},
        {"kty": "EC", "crv": "P-256", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"},
        {"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
    ]})
}

pub fn config_json() -> String {
    json!({
        "providers": {
            "joe": {
                "issuer": "joe", "audiences": "*",
                "algorithms": ["HS256", "RS256", "ES256", "EdDSA"],
                "jwks": {"inline": keys()},
                "from": [{"header": "authorization", "prefix": "Bearer "}, {"query": "access_token"}, {"cookie": "at"}],
                "claim_to_headers": [{"claim": "iss", "header": "x-issuer"}]
            },
            "remote": {
                "issuer": "https://idp.example", "audiences": ["api"],
                "jwks": {"uri": "https://idp.example/jwks.json"}
            }
        },
        "rules": [
            {"match": {"prefix": "/public/"}, "public": true},
            {"match": {"prefix": "/admin/"}, "requires": {"provider": "joe"}, "scopes": ["admin"]},
            {"match": {"prefix": "/any/"}, "requires": {"any_of": ["joe", "remote"]}},
            {"match": {"prefix": "/all/"}, "requires": {"all_of": ["joe", "remote"]}},
            {"match": {"prefix": "/opt/"}, "requires": {"allow_missing": ["joe"]}},
            {"match": {"prefix": "/", "methods": ["GET", "POST"]}, "requires": {"provider": "joe"}}
        ]
    })
    .to_string()
}

thread_local! {
    static CONFIG: GateConfig = GateConfig::from_json(&config_json()).expect("the fuzz config is valid");
    static GOOD: Vec<String> = valid_tokens().iter().map(|t| fingerprint(t)).collect();
}

/// A fresh gate per input, so every crash reproduces from its input alone.
pub fn gate() -> Gate {
    CONFIG.with(|c| Gate::new(c.clone(), Verifier::Software, 1))
}

/// No forgery: a request is only ever allowed on one of the published valid tokens.
pub fn check(d: &Decision) {
    if let Decision::Allow(a) = d {
        if let Some(hash) = &a.token_hash {
            GOOD.with(|good| assert!(good.contains(hash), "allowed a token that is not a published valid token: {hash}"));
        }
    }
}
