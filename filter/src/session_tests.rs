//! Browser sessions on the mock host: local responses with repeated `Set-Cookie`, and a
//! back-channel logout received by one VM refusing the session's tokens on another.

use crate::mock_host::with;
use crate::root::test_support::deliver_jwks;
use crate::root::Root;
use jwt_simple::prelude::*;
use proxy_wasm::traits::{HttpContext, RootContext};
use proxy_wasm::types::Action;

const PEM: &str = include_str!("../../core/testdata/rsa2048.pem");
const EVENT: &str = "http://schemas.openid.net/event/backchannel-logout";

fn config() -> String {
    serde_json::json!({
        "providers": {"p": {
            "issuer": "https://iss.example", "audiences": ["api"],
            "jwks": {"cluster": "idp", "path": "/jwks", "authority": "idp", "refresh_interval_s": 300, "timeout_ms": 1000},
            "revocation": {"inline": [{"jti": "unused", "exp": 4102444800u64}]},
            "login": {
                "client_id": "bff", "client_secret": "s",
                "authorization_endpoint": "https://iss.example/auth",
                "token": {"cluster": "idp", "path": "/token"},
                "origins": ["https://gate"], "redirect_path": "/app/callback", "logout_path": "/app/logout",
                "backchannel_logout_path": "/app/bcl",
                "cookie": {"keys": ["AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"]}
            }
        }},
        "rules": [{"match": {"prefix": "/app/"}, "requires": {"provider": "p"}, "browser": true}]
    })
    .to_string()
}

fn vm(id: u32) -> Root {
    with(|h| h.plugin_config = Some(config().into_bytes()));
    let mut root = Root::new(id);
    assert!(root.on_configure(0), "configures: {:?}", with(|h| h.logs.clone()));
    root
}

fn sign(claims: JWTClaims<serde_json::Value>) -> String {
    RS256KeyPair::from_pem(PEM).expect("key").with_key_id("rsa-2048").sign(claims).expect("signs")
}

fn access_token() -> String {
    let c = Claims::with_custom_claims(serde_json::json!({"sid": "s-1"}), Duration::from_hours(1));
    sign(c.with_issuer("https://iss.example").with_audience("api").with_subject("alice"))
}

fn logout_token() -> String {
    let c =
        Claims::with_custom_claims(serde_json::json!({"sid": "s-1", "events": {EVENT: {}}}), Duration::from_mins(2));
    sign(c.with_issuer("https://iss.example").with_audience("bff").with_jwt_id("j-1"))
}

fn send(root: &Root, ctx: u32, headers: &[(&str, &str)], body: Option<&[u8]>) -> (Box<dyn HttpContext>, Action) {
    with(|h| {
        h.requests.insert(ctx, headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        h.effective = ctx;
        h.request_body = body.map(<[u8]>::to_vec);
    });
    let mut http = root.create_http_context(ctx).expect("an HTTP context");
    let mut action = http.on_http_request_headers(headers.len(), body.is_none());
    if let (Action::Pause, Some(b)) = (action, body) {
        action = http.on_http_request_body(b.len(), true);
    }
    (http, action)
}

fn status_of(ctx: u32) -> Option<u32> {
    with(|h| h.replies.iter().rev().find(|r| r.context == ctx).map(|r| r.status))
}

#[test]
fn a_page_load_without_session_is_redirected_locally() {
    let mut root = vm(1);
    deliver_jwks(&mut root);
    let h = [(":method", "GET"), (":path", "/app/"), (":authority", "gate"), ("accept", "text/html")];
    let (_ctx, action) = send(&root, 7, &h, None);
    assert_eq!((action, status_of(7)), (Action::Pause, Some(302)));
    assert_eq!(with(|h| h.metric("session_responses.302")), 1);
}

#[test]
fn a_back_channel_logout_on_one_vm_refuses_the_session_on_another() {
    let mut vm1 = vm(1);
    let mut vm2 = vm(2);
    deliver_jwks(&mut vm1);
    vm2.on_tick(); // adopts the key set VM 1 fetched
    let bearer = format!("Bearer {}", access_token());
    let api = [(":method", "GET"), (":path", "/app/api"), (":authority", "gate"), ("authorization", bearer.as_str())];
    assert_eq!(send(&vm2, 10, &api, None).1, Action::Continue, "allowed before the logout");

    let body = format!("logout_token={}", logout_token());
    let post = [(":method", "POST"), (":path", "/app/bcl"), (":authority", "gate")];
    let (_ctx, action) = send(&vm1, 11, &post, Some(body.as_bytes()));
    assert_eq!((action, status_of(11)), (Action::Pause, Some(200)), "{:?}", with(|h| h.logs.clone()));
    let bad = send(&vm1, 12, &post, Some(b"logout_token=a.b.c"));
    assert_eq!((bad.1, status_of(12)), (Action::Pause, Some(400)));

    // VM 2 applies the shared record before its next decision.
    let (_ctx, action) = send(&vm2, 13, &api, None);
    assert_eq!((action, status_of(13)), (Action::Pause, Some(401)));
    assert!(with(|h| h.logs.iter().all(|(_, l)| !l.contains(&logout_token()[..40]))), "no token in logs");
}
