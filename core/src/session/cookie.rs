//! The sealed cookies: AES-256-GCM with a fresh random 96-bit nonce per seal, the
//! additional data naming the cookie's purpose, its name and the provider (a cookie
//! sealed for one cannot be opened as another), key rotation (the first key seals, every
//! key opens), and splitting a long value over `<name>`, `<name>.1`, ...
//!
//! Wire form of one sealed value: base64url(nonce ‖ ciphertext ‖ tag). A split value's
//! first cookie is `<count>~<first part>` (`~` is not in the base64url alphabet).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use crate::config::login::COOKIE_CHUNK_BYTES;
use crate::request::RequestView;

/// What a sealed value is for: part of the additional data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Session,
    Login,
}

impl Purpose {
    fn label(self) -> &'static str {
        match self {
            Purpose::Session => "session",
            Purpose::Login => "login",
        }
    }
}

/// `jwtgate/<purpose>/<cookie name>/<provider>`: binds a sealed value to where it belongs.
fn aad(purpose: Purpose, cookie: &str, provider: &str) -> Vec<u8> {
    format!("jwtgate/{}/{cookie}/{provider}", purpose.label()).into_bytes()
}

/// Seals `plain` with `key`; `nonce` must be fresh randomness for every call.
pub fn seal(key: &[u8; 32], nonce: [u8; 12], purpose: Purpose, cookie: &str, provider: &str, plain: &[u8]) -> String {
    let cipher = Aes256Gcm::new(key.into());
    let aad = aad(purpose, cookie, provider);
    let n = Nonce::from(nonce);
    // Encryption into a Vec cannot fail for inputs far below GCM's length limit.
    let sealed = cipher.encrypt(&n, Payload { msg: plain, aad: &aad }).unwrap_or_default();
    let mut out = nonce.to_vec();
    out.extend(sealed);
    crate::b64::encode(&out)
}

/// Opens a sealed value with any of `keys`; `None` for anything tampered, foreign
/// (another cookie, purpose or provider), truncated or sealed with an unknown key.
pub fn open(keys: &[[u8; 32]], purpose: Purpose, cookie: &str, provider: &str, sealed: &str) -> Option<Vec<u8>> {
    let bytes = crate::b64::decode(sealed)?;
    if bytes.len() < 12 + 16 {
        return None;
    }
    let (nonce, body) = bytes.split_at(12);
    let nonce = Nonce::try_from(nonce).ok()?;
    let aad = aad(purpose, cookie, provider);
    keys.iter().find_map(|k| Aes256Gcm::new(k.into()).decrypt(&nonce, Payload { msg: body, aad: &aad }).ok())
}

/// Every value of cookie `name` in the request's `cookie` headers (RFC 6265 §5.4).
pub fn read<'r>(req: &RequestView<'r>, name: &str) -> Option<&'r str> {
    req.headers("cookie")
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

/// The sealed value split into cookie values, `<name>` first; `None` if it is longer
/// than `max_bytes` altogether.
pub fn split(sealed: &str, max_bytes: usize) -> Option<Vec<String>> {
    if sealed.len() > max_bytes {
        return None;
    }
    if sealed.len() <= COOKIE_CHUNK_BYTES {
        return Some(vec![sealed.to_owned()]);
    }
    let parts: Vec<&str> =
        sealed.as_bytes().chunks(COOKIE_CHUNK_BYTES - 8).filter_map(|c| std::str::from_utf8(c).ok()).collect();
    let mut out: Vec<String> = parts.iter().map(|p| (*p).to_owned()).collect();
    out[0] = format!("{}~{}", parts.len(), parts[0]);
    Some(out)
}

/// The sealed value of `name` joined from its chunks, and how many cookies it used.
pub fn join(req: &RequestView<'_>, name: &str) -> Option<(String, usize)> {
    let first = read(req, name)?;
    let Some((count, head)) = first.split_once('~') else { return Some((first.to_owned(), 1)) };
    let count: usize = count.parse().ok().filter(|n| (2..=8).contains(n))?;
    let mut out = head.to_owned();
    for i in 1..count {
        out.push_str(read(req, &format!("{name}.{i}"))?);
    }
    Some((out, count))
}

/// `Set-Cookie` values setting `name` (split as `split` gave), and clearing chunks
/// beyond them up to `old_count`.
pub fn set_headers(name: &str, values: &[String], max_age_s: u64, old_count: usize) -> Vec<String> {
    let mut out: Vec<String> =
        values.iter().enumerate().map(|(i, v)| set_cookie(&chunk_name(name, i), v, max_age_s)).collect();
    out.extend((values.len()..old_count).map(|i| set_cookie(&chunk_name(name, i), "", 0)));
    out
}

/// `Set-Cookie` values clearing `name` and `count` chunks.
pub fn clear_headers(name: &str, count: usize) -> Vec<String> {
    (0..count.max(1)).map(|i| set_cookie(&chunk_name(name, i), "", 0)).collect()
}

fn chunk_name(name: &str, i: usize) -> String {
    if i == 0 {
        name.to_owned()
    } else {
        format!("{name}.{i}")
    }
}

/// HttpOnly (no script reads it), Secure, SameSite=Lax (sent on the IdP's top-level
/// redirect back, not on cross-site subrequests), Path=/ (what `__Host-` requires).
pub fn set_cookie(name: &str, value: &str, max_age_s: u64) -> String {
    format!("{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; Secure; SameSite=Lax")
}

/// The request's `cookie` header without the gate's cookies (`name`, its chunks and its
/// login cookie): the upstream never sees them. `None` when nothing else is left.
pub fn without_gate_cookies(req: &RequestView<'_>, name: &str) -> Option<String> {
    let login = format!("{name}-login");
    let ours = |k: &str| {
        k == name
            || k == login
            || k.strip_prefix(name).and_then(|r| r.strip_prefix('.')).is_some_and(|n| n.parse::<u8>().is_ok())
    };
    let kept: Vec<&str> = req
        .headers("cookie")
        .flat_map(|h| h.split(';'))
        .map(str::trim)
        .filter(|pair| !pair.is_empty() && !ours(pair.split('=').next().unwrap_or("")))
        .collect();
    (!kept.is_empty()).then(|| kept.join("; "))
}

#[cfg(test)]
#[path = "cookie_tests.rs"]
mod tests;
