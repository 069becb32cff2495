//! The HTTP context on the mock host: what a request gets before and after keys.

use crate::mock_host::with;
use crate::root::test_support::{configured_vm, deliver_jwks, request, token};
use proxy_wasm::types::Action;

#[test]
fn an_allowed_request_gets_the_identity_headers_and_loses_client_copies() {
    let mut root = configured_vm(1);
    deliver_jwks(&mut root);
    with(|h| h.requests.clear());
    let (_ctx, action) = request(&root, 3, &token(), &[("x-jwt-sub", "mallory")]);
    assert_eq!(action, Action::Continue);
    assert_eq!(with(|h| h.header(3, "x-jwt-sub")), Some("alice".into()));
    assert_eq!(with(|h| h.metric("allowed")), 1);
}

#[test]
fn a_bad_token_gets_a_401_local_reply_and_never_reaches_the_upstream() {
    let mut root = configured_vm(1);
    deliver_jwks(&mut root);
    let mut forged = token();
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    let (_ctx, action) = request(&root, 4, &forged, &[]);
    assert_eq!(action, Action::Pause);
    let replies = with(|h| h.replies.clone());
    assert_eq!(replies.iter().map(|r| (r.context, r.status)).collect::<Vec<_>>(), vec![(4, 401)]);
    assert!(with(|h| h.resumed.is_empty()));
}

#[test]
fn a_held_request_streams_no_body_until_decided() {
    let mut root = configured_vm(1);
    let (mut ctx, action) = request(&root, 5, &token(), &[]);
    assert_eq!(action, Action::Pause);
    assert_eq!(ctx.on_http_request_body(10, false), Action::Pause, "held: no body upstream");
    assert_eq!(ctx.on_http_request_trailers(0), Action::Pause);
    deliver_jwks(&mut root);
    assert_eq!(with(|h| h.resumed.clone()), vec![5]);
    assert_eq!(ctx.on_http_request_body(10, true), Action::Continue, "decided: the body may flow");
}
