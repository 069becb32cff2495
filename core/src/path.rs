//! Path normalisation for rule matching, so `/public/../api/x`, `/api//x` and
//! `/%61pi/x` get the decision of `/api/x` (Envoy CVE-2021-29492, Istio CVE-2021-31920).
//!
//! Envoy normalises before filters when `normalize_path`/`merge_slashes` are on (our
//! configs turn them on), but the edge worker has no Envoy in front, so the core does
//! it too; on an already normalised path this is the identity. Encoded slashes and
//! backslashes, NUL and broken escapes are refused: their meaning differs between
//! proxies and backends, so no single decision is safe.
//!
//! Path parameters (a raw `;` anywhere in the path) are refused too. Tomcat/Spring read
//! `/a;p/b` and `/a/;p/b` as `/a/b`, Express, WSGI, PHP and Go as a segment named
//! `a;p`: a rule on `/a/b` would protect one backend and not the other. Rewriting the
//! path would change what every non-Java backend sees, so the gate answers 400 instead,
//! as Spring Security's `StrictHttpFirewall` does. An encoded `%3B` is data to every
//! backend (Tomcat strips parameters before decoding) and stays allowed.

use crate::error::AuthError;

/// Returns the normalised path (no query, no fragment) for matching rules.
pub fn normalize(raw: &str) -> Result<String, AuthError> {
    let end = raw.find(['?', '#']).unwrap_or(raw.len());
    let path = &raw[..end];
    if !path.starts_with('/') || path.contains('\\') || path.contains(';') {
        return Err(AuthError::BadPath);
    }
    let decoded = decode_unreserved(path)?;
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').collect();
    let last = segments.len() - 1;
    for (i, seg) in segments.iter().enumerate().skip(1) {
        match *seg {
            "" if i != last => {}
            "." | "" => {
                if i == last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if i == last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    Ok(format!("/{}", out.join("/")))
}

/// Decodes `%XX` escapes of unreserved characters (RFC 3986 §6.2.2.2), upper-cases the
/// hex of the others, and refuses escapes that would change the path's structure.
fn decode_unreserved(path: &str) -> Result<String, AuthError> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i] as char);
            i += 1;
            continue;
        }
        let v = bytes.get(i + 1..i + 3).and_then(crate::hex::byte).ok_or(AuthError::BadPath)?;
        match v {
            b'/' | b'\\' | 0 => return Err(AuthError::BadPath),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(b as char),
            b => out.push_str(&format!("%{b:02X}")),
        }
        i += 3;
    }
    // Non-ASCII bytes were pushed one per char above only if ASCII; re-check.
    if !path.is_ascii() {
        return Err(AuthError::BadPath);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(p: &str) -> Result<String, AuthError> {
        normalize(p)
    }

    #[test]
    fn dot_segments_and_slashes() {
        assert_eq!(n("/public/../api/node/x").as_deref(), Ok("/api/node/x"));
        assert_eq!(n("/api//node///x").as_deref(), Ok("/api/node/x"));
        assert_eq!(n("/./api/./node").as_deref(), Ok("/api/node"));
        assert_eq!(n("/../../etc").as_deref(), Ok("/etc"));
        assert_eq!(n("/api/node/").as_deref(), Ok("/api/node/"));
        assert_eq!(n("/api/node/..").as_deref(), Ok("/api/"));
        assert_eq!(n("/").as_deref(), Ok("/"));
    }

    #[test]
    fn query_and_fragment_are_not_part_of_the_path() {
        assert_eq!(n("/public/x?y=/api/../z").as_deref(), Ok("/public/x"));
        assert_eq!(n("/api/node#/public").as_deref(), Ok("/api/node"));
    }

    #[test]
    fn unreserved_escapes_decode_others_do_not() {
        assert_eq!(n("/%61pi/node").as_deref(), Ok("/api/node"));
        assert_eq!(n("/public/%2e%2e/api/node").as_deref(), Ok("/api/node"));
        assert_eq!(n("/a%20b").as_deref(), Ok("/a%20b"));
        assert_eq!(n("/a%3bb").as_deref(), Ok("/a%3Bb"));
    }

    #[test]
    fn structural_escapes_are_refused() {
        for bad in ["/public%2F..%2Fapi", "/a%2fb", "/a%5Cb", "/a\\b", "/a%00", "/a%zz", "/a%4", "api", "", "/é"] {
            assert_eq!(n(bad), Err(AuthError::BadPath), "{bad:?}");
        }
    }

    #[test]
    fn case_is_kept_and_encoded_semicolons_are_data() {
        assert_eq!(n("/API/Node").as_deref(), Ok("/API/Node"));
        assert_eq!(n("/a/b%3bc/d").as_deref(), Ok("/a/b%3Bc/d"));
        assert_eq!(n("/a?x=1;y=2").as_deref(), Ok("/a"), "a `;` in the query is not a path parameter");
    }

    #[test]
    fn path_parameters_are_refused_wherever_they_stand() {
        for bad in [
            "/public/..;/api/node/x",
            "/api/node/.;/admin",
            "/public/%2e%2e;/api/x",
            "/a/..;x/b",
            "/a/;p/b",
            "/a;p/b",
            "/public;x/../api/node",
            "/a/b;",
            "/;",
        ] {
            assert_eq!(n(bad), Err(AuthError::BadPath), "{bad:?}");
        }
    }
}
