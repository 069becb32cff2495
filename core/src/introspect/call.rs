//! The RFC 7662 request: a form POST of the token with `token_type_hint=access_token`,
//! authenticated as the gate's client (RFC 6749 §2.3.1 or RFC 7523 §2.2).

use crate::config::{AssertionKey, ClientAuth, IntrospectionConfig};
use base64::Engine;
use p256::ecdsa::signature::Signer;

/// What a host sends: body and headers; where it goes comes from the config.
#[derive(Clone, PartialEq, Eq)]
pub struct CallParts {
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
}

impl std::fmt::Debug for CallParts {
    /// The body holds the token and maybe a secret: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.headers.iter().map(|(k, _)| k.as_str()).collect();
        f.debug_struct("CallParts").field("body_len", &self.body.len()).field("headers", &names).finish()
    }
}

/// Lifetime of a `private_key_jwt` assertion: long enough for one call.
const ASSERTION_TTL_S: u64 = 60;

/// Builds the call for `token`. `jti` gives fresh randomness for a client assertion
/// (called only by `private_key_jwt`).
pub fn parts(cfg: &IntrospectionConfig, token: &str, now_s: u64, jti: impl FnOnce() -> [u8; 16]) -> CallParts {
    form_parts(cfg, &[("token", token), ("token_type_hint", "access_token")], now_s, jti)
}

/// A form POST of `pairs` to the endpoint of `cfg`, authenticated as the gate's client
/// (introspection and the login flow's token endpoint calls share it).
pub fn form_parts(
    cfg: &IntrospectionConfig,
    pairs: &[(&str, &str)],
    now_s: u64,
    jti: impl FnOnce() -> [u8; 16],
) -> CallParts {
    let mut form = Form::default();
    for (k, v) in pairs {
        form.pair(k, v);
    }
    let mut headers = vec![("content-type".to_owned(), "application/x-www-form-urlencoded".to_owned())];
    match &cfg.auth {
        ClientAuth::SecretBasic { secret } => {
            // RFC 6749 §2.3.1: id and secret are form-encoded before base64.
            let user = format!("{}:{}", form_encode(&cfg.client_id), form_encode(secret));
            let basic = base64::engine::general_purpose::STANDARD.encode(user);
            headers.push(("authorization".to_owned(), format!("Basic {basic}")));
        }
        ClientAuth::SecretPost { secret } => {
            form.pair("client_id", &cfg.client_id);
            form.pair("client_secret", secret);
        }
        ClientAuth::PrivateKeyJwt { key, audience } => {
            form.pair("client_id", &cfg.client_id);
            form.pair("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
            form.pair("client_assertion", &assertion(key, &cfg.client_id, audience, now_s, jti()));
        }
    }
    CallParts { body: form.0.into_bytes(), headers }
}

/// An RFC 7523 client assertion: `iss` = `sub` = the client, `aud` the endpoint, a
/// short `exp` and a random `jti` (so the IdP can refuse a replay), signed ES256.
pub fn assertion(key: &AssertionKey, client_id: &str, audience: &str, now_s: u64, jti: [u8; 16]) -> String {
    let mut header = serde_json::json!({ "alg": "ES256", "typ": "JWT" });
    if let Some(kid) = &key.kid {
        header["kid"] = serde_json::Value::String(kid.clone());
    }
    let claims = serde_json::json!({
        "iss": client_id,
        "sub": client_id,
        "aud": audience,
        "iat": now_s,
        "exp": now_s + ASSERTION_TTL_S,
        "jti": crate::hex::encode(&jti),
    });
    let b64 = |v: &serde_json::Value| crate::b64::encode(v.to_string().as_bytes());
    let input = format!("{}.{}", b64(&header), b64(&claims));
    // Validated at load (`config::introspection::assertion_key`), so this cannot fail;
    // an empty signature would only make the IdP refuse the call (503), never allow.
    let sig = match p256::ecdsa::SigningKey::from_slice(&key.d) {
        Ok(k) => {
            let s: p256::ecdsa::Signature = k.sign(input.as_bytes());
            s.to_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    };
    format!("{input}.{}", crate::b64::encode(&sig))
}

/// `application/x-www-form-urlencoded` pairs.
#[derive(Default)]
struct Form(String);

impl Form {
    fn pair(&mut self, k: &str, v: &str) {
        if !self.0.is_empty() {
            self.0.push('&');
        }
        self.0.push_str(&form_encode(k));
        self.0.push('=');
        self.0.push_str(&form_encode(v));
    }
}

/// The WHATWG urlencoded serializer: unreserved bytes as is, space as `+`, the rest `%XX`.
pub(crate) fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
