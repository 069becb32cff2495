//! The local answers of the login flow: redirects (with `Set-Cookie`) and small error
//! pages. Texts are fixed by the gate (never echo request input unescaped).

/// A response the host sends as is instead of forwarding the request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// In order; `set-cookie` may repeat.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// One log line (no token, cookie or code in it).
    pub log: String,
}

impl Response {
    /// `302 Found` to `location`, setting `cookies`.
    pub fn redirect(location: String, cookies: Vec<String>, why: &str) -> Response {
        let mut headers = vec![("location".to_owned(), location), ("cache-control".to_owned(), "no-store".to_owned())];
        headers.extend(cookies.into_iter().map(|c| ("set-cookie".to_owned(), c)));
        Response { status: 302, headers, body: String::new(), log: format!("jwtgate: session redirect ({why})") }
    }

    /// An error page: `status`, a fixed `problem`, and `cookies` to set (e.g. clearing a
    /// spent login cookie).
    pub fn page(status: u16, problem: &str, cookies: Vec<String>) -> Response {
        let mut headers = vec![
            ("content-type".to_owned(), "text/html; charset=utf-8".to_owned()),
            ("cache-control".to_owned(), "no-store".to_owned()),
        ];
        headers.extend(cookies.into_iter().map(|c| ("set-cookie".to_owned(), c)));
        let text = escape(problem);
        let body = format!("<!doctype html><title>Sign-in problem</title><h1>Sign-in problem</h1><p>{text}</p>\n");
        let why: String = problem.chars().filter(|c| !c.is_control() && *c != '"').collect();
        Response { status, headers, body, log: format!("jwtgate: session refused status={status} why=\"{why}\"") }
    }

    /// A JSON refusal for API callers (`{"error", "error_description"}`).
    pub fn json(status: u16, error: &str, description: &str) -> Response {
        let headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        let body = serde_json::json!({ "error": error, "error_description": description }).to_string();
        Response {
            status,
            headers,
            body,
            log: format!("jwtgate: session refused status={status} why=\"{description}\""),
        }
    }

    /// A plain `200` with no body (back-channel logout accepted).
    pub fn ok(why: &str) -> Response {
        let headers = vec![("cache-control".to_owned(), "no-store".to_owned())];
        Response { status: 200, headers, body: String::new(), log: format!("jwtgate: {why}") }
    }

    /// The `set-cookie` values, for tests and hosts that set them one by one.
    pub fn cookies(&self) -> impl Iterator<Item = &str> {
        self.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str())
    }
}

/// Minimal HTML escaping for the fixed texts (and an `error` code from the IdP).
pub fn escape(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| match c {
            '<' => "&lt;".to_owned(),
            '>' => "&gt;".to_owned(),
            '&' => "&amp;".to_owned(),
            '"' => "&quot;".to_owned(),
            '\'' => "&#39;".to_owned(),
            c => c.to_string(),
        })
        .collect()
}
