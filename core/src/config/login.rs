//! Validating a provider's `login` block: the OIDC client the gate is for browser
//! sessions (authorization code + PKCE, cookie session, logout). Errors name the field.
//! The token endpoint and client authentication are validated by the introspection
//! block's code: the same client methods, the same POST plumbing.

use super::introspection::{introspection, IntrospectionConfig};
use super::raw::RawIntrospection;
use super::validate::{err, required, split_uri, R};
use serde::Deserialize;

/// Longest cookie value a browser is sure to keep (RFC 6265 §6.1 asks for at least 4096
/// bytes per cookie, name and attributes included): longer sessions are split.
pub const COOKIE_CHUNK_BYTES: usize = 3800;

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawLogin {
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub auth_method: Option<String>,
    pub private_key: Option<serde_json::Value>,
    pub assertion_audience: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token: Option<RawEndpoint>,
    pub end_session_endpoint: Option<String>,
    #[serde(default)]
    pub origins: Vec<String>,
    pub redirect_path: Option<String>,
    pub logout_path: Option<String>,
    pub backchannel_logout_path: Option<String>,
    pub post_logout_redirect: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub refresh_before_s: Option<u64>,
    pub csrf_header: Option<String>,
    pub cookie: Option<RawCookie>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawEndpoint {
    pub cluster: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    pub uri: Option<String>,
    pub timeout_ms: Option<u64>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawCookie {
    pub name: Option<String>,
    #[serde(default)]
    pub keys: Vec<String>,
    pub max_age_s: Option<u64>,
    pub login_max_age_s: Option<u64>,
    pub max_bytes: Option<usize>,
}

/// A validated `login` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginConfig {
    pub client_id: String,
    /// Where and how the code and refresh grants are POSTed (endpoint + client auth).
    pub token: IntrospectionConfig,
    pub authorization_endpoint: String,
    pub end_session_endpoint: Option<String>,
    /// `scheme://host[:port]`, no trailing slash: the only origins redirect URIs, return
    /// URLs and `Origin` checks are built from.
    pub origins: Vec<String>,
    pub redirect_path: String,
    pub logout_path: String,
    pub backchannel_logout_path: Option<String>,
    pub post_logout_redirect: String,
    pub scopes: Vec<String>,
    pub refresh_before_s: u64,
    /// Lower-case; its presence on a request passes the CSRF check.
    pub csrf_header: Option<String>,
    pub cookie: CookieConfig,
}

#[derive(Clone, PartialEq, Eq)]
pub struct CookieConfig {
    pub name: String,
    /// AES-256-GCM keys: the first seals, every one opens (rotation).
    pub keys: Vec<[u8; 32]>,
    pub max_age_s: u64,
    pub login_max_age_s: u64,
    /// Largest session (all cookie chunks together) the gate sets.
    pub max_bytes: usize,
}

impl std::fmt::Debug for CookieConfig {
    /// Never prints the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CookieConfig")
            .field("name", &self.name)
            .field("keys", &self.keys.len())
            .field("max_age_s", &self.max_age_s)
            .finish_non_exhaustive()
    }
}

impl LoginConfig {
    /// The login-attempt cookie's name.
    pub fn login_cookie(&self) -> String {
        format!("{}-login", self.cookie.name)
    }

    /// The configured origin whose authority is `host` (case-insensitive), if any.
    pub fn origin_for_host(&self, host: &str) -> Option<&str> {
        self.origins
            .iter()
            .find(|o| o.split_once("://").is_some_and(|(_, a)| a.eq_ignore_ascii_case(host)))
            .map(String::as_str)
    }
}

pub(super) fn login(field: &str, r: RawLogin) -> R<LoginConfig> {
    let f = |name: &str| format!("{field}.{name}");
    let token = required(&f("token"), r.token)?;
    let raw = RawIntrospection {
        cluster: token.cluster,
        path: token.path,
        authority: token.authority,
        uri: token.uri,
        timeout_ms: token.timeout_ms,
        client_id: r.client_id,
        client_secret: r.client_secret,
        auth_method: r.auth_method,
        private_key: r.private_key,
        assertion_audience: r.assertion_audience,
        ..RawIntrospection::default()
    };
    let token = introspection(field, raw, false)?;
    let authorization_endpoint = absolute(&f("authorization_endpoint"), r.authorization_endpoint)?;
    let end_session_endpoint = match r.end_session_endpoint {
        Some(u) => Some(absolute(&f("end_session_endpoint"), Some(u))?),
        None => None,
    };
    if r.origins.is_empty() {
        return err(f("origins"), "list at least one origin (`https://host[:port]`) the gate answers on");
    }
    for (i, o) in r.origins.iter().enumerate() {
        let authority = o.strip_prefix("https://").or_else(|| o.strip_prefix("http://"));
        if !authority.is_some_and(|a| !a.is_empty() && !a.contains(['/', '?', '#', '@', ' '])) {
            return err(f(&format!("origins[{i}]")), "must be `scheme://host[:port]`, without a path");
        }
    }
    let path = |name: &str, v: Option<String>, default: &str| -> R<String> {
        let p = v.unwrap_or_else(|| default.to_owned());
        if !p.starts_with('/') || p.starts_with("//") || p.contains(['?', '#', '\\']) {
            return err(f(name), "must be a path starting with a single `/`, without query or fragment");
        }
        Ok(p)
    };
    let redirect_path = path("redirect_path", r.redirect_path, "/callback")?;
    let logout_path = path("logout_path", r.logout_path, "/logout")?;
    let backchannel_logout_path = match r.backchannel_logout_path {
        Some(p) => Some(path("backchannel_logout_path", Some(p), "")?),
        None => None,
    };
    let post_logout_redirect = path("post_logout_redirect", r.post_logout_redirect, "/")?;
    if redirect_path == logout_path
        || backchannel_logout_path.as_ref().is_some_and(|b| *b == redirect_path || *b == logout_path)
    {
        return err(f("logout_path"), "`redirect_path`, `logout_path` and `backchannel_logout_path` must differ");
    }
    let scopes = r.scopes.unwrap_or_else(|| vec!["openid".to_owned()]);
    if !scopes.iter().any(|s| s == "openid") || scopes.iter().any(|s| s.is_empty() || s.contains(' ')) {
        return err(f("scopes"), "must include `openid`; a scope is a non-empty word without spaces");
    }
    let refresh_before_s = r.refresh_before_s.unwrap_or(30);
    if refresh_before_s > 3600 {
        return err(f("refresh_before_s"), "must be at most 3600");
    }
    let csrf_header = match r.csrf_header {
        Some(h) if h.is_empty() || !h.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') => {
            return err(f("csrf_header"), "must be a header name (letters, digits, `-`)")
        }
        h => h.map(|h| h.to_ascii_lowercase()),
    };
    let cookie = cookie(&f("cookie"), required(&f("cookie"), r.cookie)?)?;
    Ok(LoginConfig {
        client_id: token.client_id.clone(),
        token,
        authorization_endpoint,
        end_session_endpoint,
        origins: r.origins,
        redirect_path,
        logout_path,
        backchannel_logout_path,
        post_logout_redirect,
        scopes,
        refresh_before_s,
        csrf_header,
        cookie,
    })
}

fn absolute(field: &str, v: Option<String>) -> R<String> {
    let u = required(field, v)?;
    if split_uri(&u).is_none_or(|(a, _)| a.is_none()) || u.contains('#') {
        return err(field, "must be an absolute http(s) URL without a fragment");
    }
    Ok(u)
}

fn cookie(field: &str, c: RawCookie) -> R<CookieConfig> {
    let f = |name: &str| format!("{field}.{name}");
    let name = c.name.unwrap_or_else(|| "__Host-jwtgate".to_owned());
    // RFC 6265 token characters, minus `.` (chunks are `<name>.1`, `<name>.2`, ...).
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)) {
        return err(f("name"), "must be a cookie name (letters, digits, `-`, `_`)");
    }
    if c.keys.is_empty() || c.keys.len() > 2 {
        return err(f("keys"), "give one key (seals and opens) or two (the second only opens: rotation)");
    }
    let mut keys = Vec::new();
    for (i, k) in c.keys.iter().enumerate() {
        let bytes = crate::b64::decode(k).and_then(|b| <[u8; 32]>::try_from(b).ok());
        let Some(key) = bytes else {
            return err(
                f(&format!("keys[{i}]")),
                "must be 32 random bytes, base64url (e.g. `openssl rand 32 | basenc --base64url`)",
            );
        };
        if keys.contains(&key) {
            return err(f(&format!("keys[{i}]")), "repeats another key");
        }
        keys.push(key);
    }
    let max_age_s = c.max_age_s.unwrap_or(8 * 3600);
    if !(60..=30 * 86400).contains(&max_age_s) {
        return err(f("max_age_s"), "must be between 60 and 2592000 (30 days)");
    }
    let login_max_age_s = c.login_max_age_s.unwrap_or(600);
    if !(30..=3600).contains(&login_max_age_s) {
        return err(f("login_max_age_s"), "must be between 30 and 3600");
    }
    let max_bytes = c.max_bytes.unwrap_or(2 * COOKIE_CHUNK_BYTES);
    if !(1000..=8 * COOKIE_CHUNK_BYTES).contains(&max_bytes) {
        return err(f("max_bytes"), format!("must be between 1000 and {}", 8 * COOKIE_CHUNK_BYTES));
    }
    Ok(CookieConfig { name, keys, max_age_s, login_max_age_s, max_bytes })
}

#[cfg(test)]
#[path = "login_tests.rs"]
mod tests;
