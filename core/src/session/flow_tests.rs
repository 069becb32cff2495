//! The browser flow end to end through `Gate::decide` / `poll_fetches` /
//! `on_fetch_result`, with the token endpoint answered by hand.

use crate::decision::Decision;
use crate::fetched::{DocKind, FetchResult};
use crate::session::cookie::{self, Purpose};
use crate::session::{Attempt, Response, Session};
use crate::test_support::*;
use serde_json::json;

const ORIGIN: &str = "https://app.example";
const KEY: [u8; 32] = [1; 32];
const OLD_KEY: [u8; 32] = [2; 32];

fn login_world(edit: impl FnOnce(&mut serde_json::Value)) -> World {
    world_with(|c| {
        c["providers"]["a"]["login"] = json!({
            "client_id": "bff", "client_secret": "s3cret",
            "authorization_endpoint": "https://idp-a.example/auth",
            "token": {"uri": "https://idp-a.example/token", "cluster": "idp"},
            "end_session_endpoint": "https://idp-a.example/session/end",
            "origins": [ORIGIN], "redirect_path": "/app/callback", "logout_path": "/app/logout",
            "post_logout_redirect": "/app/", "scopes": ["openid", "offline_access"], "refresh_before_s": 30,
            "csrf_header": "x-csrf",
            "cookie": {"name": "__Host-s", "keys": [crate::b64::encode(&KEY), crate::b64::encode(&OLD_KEY)]}
        });
        let rules = c["rules"].as_array_mut().expect("rules");
        rules.push(json!({"match": {"prefix": "/app/"}, "requires": {"provider": "a"}, "browser": true}));
        edit(c);
    })
}

fn page(path: &str, extra: &[(&str, &str)]) -> Req {
    let mut h = vec![("host", "app.example"), ("accept", "text/html,application/xhtml+xml")];
    h.extend_from_slice(extra);
    req("GET", path, &h)
}

fn responded(d: Decision) -> Response {
    match d {
        Decision::Respond(r) => *r,
        other => panic!("expected a local response, got {other:?}"),
    }
}

fn header<'r>(r: &'r Response, name: &str) -> &'r str {
    r.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).expect("header present")
}

fn query(url: &str, name: &str) -> String {
    let q = url.split_once('?').expect("query").1;
    let v = q.split('&').find_map(|p| p.strip_prefix(&format!("{name}="))).expect("param");
    super::decode(v)
}

fn cookie_value<'r>(r: &'r Response, name: &str) -> &'r str {
    let c = r.cookies().find(|c| c.starts_with(&format!("{name}="))).expect("cookie set");
    c[name.len() + 1..].split(';').next().expect("value")
}

fn attempt_of(r: &Response) -> Attempt {
    let sealed = cookie_value(r, "__Host-s-login");
    let plain = cookie::open(&[KEY], Purpose::Login, "__Host-s-login", "a", sealed).expect("opens");
    serde_json::from_slice(&plain).expect("attempt")
}

fn sealed_session(s: &Session, key: &[u8; 32]) -> String {
    cookie::seal(key, [9; 12], Purpose::Session, "__Host-s", "a", &serde_json::to_vec(s).expect("json"))
}

fn session(w: &World, exp_in_s: u64) -> Session {
    let at = es256_token(&w.ec_a, &payload(json!({"exp": NOW_S + exp_in_s, "sid": "sid-1"})));
    Session { at, rt: Some("rt-1".into()), it: Some("idt".into()), exp: NOW_S + exp_in_s, iat: NOW_S - 60 }
}

fn id_token(w: &World, nonce: &str, changes: serde_json::Value) -> String {
    let mut p = payload(json!({"aud": "bff", "nonce": nonce, "sid": "sid-1"}));
    for (k, v) in changes.as_object().expect("object") {
        p[k] = v.clone();
    }
    es256_token(&w.ec_a, &p)
}

/// Starts a login, calls back with `code`, answers the token call with `id_token`
/// made by `id` from the attempt's nonce; the final decision.
fn login_with(w: &mut World, id: impl FnOnce(&World, &str) -> String) -> (Decision, Attempt, String) {
    let start = responded(decide(w, &page("/app/orders?x=1", &[])));
    let a = attempt_of(&start);
    let login_cookie = format!("__Host-s-login={}", cookie_value(&start, "__Host-s-login"));
    let cb = page(&format!("/app/callback?code=c0de&state={}", a.state), &[("cookie", &login_cookie)]);
    assert!(matches!(decide(w, &cb), Decision::NeedKeys { provider: 0 }));
    let calls = w.gate.poll_fetches(NOW_MS);
    let call = calls.iter().find(|f| matches!(f.doc.kind, DocKind::Token(_))).expect("token call");
    let body = String::from_utf8(call.body.clone()).expect("form");
    assert!(body.contains("grant_type=authorization_code") && body.contains("code=c0de"));
    assert!(body.contains(&format!("code_verifier={}", a.verifier)));
    assert!(call.headers.iter().any(|(k, v)| k == "authorization" && v.starts_with("Basic ")));
    // Single-flight: a second callback while the call runs starts nothing new.
    assert!(matches!(decide(w, &cb), Decision::NeedKeys { .. }));
    assert!(w.gate.poll_fetches(NOW_MS).iter().all(|f| !matches!(f.doc.kind, DocKind::Token(_))));
    let it = id(w, &a.nonce);
    let at = es256_token(&w.ec_a, &payload(json!({"sid": "sid-1"})));
    let answer =
        json!({"access_token": at, "refresh_token": "rt-1", "id_token": it, "token_type": "Bearer", "expires_in": 300});
    let answer = answer.to_string();
    w.gate.on_fetch_result(call.doc, NOW_MS, FetchResult::response(NOW_MS, 200, answer.as_bytes()));
    (decide(w, &cb), a, login_cookie)
}

#[test]
fn a_page_load_without_session_goes_to_the_idp_with_pkce_state_and_nonce() {
    let mut w = login_world(|_| {});
    let r = responded(decide(&mut w, &page("/app/orders?x=1", &[])));
    assert_eq!(r.status, 302);
    let loc = header(&r, "location");
    assert!(loc.starts_with("https://idp-a.example/auth?response_type=code&client_id=bff&"));
    assert_eq!(query(loc, "redirect_uri"), "https://app.example/app/callback");
    assert_eq!(query(loc, "scope"), "openid offline_access");
    assert_eq!(query(loc, "code_challenge_method"), "S256");
    let a = attempt_of(&r);
    assert_eq!((query(loc, "state"), query(loc, "nonce")), (a.state.clone(), a.nonce.clone()));
    assert_eq!(query(loc, "code_challenge"), super::s::pkce_challenge(&a.verifier));
    assert_eq!((a.to.as_str(), a.verifier.len()), ("/app/orders?x=1", 43));
    let c = r.cookies().next().expect("login cookie");
    assert!(c.contains("HttpOnly") && c.contains("Secure") && c.contains("SameSite=Lax") && c.contains("Max-Age=600"));
    // Fresh values each time.
    let again = attempt_of(&responded(decide(&mut w, &page("/app/", &[]))));
    assert_ne!(again.state, a.state);
}

#[test]
fn api_calls_get_401_and_bearer_tokens_still_work_on_browser_routes() {
    let mut w = login_world(|_| {});
    let xhr = req("GET", "/app/api", &[("host", "app.example"), ("accept", "application/json")]);
    assert_eq!(denied(decide(&mut w, &xhr)).status, 401);
    let post = req("POST", "/app/api", &[("host", "app.example"), ("accept", "text/html")]);
    assert_eq!(denied(decide(&mut w, &post)).status, 401);
    let token = es256_token(&w.ec_a, &payload(json!({})));
    allowed(decide(&mut w, &bearer("/app/api", &token)));
}

#[test]
fn an_unknown_host_is_refused_before_any_redirect() {
    let mut w = login_world(|_| {});
    let r = req("GET", "/app/", &[("host", "evil.example"), ("accept", "text/html")]);
    assert_eq!(responded(decide(&mut w, &r)).status, 400);
}

#[test]
fn a_full_login_sets_the_session_and_returns_to_the_page() {
    let mut w = login_world(|_| {});
    let (d, _, _) = login_with(&mut w, |w, nonce| id_token(w, nonce, json!({})));
    let r = responded(d);
    assert_eq!((r.status, header(&r, "location")), (302, "https://app.example/app/orders?x=1"));
    assert!(r.cookies().any(|c| c.starts_with("__Host-s-login=;") && c.contains("Max-Age=0")));
    let s = cookie_value(&r, "__Host-s");
    let plain = cookie::open(&[KEY], Purpose::Session, "__Host-s", "a", s).expect("session opens");
    let session: Session = serde_json::from_slice(&plain).expect("session");
    assert_eq!((session.rt.as_deref(), session.exp), (Some("rt-1"), NOW_S + 300));
    // The session works like a bearer token, and its cookies never go upstream.
    let cookie = format!("other=1; __Host-s={s}");
    let a = allowed(decide(&mut w, &page("/app/orders", &[("cookie", &cookie)])));
    assert_eq!(set(&a, "x-jwt-sub"), Some("user-1"));
    assert_eq!(set(&a, "cookie"), Some("other=1"));
    assert!(a.response_headers.is_empty(), "no refresh needed, no cookie set");
}

#[test]
fn a_replayed_state_is_refused() {
    let mut w = login_world(|_| {});
    let (d, a, login_cookie) = login_with(&mut w, |w, nonce| id_token(w, nonce, json!({})));
    assert_eq!(responded(d).status, 302);
    let cb = page(&format!("/app/callback?code=c0de&state={}", a.state), &[("cookie", &login_cookie)]);
    let r = responded(decide(&mut w, &cb));
    assert_eq!(r.status, 400);
    assert!(r.body.contains("replayed state"));
}

#[test]
fn a_mismatched_nonce_or_a_foreign_id_token_is_refused() {
    for (changes, why) in [
        (json!({"nonce": "other"}), "nonce"),
        (json!({"iss": ISS_B}), "issuer"),
        (json!({"aud": "someone-else"}), "not for this client"),
        (json!({"exp": NOW_S - 3600}), "expired"),
    ] {
        let mut w = login_world(|_| {});
        let (d, _, _) = login_with(&mut w, |w, nonce| {
            let mut c = changes.clone();
            if c.get("nonce").is_none() {
                c["nonce"] = json!(nonce);
            }
            id_token(w, nonce, c)
        });
        let r = responded(d);
        assert_eq!(r.status, 400, "{why}");
        assert!(r.body.contains(why), "{why}: {}", r.body);
        assert!(r.cookies().all(|c| !c.starts_with("__Host-s=")), "no session for {why}");
    }
}

#[test]
fn an_id_token_signed_by_another_key_is_refused() {
    let mut w = login_world(|_| {});
    let (d, _, _) =
        login_with(&mut w, |w, nonce| es256_token(&w.ec_b, &payload(json!({"aud": "bff", "nonce": nonce}))));
    assert_eq!(responded(d).status, 400);
}

#[test]
fn callbacks_without_a_matching_pending_login_are_refused() {
    let mut w = login_world(|_| {});
    let start = responded(decide(&mut w, &page("/app/", &[])));
    let login_cookie = format!("__Host-s-login={}", cookie_value(&start, "__Host-s-login"));
    let cases = [
        (page("/app/callback?error=access_denied", &[("cookie", &login_cookie)]), "access_denied"),
        (page("/app/callback?code=x&state=y", &[]), "no pending login"),
        (page("/app/callback?code=x&state=wrong", &[("cookie", &login_cookie)]), "does not match"),
        (page("/app/callback?code=x&state=y", &[("cookie", "__Host-s-login=AAAA")]), "no pending login"),
    ];
    for (r, why) in cases {
        let out = responded(decide(&mut w, &r));
        assert_eq!(out.status, 400, "{why}");
        assert!(out.body.contains(why), "{why}: {}", out.body);
    }
    assert!(w.gate.poll_fetches(NOW_MS).iter().all(|f| !matches!(f.doc.kind, DocKind::Token(_))));
}

#[test]
fn the_return_url_is_never_another_origin() {
    let mut w = login_world(|_| {});
    let (_, a, _) = login_with(&mut w, |w, nonce| id_token(w, nonce, json!({})));
    // A login cookie (sealed with the real key, as if the gate had a bug) naming `//evil`.
    let evil = Attempt { state: "st".into(), to: "//evil.example/x".into(), iat: NOW_S, ..a };
    let sealed =
        cookie::seal(&KEY, [3; 12], Purpose::Login, "__Host-s-login", "a", &serde_json::to_vec(&evil).expect("json"));
    let cb = page("/app/callback?code=c2&state=st", &[("cookie", &format!("__Host-s-login={sealed}"))]);
    assert!(matches!(decide(&mut w, &cb), Decision::NeedKeys { .. }));
    let call = w.gate.poll_fetches(NOW_MS).into_iter().find(|f| matches!(f.doc.kind, DocKind::Token(_))).expect("call");
    let it = id_token(&w, &evil.nonce, json!({}));
    let answer = json!({"access_token": "x.y.z", "id_token": it, "token_type": "bearer"}).to_string();
    w.gate.on_fetch_result(call.doc, NOW_MS, FetchResult::response(NOW_MS, 200, answer.as_bytes()));
    let r = responded(decide(&mut w, &cb));
    assert_eq!(header(&r, "location"), "https://app.example/");
}

#[test]
fn an_oversized_session_is_refused_with_a_clear_page() {
    let mut w = login_world(|c| c["providers"]["a"]["login"]["cookie"]["max_bytes"] = json!(1000));
    let (d, _, _) = login_with(&mut w, |w, nonce| id_token(w, nonce, json!({"pad": "x".repeat(2000)})));
    let r = responded(d);
    assert_eq!(r.status, 400);
    assert!(r.body.contains("max_bytes"));
}

#[test]
fn tampered_expired_and_foreign_cookies_mean_no_session() {
    let mut w = login_world(|_| {});
    let good = sealed_session(&session(&w, 600), &KEY);
    let mut tampered = good.clone().into_bytes();
    tampered[20] = if tampered[20] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let mut old = session(&w, 600);
    old.iat = NOW_S - 9 * 3600; // past max_age_s (8 h)
    let expired = sealed_session(&old, &KEY);
    let plain = serde_json::to_vec(&session(&w, 600)).expect("json");
    let foreign_provider = cookie::seal(&KEY, [9; 12], Purpose::Session, "__Host-s", "b", &plain);
    let foreign_purpose = cookie::seal(&KEY, [9; 12], Purpose::Login, "__Host-s", "a", &plain);
    let unknown_key = sealed_session(&session(&w, 600), &[7; 32]);
    for bad in [tampered, expired, foreign_provider, foreign_purpose, unknown_key, "garbage~".into()] {
        let c = format!("__Host-s={bad}");
        assert_eq!(responded(decide(&mut w, &page("/app/", &[("cookie", &c)]))).status, 302);
        let xhr = req("GET", "/app/api", &[("host", "app.example"), ("cookie", &c)]);
        assert_eq!(denied(decide(&mut w, &xhr)).status, 401);
    }
    // The previous key still opens (rotation); the current one of course.
    for key in [KEY, OLD_KEY] {
        let c = format!("__Host-s={}", sealed_session(&session(&w, 600), &key));
        allowed(decide(&mut w, &page("/app/", &[("cookie", &c)])));
    }
}

#[test]
fn state_changing_requests_need_same_origin_proof() {
    let mut w = login_world(|_| {});
    let c = format!("__Host-s={}", sealed_session(&session(&w, 600), &KEY));
    let post = |extra: &[(&str, &str)]| {
        let mut h = vec![("host", "app.example"), ("cookie", c.as_str())];
        h.extend_from_slice(extra);
        req("POST", "/app/api/orders", &h)
    };
    for refused in [
        post(&[]),
        post(&[("origin", "https://evil.example")]),
        post(&[("origin", "null")]),
        post(&[("sec-fetch-site", "cross-site")]),
    ] {
        let r = responded(decide(&mut w, &refused));
        assert_eq!((r.status, r.body.contains("csrf")), (403, true));
    }
    for ok in [post(&[("origin", ORIGIN)]), post(&[("sec-fetch-site", "same-origin")]), post(&[("x-csrf", "1")])] {
        allowed(decide(&mut w, &ok));
    }
}

#[test]
fn a_refresh_is_single_flight_and_resets_the_cookie() {
    let mut w = login_world(|_| {});
    let c = format!("__Host-s={}", sealed_session(&session(&w, 10), &KEY));
    let r = page("/app/", &[("cookie", &c)]);
    assert!(matches!(decide(&mut w, &r), Decision::NeedKeys { .. }));
    assert!(matches!(decide(&mut w, &r), Decision::NeedKeys { .. }));
    let calls: Vec<_> =
        w.gate.poll_fetches(NOW_MS).into_iter().filter(|f| matches!(f.doc.kind, DocKind::Token(_))).collect();
    assert_eq!(calls.len(), 1, "one refresh for two waiting requests");
    let body = String::from_utf8(calls[0].body.clone()).expect("form");
    assert!(body.contains("grant_type=refresh_token") && body.contains("refresh_token=rt-1"));
    let at = es256_token(&w.ec_a, &payload(json!({"jti": "new"})));
    let answer =
        json!({"access_token": at, "refresh_token": "rt-2", "token_type": "Bearer", "expires_in": 300}).to_string();
    w.gate.on_fetch_result(calls[0].doc, NOW_MS, FetchResult::response(NOW_MS, 200, answer.as_bytes()));
    for _ in 0..2 {
        let a = allowed(decide(&mut w, &r));
        let set_cookie = a.response_headers.iter().find(|(k, _)| k == "set-cookie").expect("cookie re-set");
        let v = set_cookie.1.strip_prefix("__Host-s=").expect("session").split(';').next().expect("v");
        let s: Session =
            serde_json::from_slice(&cookie::open(&[KEY], Purpose::Session, "__Host-s", "a", v).expect("opens"))
                .expect("json");
        assert_eq!((s.at.as_str(), s.rt.as_deref()), (at.as_str(), Some("rt-2")));
    }
}

#[test]
fn a_rotated_refresh_token_keeps_serving_until_the_access_token_expires() {
    for (exp_in_s, still_valid) in [(10, true), (0, false)] {
        let mut w = login_world(|_| {});
        let c = format!("__Host-s={}", sealed_session(&session(&w, exp_in_s), &KEY));
        let r = req("GET", "/app/api", &[("host", "app.example"), ("cookie", &c)]);
        assert!(matches!(decide(&mut w, &r), Decision::NeedKeys { .. }));
        let call =
            w.gate.poll_fetches(NOW_MS).into_iter().find(|f| matches!(f.doc.kind, DocKind::Token(_))).expect("call");
        let answer = br#"{"error":"invalid_grant"}"#;
        w.gate.on_fetch_result(call.doc, NOW_MS, FetchResult::response(NOW_MS, 400, answer));
        match decide(&mut w, &r) {
            Decision::Allow(a) => assert!(still_valid && a.response_headers.is_empty()),
            Decision::Respond(resp) => assert!(!still_valid && resp.status == 401, "{resp:?}"),
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[test]
fn logout_clears_the_cookies_and_ends_the_idp_session() {
    let mut w = login_world(|_| {});
    let c = format!("__Host-s={}", sealed_session(&session(&w, 600), &KEY));
    let r = responded(decide(&mut w, &page("/app/logout", &[("cookie", &c)])));
    let loc = header(&r, "location");
    assert!(loc.starts_with("https://idp-a.example/session/end?id_token_hint=idt&"));
    assert_eq!(query(loc, "post_logout_redirect_uri"), "https://app.example/app/");
    assert!(r.cookies().any(|c| c.starts_with("__Host-s=;") && c.contains("Max-Age=0")));
    let cross =
        req("POST", "/app/logout", &[("host", "app.example"), ("origin", "https://evil.example"), ("cookie", &c)]);
    assert_eq!(responded(decide(&mut w, &cross)).status, 403);
}

#[test]
fn a_long_session_is_split_over_cookies_and_joined_again() {
    let mut w = login_world(|_| {});
    let (d, _, _) = login_with(&mut w, |w, nonce| id_token(w, nonce, json!({"pad": "x".repeat(3000)})));
    let r = responded(d);
    assert_eq!(r.status, 302, "{}", r.body);
    let pairs: Vec<String> = r
        .cookies()
        .filter(|c| c.starts_with("__Host-s=") || c.starts_with("__Host-s.1="))
        .map(|c| c.split(';').next().expect("pair").to_owned())
        .collect();
    assert_eq!(pairs.len(), 2, "split in two: {:?}", r.cookies().collect::<Vec<_>>());
    assert!(pairs[0].starts_with("__Host-s=2~"));
    let a = allowed(decide(&mut w, &page("/app/", &[("cookie", &pairs.join("; "))])));
    assert_eq!(set(&a, "cookie"), None, "no gate cookie goes upstream");
    assert!(a.remove.iter().any(|h| h == "cookie"));
    // Without its second part the session does not open.
    assert_eq!(responded(decide(&mut w, &page("/app/", &[("cookie", &pairs[0])]))).status, 302);
}
