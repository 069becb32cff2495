//! Finding the one token a request carries, in the places the providers allow.
//!
//! Several tokens (two `Authorization` headers, a comma-joined value, header plus query)
//! are refused instead of picking one: proxies and apps that pick differently let an
//! attacker get one token checked and another one used.

use crate::config::TokenSource;
use crate::error::AuthError;
use crate::request::RequestView;

/// A token and where it was found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Found<'r> {
    pub token: &'r str,
    pub source: TokenSource,
}

/// Looks in every source; `Ok(None)` when no source holds a token.
pub fn extract<'r>(req: &RequestView<'r>, sources: &[&TokenSource]) -> Result<Option<Found<'r>>, AuthError> {
    let mut found: Option<Found<'r>> = None;
    for src in sources {
        let tokens = match src {
            TokenSource::Header { name, prefix } => from_header(req, name, prefix)?,
            TokenSource::Query(name) => from_query(req.path, name),
            TokenSource::Cookie(name) => from_cookies(req, name),
            TokenSource::Session => Vec::new(),
        };
        for token in tokens {
            if found.is_some() {
                return Err(AuthError::MultipleTokens);
            }
            check_token_chars(token)?;
            found = Some(Found { token, source: (*src).clone() });
        }
    }
    Ok(found)
}

/// RFC 6750 §2.1 b64token, narrowed to what a compact JWS can contain.
fn check_token_chars(token: &str) -> Result<(), AuthError> {
    if token.is_empty() {
        return Err(AuthError::MalformedCredential("the bearer token is empty"));
    }
    if !token.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)) {
        return Err(AuthError::Malformed("token contains characters outside base64url"));
    }
    Ok(())
}

/// RFC 9110 §5.6.2 `tchar`: a byte that continues an auth-scheme name.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// RFC 7235 §2.1 `token68`: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_token68(t: &str) -> bool {
    let body = t.trim_end_matches('=');
    !body.is_empty() && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

/// A credential header, read so that no upstream can see a token the gate missed:
/// - only visible ASCII, SP and HTAB: Python's `str.split()` splits on 0x1C–0x1F,
///   U+0085 and U+00A0, so `Bearer\x1ct` or `\xa0Bearer t` is a bearer token to a
///   WSGI app while it is no token to a strict parser;
/// - `scheme 1*SP token68`; after our scheme name, anything else (a tab, a comma, a
///   control byte) is a malformed credential, not "no token"; a longer scheme name
///   (`Bearerx`) is another scheme.
fn from_header<'r>(req: &RequestView<'r>, name: &str, prefix: &str) -> Result<Vec<&'r str>, AuthError> {
    let values: Vec<&'r str> = req.headers(name).collect();
    if values.len() > 1 {
        return Err(AuthError::MultipleTokens);
    }
    let Some(raw) = values.first() else { return Ok(vec![]) };
    if raw.bytes().any(|b| b != b'\t' && !(0x20..=0x7e).contains(&b)) {
        return Err(AuthError::MalformedCredential("the credential contains control or non-ASCII characters"));
    }
    let value = raw.trim_matches([' ', '\t']);
    let scheme = prefix.trim_end();
    let rest = match value.get(..scheme.len()) {
        Some(head) if head.eq_ignore_ascii_case(scheme) => &value[scheme.len()..],
        _ => return Ok(vec![]),
    };
    let token = if !scheme.is_empty() && prefix.ends_with(' ') {
        match rest.bytes().next() {
            None => return Err(AuthError::MalformedCredential("the bearer token is empty")),
            Some(b' ') => rest.trim_start_matches(' '),
            Some(b) if is_tchar(b) => return Ok(vec![]),
            Some(_) => {
                return Err(AuthError::MalformedCredential("the scheme and the token must be separated by spaces"))
            }
        }
    } else {
        rest
    };
    if token.contains(',') {
        return Err(AuthError::MultipleTokens);
    }
    if !token.is_empty() && !is_token68(token) {
        return Err(AuthError::MalformedCredential("the credential after the scheme is not one token"));
    }
    Ok(vec![token])
}

/// Every value of the query parameter `name`, in any spelling a form parser reads as
/// that name (see [`param_name`]). `&` and `;` both separate pairs: Python before 3.9.2
/// and several other parsers split on `;`.
fn from_query<'r>(path: &'r str, name: &str) -> Vec<&'r str> {
    let Some(q) = path.split_once('?').map(|(_, q)| q) else { return vec![] };
    let q = q.split('#').next().unwrap_or("");
    let wanted = param_name(name);
    q.split(['&', ';'])
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .filter(|(k, _)| !k.is_empty() && param_name(k) == wanted)
        .map(|(_, v)| v)
        .collect()
}

/// A query parameter or cookie name as the most liberal common parser reads it:
/// percent-decoded (`+` is a space), then PHP's mangling (leading spaces dropped,
/// `name[...]` is `name`, and ` `, `.`, `[` become `_`). `access_%74oken`,
/// `access.token` and `access_token[]` are all `access_token` to some upstream.
fn param_name(raw: &str) -> String {
    let decoded = percent_decode(raw);
    let trimmed = decoded.trim_start_matches(' ');
    let base = match trimmed.find('[') {
        Some(i) if i > 0 && trimmed[i..].contains(']') => &trimmed[..i],
        _ => trimmed,
    };
    base.chars().map(|c| if matches!(c, ' ' | '.' | '[') { '_' } else { c }).collect()
}

/// `%XX` → byte and `+` → space; malformed escapes stay as they are.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match (bytes[i], bytes.get(i + 1..i + 3).and_then(crate::hex::byte)) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Cookie pairs of every `Cookie` header. Commas separate pairs too: a cookie value
/// cannot contain one (RFC 6265 §4.1.1), and fetch-style hosts (Workers) join several
/// `Cookie` lines with ", ", which must not hide a second token.
fn cookie_pairs<'a, 'r>(req: &'a RequestView<'r>) -> impl Iterator<Item = &'r str> + 'a {
    req.headers("cookie").flat_map(|c| c.split([';', ',']))
}

/// Whether a `name=value` cookie pair is the cookie `wanted` to some upstream: names are
/// trimmed (RFC 6265 §5.2, so `jwt =x` is `jwt`) and compared like query names (PHP
/// decodes and mangles cookie names too).
fn is_cookie(pair: &str, wanted: &str) -> bool {
    let name = pair.split_once('=').map_or(pair, |(k, _)| k).trim();
    !name.is_empty() && param_name(name) == param_name(wanted)
}

fn from_cookies<'r>(req: &RequestView<'r>, name: &str) -> Vec<&'r str> {
    cookie_pairs(req)
        .filter(|kv| kv.contains('=') && is_cookie(kv, name))
        .filter_map(|kv| kv.split_once('='))
        .map(|(_, v)| v.trim().trim_matches('"'))
        .collect()
}

/// Rewrites the request so the token no longer reaches the upstream (`forward_token:
/// false`). Returns header names to remove and headers to set (`:path`, `cookie`).
pub fn removal_edits(req: &RequestView<'_>, source: &TokenSource) -> (Vec<String>, Vec<(String, String)>) {
    match source {
        TokenSource::Header { name, .. } => (vec![name.clone()], vec![]),
        TokenSource::Query(param) => {
            let Some((path, q)) = req.path.split_once('?') else { return (vec![], vec![]) };
            let wanted = param_name(param);
            let is_token = |kv: &str| param_name(kv.split_once('=').map_or(kv, |(k, _)| k)) == wanted;
            // Pairs are split on `&` and `;` alike (as `from_query` reads them).
            let kept: Vec<String> = q
                .split('&')
                .map(|part| part.split(';').filter(|kv| !kv.is_empty() && !is_token(kv)).collect::<Vec<_>>().join(";"))
                .filter(|part| !part.is_empty())
                .collect();
            let new_path = if kept.is_empty() { path.to_owned() } else { format!("{path}?{}", kept.join("&")) };
            (vec![], vec![(":path".to_owned(), new_path)])
        }
        // The session's cookies are stripped by the browser flow (`session/flow.rs`).
        TokenSource::Session => (vec![], vec![]),
        TokenSource::Cookie(cookie) => {
            let kept: Vec<&str> =
                cookie_pairs(req).map(str::trim).filter(|kv| !kv.is_empty() && !is_cookie(kv, cookie)).collect();
            if kept.is_empty() {
                (vec!["cookie".to_owned()], vec![])
            } else {
                (vec!["cookie".to_owned()], vec![("cookie".to_owned(), kept.join("; "))])
            }
        }
    }
}

#[cfg(test)]
#[path = "extract_tests.rs"]
mod tests;
