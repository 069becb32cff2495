//! The decision pass's browser part (a child of `decide.rs`): the login paths
//! (callback, logout), and `browser: true` rules (session cookie, refresh, CSRF, or a
//! redirect to the IdP for a page load without a session).

use super::Pass;
use crate::config::{LoginConfig, TokenSource};
use crate::decision::Decision;
use crate::extract::Found;
use crate::policy::Matched;
use crate::request::RequestView;
use crate::session::calls::{CallError, Lookup};
use crate::session::cookie::{self, Purpose};
use crate::session::jws::{self, JwsError};
use crate::session::{self as s, csrf, Attempt, Response, Session};
use std::ops::ControlFlow;

/// A pending login the callback may complete.
struct Pending<'g> {
    attempt: Attempt,
    code: String,
    origin: &'g str,
}

fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn respond(r: Response) -> Decision {
    Decision::Respond(Box::new(r))
}

/// A top-level page load: only those are sent to the IdP (API calls and XHR get 401).
fn wants_page(req: &RequestView<'_>) -> bool {
    matches!(req.method, "GET" | "HEAD") && req.headers("accept").any(|a| a.contains("text/html"))
}

/// The request's host (`:authority`, else `host`).
fn host<'r>(req: &RequestView<'r>) -> Option<&'r str> {
    req.headers(":authority").next().or_else(|| req.headers("host").next())
}

/// Query parameter `name` of `path`, form-decoded.
fn param(path: &str, name: &str) -> Option<String> {
    let query = path.split('#').next()?.split_once('?')?.1;
    query.split('&').filter_map(|p| p.split_once('=')).find(|(k, _)| *k == name).map(|(_, v)| decode(v))
}

fn decode(v: &str) -> String {
    s::flow_decode(v)
}

/// `base?k=v&...` (form-encoded values).
fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    let enc = crate::introspect::call::form_encode;
    let q: Vec<String> = pairs.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}{}", q.join("&"))
}

impl<'g> Pass<'g> {
    fn login(&self, p: usize) -> &'g LoginConfig {
        // Callers pass only providers with a `login` block (validated at load).
        self.config.providers[p].login.as_deref().expect("provider has a login block")
    }

    /// The callback or logout path of a provider with `login`, if `path` is one.
    pub(super) fn login_paths(&mut self, req: &RequestView<'_>, path: &str) -> Option<Decision> {
        let ours = |l: &LoginConfig| {
            l.redirect_path == path || l.logout_path == path || l.backchannel_logout_path.as_deref() == Some(path)
        };
        let p = self.config.providers.iter().position(|pr| pr.login.as_deref().is_some_and(ours))?;
        let login = self.login(p);
        if login.backchannel_logout_path.as_deref() == Some(path) {
            return Some(match req.method {
                "POST" => Decision::NeedBody { max_bytes: crate::gate::MAX_LOGOUT_BODY },
                _ => respond(Response::json(405, "invalid_request", "POST the logout token")),
            });
        }
        Some(if login.redirect_path == path { self.callback(req, p) } else { self.logout(req, p) })
    }

    /// The sealed session of provider `p` in the request, and how many cookies it used.
    fn open_session(&self, req: &RequestView<'_>, p: usize) -> Option<(Session, usize)> {
        let login = self.login(p);
        let c = &login.cookie;
        let (sealed, count) = cookie::join(req, &c.name)?;
        let name = &self.config.providers[p].name;
        let plain = cookie::open(&c.keys, Purpose::Session, &c.name, name, &sealed)?;
        let session: Session = serde_json::from_slice(&plain).ok()?;
        let now_s = self.checker.now_ms / 1000;
        (now_s < session.iat.saturating_add(c.max_age_s) && session.iat <= now_s + 60).then_some((session, count))
    }

    /// A `browser: true` rule: the session if there is one, else a bearer token as on any
    /// rule; a page load with neither goes to the IdP.
    pub(super) fn browser(&mut self, req: &RequestView<'_>, p: usize, m: &Matched<'_, '_>) -> Decision {
        if let Some((session, count)) = self.open_session(req, p) {
            return self.with_session(req, p, m, session, count);
        }
        match self.require_one(req, std::slice::from_ref(&p), false, m) {
            Decision::Deny(d) if d.status == 401 && wants_page(req) => self.start_login(req, p),
            other => other,
        }
    }

    /// No usable session: a page load logs in again (clearing the cookie), anything
    /// else is refused with 401 as a bearer request without a token would be.
    fn no_session(&self, req: &RequestView<'_>, p: usize, count: usize) -> Decision {
        if wants_page(req) {
            return self.start_login(req, p);
        }
        let mut r = Response::json(401, "invalid_token", "the session has ended; sign in again");
        r.headers.push(("www-authenticate".to_owned(), format!("Bearer realm=\"{}\"", self.config.realm)));
        let login = self.login(p);
        r.headers
            .extend(cookie::clear_headers(&login.cookie.name, count).into_iter().map(|c| ("set-cookie".to_owned(), c)));
        respond(r)
    }

    fn with_session(
        &mut self,
        req: &RequestView<'_>,
        p: usize,
        m: &Matched<'_, '_>,
        session: Session,
        count: usize,
    ) -> Decision {
        let now_ms = self.checker.now_ms;
        let now_s = now_ms / 1000;
        let login = self.login(p);
        if !csrf::allowed(req, login) {
            return respond(Response::json(
                403,
                "csrf",
                "a state-changing request must come from one of this site's pages",
            ));
        }
        let mut refreshed = None;
        if let Some(rt) = session.rt.as_deref().filter(|_| now_s + login.refresh_before_s >= session.exp) {
            let form = || owned(&[("grant_type", "refresh_token"), ("refresh_token", rt)]);
            let calls = &mut self.state.logins[p].calls;
            match calls.lookup(&format!("refresh:{rt}"), form, now_ms, login.token.timeout_ms) {
                Lookup::Waiting => return Decision::NeedKeys { provider: p },
                Lookup::Done(t) => {
                    let rt = t.refresh_token.clone().or_else(|| session.rt.clone());
                    let it = t.id_token.clone().or_else(|| session.it.clone());
                    refreshed = Some(Session { at: t.access_token.clone(), rt, it, exp: t.exp_s, iat: session.iat });
                }
                // Another VM spent the rotated refresh token, or the IdP is down: keep
                // serving the access token until it expires, then sign in again.
                Lookup::Failed(CallError::InvalidGrant | CallError::Failed) if now_s < session.exp => {}
                Lookup::Failed(_) => return self.no_session(req, p, count),
            }
        }
        let current = refreshed.as_ref().unwrap_or(&session);
        let found = Found { token: &current.at, source: TokenSource::Session };
        let mut allowed = self.base_allow(req);
        match self.admit(req, &found, std::slice::from_ref(&p), m, &mut allowed) {
            ControlFlow::Continue(()) => {}
            // Expired or revoked (a back-channel logout, say): the session is over.
            ControlFlow::Break(Decision::Deny(d)) if d.status == 401 => return self.no_session(req, p, count),
            ControlFlow::Break(other) => return other,
        }
        let name = &self.login(p).cookie.name;
        match cookie::without_gate_cookies(req, name) {
            Some(rest) => allowed.set.push(("cookie".to_owned(), rest)),
            None => allowed.remove.push("cookie".to_owned()),
        }
        if let Some(new) = &refreshed {
            // Too large now (a bigger token after refresh): keep the old cookie; the
            // next refresh tries again.
            if let Some(set) = self.session_cookies(p, new, count) {
                allowed.response_headers.extend(set.into_iter().map(|c| ("set-cookie".to_owned(), c)));
            }
        }
        Decision::Allow(allowed)
    }

    /// `Set-Cookie` values for `session`; `None` if it exceeds `cookie.max_bytes`.
    fn session_cookies(&self, p: usize, session: &Session, old_count: usize) -> Option<Vec<String>> {
        let c = &self.login(p).cookie;
        let plain = serde_json::to_vec(session).ok()?;
        let sealed = cookie::seal(
            &c.keys[0],
            s::random::<12>()?,
            Purpose::Session,
            &c.name,
            &self.config.providers[p].name,
            &plain,
        );
        let values = cookie::split(&sealed, c.max_bytes)?;
        Some(cookie::set_headers(&c.name, &values, c.max_age_s, old_count))
    }

    /// Redirects a page load to the IdP's authorization endpoint with a fresh `state`,
    /// `nonce` and PKCE verifier, sealed into the login cookie.
    fn start_login(&self, req: &RequestView<'_>, p: usize) -> Decision {
        let login = self.login(p);
        let Some(origin) = host(req).and_then(|h| login.origin_for_host(h)) else {
            return respond(Response::page(400, "this host is not one of the login origins", vec![]));
        };
        let (Some(state), Some(nonce), Some(verifier), Some(iv)) =
            (s::random_token(), s::random_token(), s::random_token(), s::random::<12>())
        else {
            return respond(Response::page(503, "no randomness available to start a login", vec![]));
        };
        let to = if s::safe_return_path(req.path) { req.path.to_owned() } else { "/".to_owned() };
        let attempt = Attempt { state, nonce, verifier, to, iat: self.checker.now_ms / 1000 };
        let plain = serde_json::to_vec(&attempt).unwrap_or_default();
        let c = &login.cookie;
        let name = login.login_cookie();
        let sealed = cookie::seal(&c.keys[0], iv, Purpose::Login, &name, &self.config.providers[p].name, &plain);
        let redirect_uri = format!("{origin}{}", login.redirect_path);
        let scope = login.scopes.join(" ");
        let challenge = s::pkce_challenge(&attempt.verifier);
        let location = with_query(
            &login.authorization_endpoint,
            &[
                ("response_type", "code"),
                ("client_id", &login.client_id),
                ("redirect_uri", &redirect_uri),
                ("scope", &scope),
                ("state", &attempt.state),
                ("nonce", &attempt.nonce),
                ("code_challenge", &challenge),
                ("code_challenge_method", "S256"),
            ],
        );
        let set = cookie::set_cookie(&name, &sealed, c.login_max_age_s);
        respond(Response::redirect(location, vec![set], "login"))
    }

    /// The callback's checks before any call: no `error=`, a pending login in this
    /// browser, the same `state` (constant time), not used before, a code, a known host.
    /// `Err` is the 400 page.
    fn pending_login(&self, req: &RequestView<'_>, p: usize) -> Result<Pending<'g>, String> {
        let login = self.login(p);
        let now_ms = self.checker.now_ms;
        if let Some(e) = param(req.path, "error") {
            let code: String = e.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').take(64).collect();
            return Err(format!("the identity provider refused the login: {code}"));
        }
        let c = &login.cookie;
        let name = login.login_cookie();
        let attempt: Option<Attempt> = cookie::read(req, &name)
            .and_then(|v| cookie::open(&c.keys, Purpose::Login, &name, &self.config.providers[p].name, v))
            .and_then(|plain| serde_json::from_slice(&plain).ok());
        let Some(attempt) = attempt.filter(|a| now_ms / 1000 <= a.iat.saturating_add(c.login_max_age_s)) else {
            return Err("no pending login in this browser (or it expired): start again".into());
        };
        let state = param(req.path, "state").unwrap_or_default();
        if !s::same(&state, &attempt.state) {
            return Err("the login's state does not match this browser's pending login".into());
        }
        if self.state.logins[p].used(&state, now_ms) {
            return Err("this login was already completed (replayed state)".into());
        }
        match (param(req.path, "code"), host(req).and_then(|h| login.origin_for_host(h))) {
            (Some(code), Some(origin)) => Ok(Pending { attempt, code, origin }),
            _ => Err("the callback has no code, or comes to a host that is not a login origin".into()),
        }
    }

    /// The IdP's redirect back: checks the pending login, exchanges the code (held while
    /// the call runs), checks the ID token, sets the session and returns to the page.
    fn callback(&mut self, req: &RequestView<'_>, p: usize) -> Decision {
        let login = self.login(p);
        let now_ms = self.checker.now_ms;
        let now_s = now_ms / 1000;
        let login_name = login.login_cookie();
        let clear = || cookie::clear_headers(&login_name, 1);
        let refuse = |why: &str| respond(Response::page(400, why, clear()));
        let Pending { attempt, code, origin } = match self.pending_login(req, p) {
            Ok(pending) => pending,
            Err(why) => return refuse(&why),
        };
        let (provider, c, state) = (&self.config.providers[p], &login.cookie, &attempt.state);
        let redirect_uri = format!("{origin}{}", login.redirect_path);
        let grant = format!("code:{code}:{state}");
        let form = || {
            let verifier = attempt.verifier.as_str();
            owned(&[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", verifier),
            ])
        };
        let tokens = match self.state.logins[p].calls.lookup(&grant, form, now_ms, login.token.timeout_ms) {
            Lookup::Waiting => return Decision::NeedKeys { provider: p },
            Lookup::Failed(_) => return refuse("the identity provider did not accept the code"),
            Lookup::Done(t) => t.clone(),
        };
        let Some(id_token) = tokens.id_token.as_deref() else {
            return refuse("the identity provider sent no ID token");
        };
        let keys = &self.state.keys[p];
        let claims = match jws::verified_claims(self.config, keys, p, id_token, now_ms, self.checker.may_hold) {
            Ok(c) => c,
            Err(JwsError::NeedKeys) => return Decision::NeedKeys { provider: p },
            Err(JwsError::Refused(why)) => return refuse(&format!("the ID token was refused: {why}")),
        };
        if let Err(why) =
            jws::check_id_token(&claims, &provider.issuer, login, &attempt.nonce, now_s, provider.clock_skew_s)
        {
            return refuse(why);
        }
        self.state.logins[p].mark_used(state, now_ms + c.login_max_age_s * 1000);
        self.state.logins[p].calls.forget(&grant);
        let session = Session {
            at: tokens.access_token,
            rt: tokens.refresh_token,
            it: tokens.id_token,
            exp: tokens.exp_s,
            iat: now_s,
        };
        let old = cookie::join(req, &c.name).map_or(1, |(_, n)| n);
        let Some(mut cookies) = self.session_cookies(p, &session, old) else {
            return refuse("the session is too large for the configured cookie size (`cookie.max_bytes`)");
        };
        cookies.extend(clear());
        let to = if s::safe_return_path(&attempt.to) { attempt.to.as_str() } else { "/" };
        respond(Response::redirect(format!("{origin}{to}"), cookies, "logged in"))
    }

    /// Clears the session and sends the browser to the IdP's end-session endpoint
    /// (RP-initiated logout) with the ID token as hint.
    fn logout(&mut self, req: &RequestView<'_>, p: usize) -> Decision {
        let login = self.login(p);
        if !matches!(req.method, "GET" | "POST") {
            return respond(Response::page(405, "logout takes GET or POST", vec![]));
        }
        if !csrf::allowed(req, login) {
            return respond(Response::page(403, "a logout must come from one of this site's pages", vec![]));
        }
        let Some(origin) = host(req).and_then(|h| login.origin_for_host(h)) else {
            return respond(Response::page(400, "this host is not one of the login origins", vec![]));
        };
        let session = self.open_session(req, p);
        let count = cookie::join(req, &login.cookie.name).map_or(1, |(_, n)| n);
        let mut cookies = cookie::clear_headers(&login.cookie.name, count);
        cookies.extend(cookie::clear_headers(&login.login_cookie(), 1));
        let back = format!("{origin}{}", login.post_logout_redirect);
        let location = match &login.end_session_endpoint {
            Some(end) => {
                let hint = session.as_ref().and_then(|(s, _)| s.it.clone());
                let mut q = vec![("post_logout_redirect_uri", back.as_str()), ("client_id", login.client_id.as_str())];
                if let Some(h) = hint.as_deref() {
                    q.insert(0, ("id_token_hint", h));
                }
                with_query(end, &q)
            }
            None => back,
        };
        respond(Response::redirect(location, cookies, "logout"))
    }
}

#[cfg(test)]
#[path = "flow_tests.rs"]
mod tests;
