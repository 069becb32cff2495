//! Which client-sent headers never reach the upstream.
//!
//! The gate writes identity headers (`x-jwt-*` and configured claim headers); a client
//! copy of any of them must be removed, in *every spelling an upstream could read as the
//! same name*. CGI-style stacks (PHP `$_SERVER`, WSGI `environ`, Rack, Apache's
//! `http2env`) turn `x-jwt-email`, `x_jwt_email` and `x.jwt.email` alike into
//! `HTTP_X_JWT_EMAIL`, so names are compared in a canonical form: ASCII lower case with
//! every byte that is not a letter or a digit mapped to `-`.
//!
//! Removed on every route kind (public, optional token, protected):
//! - the whole `x-jwt-` namespace, whether or not the config emits that header;
//! - every configured claim header and every `strip_headers` entry;
//! - `x-envoy-original-path` (CVE-2023-27487);
//! - method-override headers (`x-http-method-override`, `x-http-method`,
//!   `x-method-override`), unless the config keeps them: frameworks that honour them
//!   would run a handler for another method than the one the rule matched.

use crate::request::RequestView;

/// The gate's own header namespace, in canonical form.
pub const NAMESPACE: &str = "x-jwt-";

/// Headers some frameworks read as "the real method" (Express `method-override`,
/// Symfony, Rails' `Rack::MethodOverride` for `X-HTTP-Method-Override`).
pub const METHOD_OVERRIDE_HEADERS: [&str; 3] = ["x-http-method-override", "x-http-method", "x-method-override"];

/// Header names (canonical form) that are removed from every request.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StripPolicy {
    names: Vec<String>,
}

impl StripPolicy {
    /// `names`: every header the gate writes or the config asks to strip, any spelling.
    pub fn new<'a>(names: impl IntoIterator<Item = &'a str>) -> StripPolicy {
        let mut out: Vec<String> = Vec::new();
        for n in names.into_iter().map(canonical) {
            if !out.contains(&n) {
                out.push(n);
            }
        }
        StripPolicy { names: out }
    }

    /// Whether a header of this name (any spelling) is removed before forwarding.
    /// Runs for every request header, so it compares byte by byte without allocating.
    pub fn strips(&self, name: &str) -> bool {
        let canonical_prefix_is =
            |c: &str| name.len() >= c.len() && name.bytes().zip(c.bytes()).all(|(n, c)| canonical_byte(n) == c);
        canonical_prefix_is(NAMESPACE) || self.names.iter().any(|c| c.len() == name.len() && canonical_prefix_is(c))
    }

    /// The headers of `req` to remove, lower-cased as hosts name them, each once.
    /// Pseudo-headers (`:path`, …) are never listed.
    pub fn to_remove(&self, req: &RequestView<'_>) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (name, _) in req.headers {
            if name.starts_with(':') || !self.strips(name) {
                continue;
            }
            let lower = name.to_ascii_lowercase();
            if !out.contains(&lower) {
                out.push(lower);
            }
        }
        out
    }

    /// The canonical names on the list (for docs, tests and logs).
    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// ASCII lower case, and every byte that is not a letter or a digit becomes `-`: the
/// name as a CGI gateway's `HTTP_*` variable would spell it, lower-cased.
pub fn canonical(name: &str) -> String {
    name.bytes().map(|b| canonical_byte(b) as char).collect()
}

fn canonical_byte(b: u8) -> u8 {
    if b.is_ascii_alphanumeric() {
        b.to_ascii_lowercase()
    } else {
        b'-'
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view<'a>(headers: &'a [(String, String)]) -> RequestView<'a> {
        RequestView { method: "GET", path: "/", headers, conn: Default::default() }
    }

    fn pairs(names: &[&str]) -> Vec<(String, String)> {
        names.iter().map(|n| (n.to_string(), "v".to_string())).collect()
    }

    #[test]
    fn every_cgi_spelling_of_a_listed_name_is_stripped() {
        let p = StripPolicy::new(["x-user-email", "X-Forwarded-User"]);
        for sent in ["x-user-email", "X-User-Email", "x_user_email", "X_USER_EMAIL", "x.user.email", "x-user_email"] {
            assert!(p.strips(sent), "{sent}");
        }
        assert!(p.strips("x_forwarded_user"));
        assert!(!p.strips("x-user-emails"));
        assert!(!p.strips("user-email"));
    }

    #[test]
    fn the_whole_namespace_is_stripped_even_if_not_configured() {
        let p = StripPolicy::new([]);
        for sent in ["x-jwt-sub", "x-jwt-email", "X_JWT_EMAIL", "x.jwt.anything", "x-jwt-", "X-Jwt_Tenant"] {
            assert!(p.strips(sent), "{sent}");
        }
        for kept in ["x-jwt", "x-jwtsub", "authorization", "content-type", "xjwt-sub"] {
            assert!(!p.strips(kept), "{kept}");
        }
    }

    #[test]
    fn to_remove_lists_present_names_once_and_never_pseudo_headers() {
        let p = StripPolicy::new(["x-http-method-override"]);
        let h = pairs(&[":path", "x-jwt-sub", "X-JWT-SUB", "x_jwt_sub", "accept", "x_http_method_override"]);
        assert_eq!(p.to_remove(&view(&h)), vec!["x-jwt-sub", "x_jwt_sub", "x_http_method_override"]);
    }

    #[test]
    fn canonical_form_maps_every_non_alphanumeric_byte() {
        assert_eq!(canonical("X_Jwt.Sub~1"), "x-jwt-sub-1");
        assert_eq!(canonical("é"), "--");
    }
}
