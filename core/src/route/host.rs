//! Host matching: `api.example.com` or `*.example.com`, case-insensitive, port ignored.
//!
//! The authority is `:authority` (HTTP/2, and Envoy for every request), else the `host`
//! header. Two values of either (or one of each that differ) make the request's host
//! ambiguous: a rule that depends on the host then refuses the request rather than
//! guess, because a backend could read the other value.

use crate::error::AuthError;
use crate::request::RequestView;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HostMatch {
    Exact(String),
    /// `*.example.com` kept as `.example.com`: any non-empty name before it, at any
    /// depth (as Envoy's virtual-host domains and Istio's `hosts` read it).
    Suffix(String),
}

impl HostMatch {
    /// Parses a configured host; the error says what is wrong with it.
    pub fn parse(s: &str) -> Result<HostMatch, String> {
        let lower = s.to_ascii_lowercase();
        let (name, wild) = match lower.strip_prefix("*.") {
            Some(rest) => (rest, true),
            None => (lower.as_str(), false),
        };
        let labels_ok = !name.is_empty()
            && name.split('.').all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
        if !labels_ok {
            return Err(format!("{s:?} must be a host name (no port), or `*.` followed by one"));
        }
        Ok(if wild { HostMatch::Suffix(format!(".{name}")) } else { HostMatch::Exact(name.to_owned()) })
    }

    /// Whether `authority` (a request's host, with or without port) matches.
    pub fn matches(&self, authority: &str) -> bool {
        let host = host_of(authority);
        match self {
            HostMatch::Exact(h) => host.eq_ignore_ascii_case(h),
            HostMatch::Suffix(s) => {
                host.len() > s.len()
                    && host.get(host.len() - s.len()..).is_some_and(|tail| tail.eq_ignore_ascii_case(s))
            }
        }
    }
}

/// The request's one authority: `Ok(None)` when it has none.
pub fn authority<'r>(req: &RequestView<'r>) -> Result<Option<&'r str>, AuthError> {
    let mut values = req.headers(":authority").chain(req.headers("host")).map(host_of);
    let first = values.next();
    match first {
        Some(h) if values.all(|other| other.eq_ignore_ascii_case(h)) => Ok(Some(h)),
        Some(_) => Err(AuthError::AmbiguousHost),
        None => Ok(None),
    }
}

/// The host part: port removed (`[v6]:port` too) and one trailing dot dropped, so
/// `api.example.com.` cannot slip past a rule written for `api.example.com`.
fn host_of(authority: &str) -> &str {
    let a = authority.trim();
    let host = if a.starts_with('[') {
        a.find(']').map_or(a, |i| &a[..=i])
    } else {
        match a.rsplit_once(':') {
            Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => a,
        }
    };
    host.strip_suffix('.').unwrap_or(host)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::req;

    #[test]
    fn exact_is_case_insensitive_and_ignores_the_port() {
        let m = HostMatch::parse("API.example.com").expect("valid");
        for yes in ["api.example.com", "API.EXAMPLE.COM", "api.example.com:8443", "api.example.com."] {
            assert!(m.matches(yes), "{yes}");
        }
        for no in ["example.com", "xapi.example.com", "api.example.com.evil", "api.example.co"] {
            assert!(!m.matches(no), "{no}");
        }
    }

    #[test]
    fn wildcard_matches_any_subdomain_but_not_the_apex() {
        let m = HostMatch::parse("*.example.com").expect("valid");
        assert!(m.matches("a.example.com"));
        assert!(m.matches("a.b.Example.com:80"));
        assert!(!m.matches("example.com"));
        assert!(!m.matches(".example.com"));
        assert!(!m.matches("badexample.com"));
    }

    #[test]
    fn bad_hosts_are_refused() {
        for bad in ["", "*", "*.", "a.*.com", "host:80", "a..b", "ex ample.com", "http://a"] {
            assert!(HostMatch::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(HostMatch::parse("[::1]").ok(), None);
    }

    #[test]
    fn authority_prefers_one_unambiguous_value() {
        let r = req("GET", "/", &[(":authority", "a.example.com:80"), ("host", "A.example.com")]);
        assert_eq!(authority(&r.view()), Ok(Some("a.example.com")));
        let r = req("GET", "/", &[("host", "a.example.com")]);
        assert_eq!(authority(&r.view()), Ok(Some("a.example.com")));
        let r = req("GET", "/", &[("host", "a.example.com"), ("host", "b.example.com")]);
        assert_eq!(authority(&r.view()), Err(AuthError::AmbiguousHost));
        let r = req("GET", "/", &[(":authority", "a.example.com"), ("host", "b.example.com")]);
        assert_eq!(authority(&r.view()), Err(AuthError::AmbiguousHost));
        assert_eq!(authority(&req("GET", "/", &[]).view()), Ok(None));
        assert_eq!(host_of("[::1]:8080"), "[::1]");
    }
}
