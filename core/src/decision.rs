//! What the core tells a host to do with one request.

use crate::error::AuthError;
use crate::job::VerifyJob;
use crate::policy::Verdict;

/// The outcome of [`crate::Gate::decide`]. Hosts only translate it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Forward the request after applying these header edits, in order: remove, then set.
    Allow(Allowed),
    /// Answer locally; the request never reaches the upstream.
    Deny(Denial),
    /// Keys for this provider are not loaded yet (cold start or unknown `kid`). Hold the
    /// request, make sure the fetches from [`crate::Gate::poll_fetches`] run, and decide
    /// again (with the same arrival time) when they complete or on the next tick; the
    /// core ends the hold once `startup_hold_ms` has passed since arrival.
    NeedKeys { provider: usize },
    /// The host verifies this signature itself (asynchronously, e.g. WebCrypto) and hands
    /// the job back with [`crate::Gate::resume`], which returns the next decision.
    Verify(Box<VerifyJob>),
    /// Answer locally with exactly this response: the login flow's redirects (with
    /// `Set-Cookie`) and pages. Hosts send status, headers (in order, `set-cookie` may
    /// repeat) and body, and log [`crate::Response::log`].
    Respond(Box<crate::session::Response>),
    /// The answer depends on the request body (a back-channel logout POST): read it, at
    /// most `max_bytes` (answer 413 beyond), and call [`crate::Gate::decide_body`].
    NeedBody { max_bytes: usize },
}

/// Header edits for an allowed request. `remove` always holds every header the gate can
/// write, so client-sent copies never reach the upstream, also on public routes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Allowed {
    /// The normalised path (no query) the rule was matched on: a host that picks an
    /// upstream by path must pick it by this one, never by the raw request path.
    pub path: String,
    /// What the upstream must be sent as the request target: `path` plus the query (with
    /// a token read from the query removed). Also present as a `:path` edit in `set`
    /// when it differs from the raw request target.
    pub target: String,
    pub remove: Vec<String>,
    /// Replace semantics: the host sets each header, never appends.
    pub set: Vec<(String, String)>,
    /// Short hash of the verified token, for logs; `None` when no token was checked.
    pub token_hash: Option<String>,
    /// The key came from a set whose last refresh failed (served within `max_stale_s`).
    pub stale_keys: bool,
    /// Rule, outcome, reason and mode, for the decision metric. In report-only mode the
    /// outcome is the one that would have been enforced (possibly `Deny`).
    pub verdict: Option<Verdict>,
    /// Headers to set on the *response* (the report-only header); never sent upstream.
    pub response_headers: Vec<(String, String)>,
}

impl Allowed {
    /// One log line: the path decided on, the token's hash (never the token), and
    /// whether the key came from a set whose refresh is failing.
    pub fn log_line(&self) -> String {
        let keys = if self.stale_keys { " keys=stale" } else { "" };
        format!("jwtgate: allow path={} token={}{keys}", self.path, self.token_hash.as_deref().unwrap_or("-"))
    }
}

/// A local reply: status, RFC 6750 `WWW-Authenticate`, a small JSON body, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    pub status: u16,
    pub reason: AuthError,
    pub www_authenticate: Option<String>,
    pub retry_after_s: Option<u32>,
    pub body: String,
    /// Short hash of the offending token, for logs; never the token.
    pub token_hash: Option<String>,
    /// Rule, reason and mode, for the decision metric.
    pub verdict: Option<Verdict>,
    /// A fresh `DPoP-Nonce` for the client (RFC 9449 §8), when nonces are configured.
    pub dpop_nonce: Option<String>,
}

/// How a route that accepts DPoP challenges the client (RFC 9449 §7.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct DpopChallenge {
    /// Only DPoP is accepted: no `Bearer` challenge at all.
    pub required: bool,
    /// The `algs` parameter: proof algorithms accepted.
    pub algs: String,
    pub nonce: Option<String>,
}

impl Denial {
    pub fn new(reason: AuthError, realm: &str, token_hash: Option<String>) -> Denial {
        let status = reason.status();
        let description = reason.to_string();
        let www_authenticate = match status {
            401 | 403 if !matches!(reason, AuthError::NoMatchingRule | AuthError::AccessDenied(_)) => {
                Some(www_authenticate(realm, &reason, &description))
            }
            _ => None,
        };
        let body = body(&reason, false);
        let retry_after_s = (status == 503).then_some(5);
        Denial { status, reason, www_authenticate, retry_after_s, body, token_hash, verdict: None, dpop_nonce: None }
    }

    /// The same denial on a route that accepts DPoP: a `DPoP` challenge with `algs`
    /// (carrying the error when it is about DPoP, or when DPoP is the only scheme), after
    /// the `Bearer` one otherwise; and a fresh nonce if nonces are on.
    pub(crate) fn with_dpop(mut self, realm: &str, ch: &DpopChallenge) -> Denial {
        let Some(bearer) = self.www_authenticate.take() else { return self };
        let dpop_error = matches!(self.reason, AuthError::InvalidDpopProof(_) | AuthError::UseDpopNonce);
        let dpop = format!("DPoP realm=\"{}\", algs=\"{}\"", quote_safe(realm), ch.algs);
        self.www_authenticate = Some(if dpop_error || ch.required {
            format!("{dpop}{}", params(&self.reason, &self.reason.to_string()))
        } else {
            format!("{bearer}, {dpop}")
        });
        self.dpop_nonce = ch.nonce.clone();
        self
    }

    /// The same denial with its stable reason code in the body (`reason_in_body`).
    pub fn with_reason_in_body(mut self) -> Denial {
        self.body = body(&self.reason, true);
        self
    }

    /// The answer while the host has no valid config: 503 with `Retry-After`.
    pub fn unconfigured() -> Denial {
        Denial::new(AuthError::Unconfigured, "", None)
    }

    /// The answer when a host cannot carry out what the core said (a bug): fail closed.
    pub fn internal_error(what: &'static str) -> Denial {
        Denial::new(AuthError::Internal(what), "", None)
    }

    /// Response headers for the local reply (besides `content-type`).
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let mut out = vec![("content-type", "application/json".to_owned())];
        if let Some(w) = &self.www_authenticate {
            out.push(("www-authenticate", w.clone()));
        }
        if let Some(r) = self.retry_after_s {
            out.push(("retry-after", r.to_string()));
        }
        if let Some(n) = &self.dpop_nonce {
            out.push(("dpop-nonce", n.clone()));
        }
        out
    }

    /// One log line: reason, token hash (never the token) and rule.
    pub fn log_line(&self) -> String {
        format!(
            "jwtgate: deny status={} reason={} detail=\"{}\" token={} rule={}",
            self.status,
            self.reason.metric_reason(),
            self.reason,
            self.token_hash.as_deref().unwrap_or("-"),
            self.verdict.as_ref().map_or("-", |v| v.rule.as_str())
        )
    }
}

/// `{"error", "error_description"}` and, if asked, `"reason"`: fixed texts only.
fn body(reason: &AuthError, with_reason: bool) -> String {
    let mut body = serde_json::json!({
        "error": reason.body_error(),
        "error_description": reason.to_string(),
    });
    if with_reason {
        body["reason"] = serde_json::Value::from(reason.metric_reason());
    }
    body.to_string()
}

/// RFC 6750 §3: `Bearer realm="…"` plus `error`/`error_description` (and `scope`).
/// An API-key denial challenges `ApiKey realm="…"` and says nothing more (missing and
/// unknown keys get the same answer); a route that takes either offers both schemes
/// (RFC 9110 §11.6.1: one header may list several challenges).
fn www_authenticate(realm: &str, reason: &AuthError, description: &str) -> String {
    let realm = quote_safe(realm);
    match reason {
        AuthError::InvalidApiKey => return format!("ApiKey realm=\"{realm}\""),
        AuthError::MissingCredential => return format!("Bearer realm=\"{realm}\", ApiKey realm=\"{realm}\""),
        _ => {}
    }
    format!("Bearer realm=\"{realm}\"{}", params(reason, description))
}

/// The `error`, `error_description` (and `scope`) parameters of a challenge.
fn params(reason: &AuthError, description: &str) -> String {
    let mut out = String::new();
    if let Some(code) = reason.bearer_error() {
        out.push_str(&format!(", error=\"{code}\", error_description=\"{}\"", quote_safe(description)));
    }
    if let AuthError::InsufficientScope(scope) = reason {
        out.push_str(&format!(", scope=\"{}\"", quote_safe(scope)));
    }
    out
}

/// RFC 6750 limits these values to %x20-21 / %x23-5B / %x5D-7E: drop the rest.
fn quote_safe(s: &str) -> String {
    s.chars().filter(|c| matches!(*c as u32, 0x20..=0x21 | 0x23..=0x5B | 0x5D..=0x7E)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_token_has_realm_only() {
        let d = Denial::new(AuthError::MissingToken, "jwtgate", None);
        assert_eq!(d.status, 401);
        assert_eq!(d.www_authenticate.as_deref(), Some("Bearer realm=\"jwtgate\""));
        assert!(d.body.contains("\"missing_token\""));
    }

    #[test]
    fn invalid_token_carries_error_and_description() {
        let d = Denial::new(AuthError::Expired, "api", Some("ab12".into()));
        assert_eq!(
            d.www_authenticate.as_deref(),
            Some("Bearer realm=\"api\", error=\"invalid_token\", error_description=\"token has expired\"")
        );
        let body: serde_json::Value = serde_json::from_str(&d.body).expect("json body");
        assert_eq!(body["error"], "invalid_token");
        assert!(d.log_line().contains("token=ab12"));
    }

    #[test]
    fn api_key_denials_challenge_apikey_and_say_nothing_more() {
        let d = Denial::new(AuthError::InvalidApiKey, "api", Some("ab12".into()));
        assert_eq!((d.status, d.www_authenticate.as_deref()), (401, Some("ApiKey realm=\"api\"")));
        assert_eq!(d.body, r#"{"error":"invalid_api_key","error_description":"a valid API key is required"}"#);
        let d = Denial::new(AuthError::MissingCredential, "api", None);
        assert_eq!(d.www_authenticate.as_deref(), Some("Bearer realm=\"api\", ApiKey realm=\"api\""));
    }

    #[test]
    fn unavailable_keys_give_503_with_retry_after() {
        let d = Denial::new(AuthError::KeysUnavailable, "x", None);
        assert_eq!(d.status, 503);
        assert!(d.headers().iter().any(|(k, v)| *k == "retry-after" && v == "5"));
        assert_eq!(d.www_authenticate, None);
    }

    #[test]
    fn host_failures_are_built_here_and_blame_no_token() {
        let d = Denial::unconfigured();
        assert_eq!((d.status, d.retry_after_s, d.www_authenticate.as_deref()), (503, Some(5), None));
        let body: serde_json::Value = serde_json::from_str(&d.body).expect("json body");
        assert_eq!(body["error"], "temporarily_unavailable");
        assert_eq!(body["error_description"], "jwtgate is not configured");
        let d = Denial::internal_error("unexpected verification request");
        assert_eq!((d.status, d.retry_after_s, d.www_authenticate.as_deref()), (500, None, None));
        assert!(d.body.contains("\"server_error\"") && d.body.contains("unexpected verification request"));
        assert!(d.log_line().contains("reason=internal"));
    }

    #[test]
    fn quotes_cannot_break_out_of_the_header() {
        let d = Denial::new(AuthError::InsufficientScope("a\"b\\c\r\n".into()), "r\"", None);
        let w = d.www_authenticate.expect("header");
        assert!(w.starts_with("Bearer realm=\"r\", error=\"insufficient_scope\""));
        assert!(w.ends_with("scope=\"abc\""));
    }
}
