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

fn from_header<'r>(req: &RequestView<'r>, name: &str, prefix: &str) -> Result<Vec<&'r str>, AuthError> {
    let values: Vec<&'r str> = req.headers(name).collect();
    if values.len() > 1 {
        return Err(AuthError::MultipleTokens);
    }
    let Some(value) = values.first().map(|v| v.trim()) else { return Ok(vec![]) };
    let scheme = prefix.trim_end();
    let rest = match value.get(..scheme.len()) {
        Some(head) if head.eq_ignore_ascii_case(scheme) => &value[scheme.len()..],
        _ => return Ok(vec![]),
    };
    if !scheme.is_empty() && prefix.ends_with(' ') {
        // `Bearer` + 1*SP + token. `Bearertoken` is another scheme, not ours; `Bearer<TAB>t`
        // is ours but malformed: upstreams that split on any whitespace would read `t`.
        if rest.is_empty() {
            return Err(AuthError::MalformedCredential("the bearer token is empty"));
        }
        if rest.starts_with(|c: char| c.is_whitespace() && c != ' ') {
            return Err(AuthError::MalformedCredential("the scheme and the token must be separated by spaces"));
        }
        if !rest.starts_with(' ') {
            return Ok(vec![]);
        }
    }
    let token = rest.trim_start_matches(' ');
    if token.contains(',') {
        return Err(AuthError::MultipleTokens);
    }
    Ok(vec![token])
}

fn from_query<'r>(path: &'r str, name: &str) -> Vec<&'r str> {
    let Some(q) = path.split_once('?').map(|(_, q)| q) else { return vec![] };
    let q = q.split('#').next().unwrap_or("");
    q.split('&').filter_map(|kv| kv.split_once('=')).filter(|(k, _)| *k == name).map(|(_, v)| v).collect()
}

/// Cookie pairs of every `Cookie` header. Commas separate pairs too: a cookie value
/// cannot contain one (RFC 6265 §4.1.1), and fetch-style hosts (Workers) join several
/// `Cookie` lines with ", ", which must not hide a second token.
fn cookie_pairs<'a, 'r>(req: &'a RequestView<'r>) -> impl Iterator<Item = &'r str> + 'a {
    req.headers("cookie").flat_map(|c| c.split([';', ',']))
}

fn from_cookies<'r>(req: &RequestView<'r>, name: &str) -> Vec<&'r str> {
    cookie_pairs(req)
        .filter_map(|kv| kv.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"'))
        .collect()
}

/// Rewrites the request so the token no longer reaches the upstream (`forward_token:
/// false`). Returns header names to remove and headers to set (`:path`, `cookie`).
pub fn removal_edits(req: &RequestView<'_>, source: &TokenSource) -> (Vec<String>, Vec<(String, String)>) {
    match source {
        TokenSource::Header { name, .. } => (vec![name.clone()], vec![]),
        TokenSource::Query(param) => {
            let Some((path, q)) = req.path.split_once('?') else { return (vec![], vec![]) };
            let kept: Vec<&str> = q.split('&').filter(|kv| kv.split('=').next() != Some(param.as_str())).collect();
            let new_path = if kept.is_empty() { path.to_owned() } else { format!("{path}?{}", kept.join("&")) };
            (vec![], vec![(":path".to_owned(), new_path)])
        }
        TokenSource::Cookie(cookie) => {
            let kept: Vec<&str> = cookie_pairs(req)
                .map(str::trim)
                .filter(|kv| !kv.is_empty() && kv.split('=').next() != Some(cookie.as_str()))
                .collect();
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
