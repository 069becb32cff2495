//! Helpers the HTTP context's tests share with the root's (test builds only).

use super::tests::{dispatched, request_with, respond};
pub(crate) use super::tests::{token, vm};
use super::Root;
use proxy_wasm::traits::{HttpContext, RootContext};
use proxy_wasm::types::Action;

pub fn configured_vm(id: u32) -> Root {
    vm(id, "tenant-a.example")
}

/// Runs the due fetch and answers it with the test JWKS.
pub fn deliver_jwks(root: &mut Root) {
    root.on_tick();
    let call = dispatched().pop().expect("a JWKS fetch");
    respond(root, &call, 200, &[], super::tests::JWKS.as_bytes());
}

pub fn request(root: &Root, ctx: u32, token: &str, extra: &[(&str, &str)]) -> (Box<dyn HttpContext>, Action) {
    request_with(root, ctx, token, extra)
}
