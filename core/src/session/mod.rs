//! Browser sessions at the gate (the backend-for-frontend pattern): the OIDC
//! authorization code flow with PKCE, an AEAD-sealed cookie session holding the tokens,
//! refresh, CSRF, logout and back-channel logout. Sans-I/O like the rest of the core:
//! time is an argument, the token endpoint is called through the hosts' fetch plumbing
//! (`FetchRequest` POSTs, as introspection does), and every answer to the browser is a
//! [`crate::Decision`] (`Respond` for redirects and pages, `Allow` with `Set-Cookie`).
//!
//! - `cookie.rs`: sealing (AES-256-GCM), splitting, `Set-Cookie`.
//! - `calls.rs`: the token endpoint calls, single-flight per code / refresh token.
//! - `jws.rs`: ID token and logout token checks against the provider's JWKS.
//! - `flow.rs`: what the gate answers on each path (login, callback, session, logout).
//! - `page.rs`: the local responses (redirects, error pages).

pub mod calls;
pub mod cookie;
pub mod csrf;
pub mod jws;
pub mod page;

use serde::{Deserialize, Serialize};

pub use page::Response;

/// What the session cookie holds (sealed). Short keys: it travels on every request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// The access token: checked on every request exactly like a bearer token.
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rt: Option<String>,
    /// The ID token, kept for `id_token_hint` at logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub it: Option<String>,
    /// When the access token expires (seconds), as the token endpoint said.
    pub exp: u64,
    /// When the session began: it ends `cookie.max_age_s` later whatever the cookie's
    /// `Max-Age` (a client keeping an old cookie gains nothing).
    pub iat: u64,
}

/// What the login-attempt cookie holds (sealed): bound to this one browser and attempt.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    pub state: String,
    pub nonce: String,
    pub verifier: String,
    /// Same-origin path (and query) to return to after the login.
    pub to: String,
    pub iat: u64,
}

/// What one provider's login flow remembers in this gate (Envoy VM / edge isolate).
#[derive(Debug, Default)]
pub struct Login {
    pub calls: calls::Calls,
    /// `state`s of completed logins (SHA-256 → forget after), refused if seen again.
    used: std::collections::HashMap<[u8; 32], u64>,
}

impl Login {
    fn key(state: &str) -> [u8; 32] {
        use sha2::{Digest, Sha256};
        Sha256::digest(state.as_bytes()).into()
    }

    /// Whether `state` completed a login already (and is not yet forgotten).
    pub fn used(&self, state: &str, now_ms: u64) -> bool {
        self.used.get(&Self::key(state)).is_some_and(|until| now_ms < *until)
    }

    /// Remembers `state` as spent until `until_ms` (the login cookie's lifetime: after
    /// that the cookie carrying it is refused anyway).
    pub fn mark_used(&mut self, state: &str, until_ms: u64) {
        if self.used.len() >= 10_000 {
            let now = until_ms.saturating_sub(3_600_000);
            self.used.retain(|_, u| *u > now);
        }
        self.used.insert(Self::key(state), until_ms);
    }
}

/// A form or query value, percent- and `+`-decoded.
pub(crate) fn flow_decode(v: &str) -> String {
    let b = v.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| (b[j] as char).to_digit(16);
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() && hex(i + 1).is_some() && hex(i + 2).is_some() => {
                out.push((hex(i + 1).unwrap_or(0) * 16 + hex(i + 2).unwrap_or(0)) as u8);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Fresh randomness from the OS (getrandom: `crypto.getRandomValues` at the edge, WASI
/// random in Envoy). If it fails the gate refuses to start a login rather than use a
/// guessable value.
pub fn random<const N: usize>() -> Option<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::getrandom(&mut out).ok().map(|()| out)
}

/// 32 random bytes, base64url: a `state`, `nonce` or PKCE `code_verifier` (RFC 7636
/// §4.1: 43 characters, 256 bits).
pub fn random_token() -> Option<String> {
    random::<32>().map(|b| crate::b64::encode(&b))
}

/// RFC 7636 §4.2 S256: base64url(SHA-256(verifier)). `plain` is never used.
pub fn pkce_challenge(verifier: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::b64::encode(&Sha256::digest(verifier.as_bytes()))
}

/// Constant-time equality of two strings (a `state` or `nonce`): the time taken does
/// not tell an attacker how many leading bytes were right.
pub fn same(a: &str, b: &str) -> bool {
    use subtle::ConstantTimeEq;
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A return path the gate will redirect to after login: a path on this origin, starting
/// with exactly one `/` (not `//host`, not `/\host`, which browsers read as another
/// host), without control characters.
pub fn safe_return_path(p: &str) -> bool {
    p.starts_with('/')
        && !p.starts_with("//")
        && !p.starts_with("/\\")
        && !p.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\')
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
