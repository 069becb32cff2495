//! The root and HTTP contexts on the mock host (`mock_host.rs`): the real filter code,
//! the real proxy-wasm hostcalls, an in-memory Envoy.

use super::*;
use crate::mock_host::{with, Dispatched};
use jwt_simple::prelude::*;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::Action;

pub(crate) const JWKS: &str = include_str!("../../core/testdata/rsa2048.jwks.json");
const PEM: &str = include_str!("../../core/testdata/rsa2048.pem");
const HOLD_MS: u64 = 2000;

fn config(authority: &str) -> String {
    serde_json::json!({
        "startup_hold_ms": HOLD_MS,
        "providers": {"p": {
            "issuer": "https://iss.example",
            "audiences": ["api"],
            "jwks": {
                "cluster": "idp", "path": "/jwks", "authority": authority,
                "refresh_interval_s": 300, "min_refresh_interval_s": 30, "timeout_ms": 1000,
                "max_stale_s": 600, "kid_refetch_cooldown_s": 30
            }
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "p"}}]
    })
    .to_string()
}

/// A VM of the plugin: its root context, configured. Every VM of a test shares the
/// thread's shared data, as the VMs of one Envoy process do.
pub(crate) fn vm(id: u32, authority: &str) -> Root {
    with(|h| h.plugin_config = Some(config(authority).into_bytes()));
    let mut root = Root::new(id);
    assert!(root.on_configure(0), "configures: {:?}", with(|h| h.logs.clone()));
    root
}

pub(crate) fn token() -> String {
    let key = RS256KeyPair::from_pem(PEM).expect("test key").with_key_id("rsa-2048");
    let claims = Claims::create(jwt_simple::prelude::Duration::from_hours(1))
        .with_issuer("https://iss.example")
        .with_audience("api")
        .with_subject("alice");
    key.sign(claims).expect("signs")
}

/// A request on HTTP context `ctx`; returns the context and its first answer.
fn request(root: &Root, ctx: u32, token: &str) -> (Box<dyn HttpContext>, Action) {
    request_with(root, ctx, token, &[])
}

pub(crate) fn request_with(
    root: &Root,
    ctx: u32,
    token: &str,
    extra: &[(&str, &str)],
) -> (Box<dyn HttpContext>, Action) {
    let bearer = format!("Bearer {token}");
    let mut headers = vec![(":method", "GET"), (":path", "/api/x"), (":authority", "gate"), ("authorization", &bearer)];
    headers.extend_from_slice(extra);
    with(|h| {
        h.requests.insert(ctx, headers.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect());
        h.effective = ctx;
    });
    let mut http = root.create_http_context(ctx).expect("an HTTP context");
    let action = http.on_http_request_headers(4, true);
    (http, action)
}

pub(crate) fn respond(root: &mut Root, call: &Dispatched, status: u16, headers: &[(&str, &str)], body: &[u8]) {
    let mut map = vec![(":status".to_owned(), status.to_string())];
    map.extend(headers.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    with(|h| {
        h.call_response = Some((map, body.to_vec()));
        h.effective = 0;
    });
    root.on_http_call_response(call.token, map_len(headers), body.len(), 0);
}

fn map_len(headers: &[(&str, &str)]) -> usize {
    headers.len() + 1
}

pub(crate) fn dispatched() -> Vec<Dispatched> {
    with(|h| h.dispatched.clone())
}

fn advance(ms: u64) {
    with(|h| h.now_ms += ms);
}

#[test]
fn unconfigured_plugin_answers_503_and_never_allows() {
    with(|h| h.plugin_config = Some(b"{not json".to_vec()));
    let mut root = Root::new(1);
    assert!(!root.on_configure(0));
    assert!(with(|h| h.logs.iter().any(|(level, l)| *level == LogLevel::Critical as u32 && l.contains("jwtgate:"))));
    let (_ctx, action) = request(&root, 7, &token());
    assert_eq!(action, Action::Pause);
    let replies = with(|h| h.replies.clone());
    assert_eq!(replies.len(), 1);
    assert_eq!((replies[0].context, replies[0].status), (7, 503));
    assert!(String::from_utf8_lossy(&replies[0].body).contains("temporarily_unavailable"));
    assert!(with(|h| h.resumed.is_empty()));
}

#[test]
fn one_vm_fetches_under_the_lease_and_the_other_adopts_its_result() {
    let mut vm1 = vm(1, "tenant-a.example");
    let mut vm2 = vm(2, "tenant-a.example");
    vm1.on_tick();
    vm2.on_tick();
    let calls = dispatched();
    assert_eq!(calls.len(), 1, "one fetch for the process: {calls:?}");
    let call = &calls[0];
    assert_eq!(
        (call.upstream.as_str(), call.header(":path"), call.header(":authority")),
        ("idp", Some("/jwks"), Some("tenant-a.example"))
    );
    assert_eq!(call.header("if-none-match"), None, "nothing to validate on a cold start");
    assert_eq!((call.header(":method"), call.body.is_empty()), (Some("GET"), true));
    assert_eq!(call.header("accept"), Some("application/json, application/jwk-set+json"));
    assert!(with(|h| h.shared.keys().any(|k| k.starts_with("jwtgate/jwks/"))), "channels are named by document kind");
    // A request on VM 2 waits for keys.
    let (_held, action) = request(&vm2, 20, &token());
    assert_eq!(action, Action::Pause);
    assert!(with(|h| h.replies.is_empty()));
    assert_eq!(with(|h| h.metric("held_requests")), 1);

    advance(50);
    respond(&mut vm1, call, 200, &[("etag", "\"v1\"")], JWKS.as_bytes());
    assert_eq!(with(|h| h.metric("jwks_fetch_success")), 1);
    // VM 2 adopts on its next tick and resumes the held request, allowed.
    advance(150);
    vm2.on_tick();
    assert_eq!(with(|h| h.resumed.clone()), vec![20]);
    assert_eq!(with(|h| h.header(20, "x-jwt-sub")), Some("alice".into()));
    assert_eq!(dispatched().len(), 1, "VM 2 never fetched");
    assert!(with(|h| h.logged("(fetched by another VM)")));
}

#[test]
fn a_held_request_resumes_on_the_fetching_vm_when_the_answer_arrives() {
    let mut root = vm(1, "tenant-a.example");
    let (_held, action) = request(&root, 5, &token());
    assert_eq!(action, Action::Pause);
    root.on_tick();
    let call = dispatched().pop().expect("a fetch");
    respond(&mut root, &call, 200, &[], JWKS.as_bytes());
    assert_eq!(with(|h| h.resumed.clone()), vec![5]);
    assert_eq!(with(|h| h.header(5, "x-jwt-iss")), Some("https://iss.example".into()));
    assert_eq!(with(|h| h.effective), 1, "the root context is effective again afterwards");
}

#[test]
fn revisit_held_answers_503_once_the_hold_expires_without_keys() {
    let mut root = vm(1, "tenant-a.example");
    let (_held, _) = request(&root, 9, &token());
    root.on_tick();
    let call = dispatched().pop().expect("a fetch");
    advance(HOLD_MS / 2);
    root.on_tick();
    assert!(with(|h| h.replies.is_empty()), "still within the hold");
    respond(&mut root, &call, 500, &[], b"");
    assert!(with(|h| h.replies.is_empty()), "a failed fetch does not end the hold early");
    advance(HOLD_MS / 2);
    root.on_tick();
    let replies = with(|h| h.replies.clone());
    assert_eq!(replies.iter().map(|r| (r.context, r.status)).collect::<Vec<_>>(), vec![(9, 503)]);
    assert!(with(|h| h.resumed.is_empty()));
    // A request that ended (client reset) is not revisited.
    let (held, _) = request(&root, 10, &token());
    drop(held);
    advance(HOLD_MS);
    root.on_tick();
    assert_eq!(with(|h| h.replies.len()), 1);
}

#[test]
fn a_publish_that_loses_every_compare_and_swap_is_reported() {
    let mut root = vm(1, "tenant-a.example");
    with(|h| h.cas_loses_on = Some("/result".into()));
    root.on_tick();
    let call = dispatched().pop().expect("a fetch");
    // A record must exist for the CAS path: someone else keeps writing it.
    with(|h| {
        let key = h.shared.keys().find(|k| k.ends_with("/lease")).expect("a lease").replace("/lease", "/result");
        h.shared.insert(key, (b"junk".to_vec(), 1));
    });
    respond(&mut root, &call, 200, &[], JWKS.as_bytes());
    assert_eq!(with(|h| h.metric("jwks_publish_failed")), 1);
    assert!(with(|h| h
        .logs
        .iter()
        .any(|(level, l)| *level == LogLevel::Warn as u32 && l.contains("could not publish"))));
    // This VM still uses its own result.
    assert_eq!(with(|h| h.metric("jwks_fetch_success")), 1);
    let (_ctx, action) = request(&root, 3, &token());
    assert_eq!(action, Action::Continue);
}

#[test]
fn plugins_that_differ_only_in_authority_never_adopt_each_others_keys() {
    let mut tenant_a = vm(1, "tenant-a.example");
    let mut tenant_b = vm(2, "tenant-b.example");
    tenant_a.on_tick();
    let a_call = dispatched().pop().expect("tenant a fetches");
    respond(&mut tenant_a, &a_call, 200, &[], JWKS.as_bytes());
    // Tenant b's VM: same provider name, cluster and path; it must fetch its own.
    let (_held, action) = request(&tenant_b, 4, &token());
    assert_eq!(action, Action::Pause, "tenant a's keys are not tenant b's");
    tenant_b.on_tick();
    let calls = dispatched();
    assert_eq!(calls.len(), 2, "{calls:?}");
    assert_eq!(calls[1].header(":authority"), Some("tenant-b.example"));
    assert!(with(|h| h.resumed.is_empty()));
    let results = with(|h| h.shared.keys().filter(|k| k.ends_with("/result")).count());
    assert_eq!(results, 1, "only tenant a has published so far");
    respond(&mut tenant_b, &calls[1], 200, &[], JWKS.as_bytes());
    assert_eq!(with(|h| h.shared.keys().filter(|k| k.ends_with("/result")).count()), 2, "one record per identity");
    assert_eq!(with(|h| h.resumed.clone()), vec![4]);
}

#[test]
fn refreshes_send_the_validators_and_a_304_renews_the_keys() {
    let mut root = vm(1, "tenant-a.example");
    root.on_tick();
    let call = dispatched().pop().expect("cold fetch");
    let lm = "Tue, 01 Dec 2026 10:00:00 GMT";
    respond(&mut root, &call, 200, &[("etag", "\"v1\""), ("last-modified", lm)], JWKS.as_bytes());
    advance(330_000);
    root.on_tick();
    let refresh = dispatched().pop().expect("a scheduled refresh");
    assert_ne!(refresh.token, call.token);
    assert_eq!((refresh.header("if-none-match"), refresh.header("if-modified-since")), (Some("\"v1\""), Some(lm)));
    respond(&mut root, &refresh, 304, &[("etag", "\"v1\"")], b"");
    assert_eq!(with(|h| (h.metric("jwks_fetch_success"), h.metric("jwks_fetch_failed"))), (2, 0));
    // Past max_stale_s after the first load, the keys still serve: the 304 renewed them.
    advance(400_000);
    let (_ctx, action) = request(&root, 2, &token());
    assert_eq!(action, Action::Continue);
    // Another VM that starts now adopts the 304 as the confirmed document.
    let mut late = vm(3, "tenant-a.example");
    late.on_tick();
    let (_ctx, action) = request(&late, 8, &token());
    assert_eq!(action, Action::Continue, "{:?}", with(|h| h.replies.clone()));
}

#[test]
fn an_unsolicited_304_is_a_failed_fetch() {
    let mut root = vm(1, "tenant-a.example");
    root.on_tick();
    let call = dispatched().pop().expect("cold fetch");
    respond(&mut root, &call, 304, &[], b"");
    assert_eq!(with(|h| (h.metric("jwks_fetch_success"), h.metric("jwks_fetch_failed"))), (0, 1));
    assert!(with(|h| h.logged("304 to a request that sent no validator")));
}

#[test]
fn a_vm_adopting_an_old_record_dates_the_keys_from_the_fetch() {
    let mut vm1 = vm(1, "tenant-a.example");
    vm1.on_tick();
    let call = dispatched().pop().expect("cold fetch");
    respond(&mut vm1, &call, 200, &[], JWKS.as_bytes());
    // Ten minutes and a bit later (max_stale_s 600) a new VM adopts that record.
    advance(601_000);
    let mut vm2 = vm(2, "tenant-a.example");
    vm2.on_tick();
    let (_held, action) = request(&vm2, 6, &token());
    assert_eq!(action, Action::Pause, "the adopted keys are past max_stale_s: wait for a refresh");
    assert_eq!(dispatched().len(), 2, "and the adopting VM refreshes them");
}

#[test]
fn every_vm_decides_with_the_newest_published_keys_without_waiting_for_its_tick() {
    let mut vm1 = vm(1, "tenant-a.example");
    let vm2 = vm(2, "tenant-a.example");
    vm1.on_tick();
    let call = dispatched().pop().expect("cold fetch");
    respond(&mut vm1, &call, 200, &[], JWKS.as_bytes());
    // VM 2 has not ticked since: its request adopts the published keys first.
    let (_ctx, action) = request(&vm2, 11, &token());
    assert_eq!(action, Action::Continue);
    // The IdP rotates the key out; VM 1 fetches the new set. VM 2's very next request
    // must not be allowed with the key VM 1 already dropped.
    advance(330_000);
    vm1.on_tick();
    let refresh = dispatched().pop().expect("a scheduled refresh");
    let rotated = JWKS.replace("rsa-2048", "rsa-next");
    respond(&mut vm1, &refresh, 200, &[], rotated.as_bytes());
    let (_ctx, action) = request(&vm2, 12, &token());
    assert_eq!(action, Action::Pause, "the old kid is unknown now: held for a refetch, never allowed");
    assert!(!with(|h| h.resumed.contains(&12)));
}
