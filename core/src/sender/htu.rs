//! The `htu` comparison of RFC 9449 §4.3: the proof's URI and the request's, both
//! without query and fragment, compared after RFC 3986 §6.2.2 syntax-based and §6.2.3
//! scheme-based normalisation (case of scheme and host, default port, percent-encoding
//! case and unreserved characters, dot segments, empty path).

/// `scheme://authority/path` in normal form, or `None` when `uri` is not an absolute
/// http(s) URI (a proof naming anything else never matches).
pub fn normalize(uri: &str) -> Option<String> {
    let uri = &uri[..uri.find(['?', '#']).unwrap_or(uri.len())];
    let (scheme, rest) = uri.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let (authority, path) = rest.find('/').map_or((rest, ""), |i| rest.split_at(i));
    let authority = normalize_authority(authority, default_port)?;
    Some(format!("{scheme}://{authority}{}", normalize_path(path)?))
}

/// The request's own URI from its parts (scheme and authority as the gate learnt them,
/// `target` the raw request target): the side the proof's `htu` must equal.
pub fn of_request(scheme: &str, authority: &str, target: &str) -> Option<String> {
    let path = &target[..target.find(['?', '#']).unwrap_or(target.len())];
    if !path.starts_with('/') {
        return None;
    }
    normalize(&format!("{scheme}://{authority}{path}"))
}

/// Lower-case host, default port dropped; userinfo is refused (a URI with credentials
/// is never a request URI).
fn normalize_authority(authority: &str, default_port: &str) -> Option<String> {
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let lower = authority.to_ascii_lowercase();
    // `[v6]:port`: the port separator is the colon after the bracket.
    let port_at = match lower.rfind(']') {
        Some(end) => lower[end..].find(':').map(|i| end + i),
        None => lower.rfind(':'),
    };
    let (host, port) = match port_at {
        Some(i) => (&lower[..i], &lower[i + 1..]),
        None => (lower.as_str(), ""),
    };
    if host.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let port = port.trim_start_matches('0');
    Some(match port {
        "" if port_at.is_none() => host.to_owned(),
        p if p == default_port => host.to_owned(),
        "" => format!("{host}:0"),
        p => format!("{host}:{p}"),
    })
}

/// Percent-encodings upper-cased, unreserved characters decoded, dot segments removed,
/// and an empty path made `/`. A malformed escape makes the URI unusable.
fn normalize_path(path: &str) -> Option<String> {
    let mut decoded = String::with_capacity(path.len());
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let v = bytes.get(i + 1..i + 3).and_then(crate::hex::byte)?;
            if v.is_ascii_alphanumeric() || b"-._~".contains(&v) {
                decoded.push(char::from(v));
            } else {
                decoded.push_str(&format!("%{v:02X}"));
            }
            i += 3;
        } else {
            decoded.push(char::from(bytes[i]));
            i += 1;
        }
    }
    if !path.is_ascii() {
        return None;
    }
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = decoded.split('/').skip(1).collect();
    for (n, seg) in segments.iter().enumerate() {
        let last = n + 1 == segments.len();
        match *seg {
            "." if last => out.push(""),
            "." => {}
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    Some(format!("/{}", out.join("/")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_9449_section_4_3_examples_compare_equal() {
        let a = normalize("https://server.example.com/path").expect("uri");
        for other in [
            "HTTPS://Server.Example.COM/path",
            "https://server.example.com:443/path",
            "https://server.example.com/%70ath",
            "https://server.example.com/a/../path?x=1#frag",
            "https://server.example.com/./path",
        ] {
            assert_eq!(normalize(other).as_deref(), Some(a.as_str()), "{other}");
        }
    }

    #[test]
    fn different_uris_stay_different() {
        let a = normalize("https://server.example.com/path");
        for other in [
            "http://server.example.com/path",
            "https://server.example.com:8443/path",
            "https://other.example.com/path",
            "https://server.example.com/path/",
            "https://server.example.com/Path",
            "https://server.example.com/pa%2Fth",
        ] {
            assert_ne!(normalize(other), a, "{other}");
        }
    }

    #[test]
    fn non_http_or_broken_uris_never_match() {
        for bad in ["ftp://x/y", "/relative", "https://user@host/x", "https://host/%zz", "https:///x", "https://h:8x/"]
        {
            assert_eq!(normalize(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_request_side_ignores_the_query_and_fills_an_empty_path() {
        assert_eq!(of_request("https", "API.example:443", "/a/b?c=d").as_deref(), Some("https://api.example/a/b"));
        assert_eq!(normalize("https://api.example").as_deref(), Some("https://api.example/"));
        assert_eq!(of_request("http", "[::1]:80", "/x").as_deref(), Some("http://[::1]/x"));
        assert_eq!(of_request("http", "[::1]:8080", "/x").as_deref(), Some("http://[::1]:8080/x"));
        assert_eq!(of_request("http", "h", "*"), None);
    }
}
