//! CSRF on session-authenticated routes. A cookie is sent by the browser on cross-site
//! requests too (SameSite=Lax still sends it on top-level cross-site GET navigations), so
//! a state-changing method must prove it comes from one of our pages: an `Origin` that is
//! one of `origins`, or `Sec-Fetch-Site: same-origin`, or the configured header (which a
//! cross-site form cannot set and a cross-site `fetch` cannot set without a CORS
//! preflight the gate never approves). Safe methods (GET, HEAD, OPTIONS) pass: they must
//! not change state.

use crate::config::LoginConfig;
use crate::request::RequestView;

/// Whether the request may use the session for its method.
pub fn allowed(req: &RequestView<'_>, login: &LoginConfig) -> bool {
    if matches!(req.method, "GET" | "HEAD" | "OPTIONS") {
        return true;
    }
    if let Some(h) = &login.csrf_header {
        if req.headers(h).next().is_some() {
            return true;
        }
    }
    if req.headers("sec-fetch-site").next().is_some_and(|v| v.eq_ignore_ascii_case("same-origin")) {
        return true;
    }
    let origins: Vec<&str> = req.headers("origin").collect();
    // Exactly one `Origin`, equal to a configured origin ("null" and lists are refused).
    origins.len() == 1 && login.origins.iter().any(|o| o.eq_ignore_ascii_case(origins[0]))
}
