//! The host-call census of `make bench`: how many `proxy_*` host calls the filter makes
//! per request kind, counted by the mock host (`mock_host/`) around the real filter code.
//! Each host call crosses the wasm/host boundary (a V8 trampoline, a copy), so the count
//! is a large part of what a request costs beyond the core's own work.
//!
//! `cargo test -p jwtgate-filter --lib census -- --nocapture` prints one
//! `BENCH_HOSTCALLS {json}` line (bench/harness/hostcalls.py reads it). The mock host has
//! no `verify_signature` foreign function, so RS256 signatures are checked in software
//! here; on Envoy the native verifier adds one `proxy_call_foreign_function` to each
//! signature check (a unique or a forged token).

use crate::mock_host::with;
use crate::root::test_support::{configured_vm, deliver_jwks, request};
use jwt_simple::prelude::*;
use std::collections::BTreeMap;

const PEM: &str = include_str!("../../core/testdata/rsa2048.pem");

type Calls = BTreeMap<&'static str, u32>;

/// A token of the test issuer for `sub`: distinct subjects give distinct tokens.
fn token_for(sub: &str) -> String {
    let key = RS256KeyPair::from_pem(PEM).expect("test key").with_key_id("rsa-2048");
    let claims = Claims::create(jwt_simple::prelude::Duration::from_hours(1))
        .with_issuer("https://iss.example")
        .with_audience("api")
        .with_subject(sub);
    key.sign(claims).expect("signs")
}

/// The host calls of one request's life in the filter: request headers, then response
/// headers (where a report-only header would be set).
fn census(root: &crate::root::Root, ctx: u32, token: &str) -> Calls {
    with(|h| h.calls.clear());
    let (mut http, _) = request(root, ctx, token, &[]);
    http.on_http_response_headers(0, true);
    with(|h| std::mem::take(&mut h.calls))
}

fn total(calls: &Calls) -> u32 {
    calls.values().sum()
}

fn get(calls: &Calls, name: &str) -> u32 {
    calls.get(name).copied().unwrap_or(0)
}

#[test]
fn census_of_host_calls_per_request_kind() {
    let mut root = configured_vm(1);
    deliver_jwks(&mut root);
    let repeated = token_for("alice");
    let mut forged = token_for("mallory");
    forged.truncate(forged.len() - 4);
    forged.push_str("AAAA");
    // Steady state: the token is cached and every metric a kind counts is defined (a
    // metric's first use costs one `proxy_define_metric` more, once per VM).
    let _ = request(&root, 2, &repeated, &[]);
    let _ = request(&root, 7, &forged, &[]);
    let _ = request(&root, 8, "", &[]);
    let cached = census(&root, 3, &repeated);
    let unique = census(&root, 4, &token_for("bob"));
    let deny_bad_signature = census(&root, 5, &forged);
    let deny_no_token = census(&root, 6, "");

    for (kind, calls) in [("cached", &cached), ("unique", &unique)] {
        assert_eq!(get(calls, "proxy_send_local_response"), 0, "{kind} allow sends no reply: {calls:?}");
        assert_eq!(get(calls, "proxy_http_call"), 0, "{kind} allow fetches nothing: {calls:?}");
        assert_eq!(get(calls, "proxy_set_shared_data"), 0, "{kind} allow writes no shared data: {calls:?}");
        assert!(get(calls, "proxy_get_header_map_pairs") >= 1, "{kind} allow reads the headers: {calls:?}");
        // Only the key-set generation: with no login flow there is no logout list to read.
        assert_eq!(get(calls, "proxy_get_shared_data"), 1, "{kind} allow: {calls:?}");
    }
    // A cache hit makes the same header edits as a verification, and no more calls.
    assert_eq!(get(&cached, "proxy_replace_header_map_value"), get(&unique, "proxy_replace_header_map_value"));
    assert!(total(&cached) <= total(&unique), "cached {cached:?} vs unique {unique:?}");
    for (kind, calls) in [("bad signature", &deny_bad_signature), ("empty credential", &deny_no_token)] {
        assert_eq!(get(calls, "proxy_send_local_response"), 1, "{kind}: one 401: {calls:?}");
        assert_eq!(get(calls, "proxy_replace_header_map_value"), 0, "{kind}: no identity headers: {calls:?}");
        assert_eq!(get(calls, "proxy_define_metric"), 0, "{kind}: metrics defined once per VM: {calls:?}");
    }

    let doc = serde_json::json!({
        "cached_allow": cached, "unique_allow": unique,
        "deny_bad_signature": deny_bad_signature, "deny_empty_credential": deny_no_token,
    });
    println!("BENCH_HOSTCALLS {doc}");
}
