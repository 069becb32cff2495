//! Introspection through the filter on the mock host: a held request, one POST per
//! token through the cluster with the form body and client authentication, no
//! shared-data channel, and the held request decided from the answer. With
//! `shared_cache_size`, answers and calls in flight are shared by the VMs of a process.

use crate::mock_host::with;
use crate::root::tests::{dispatched, request_with, respond};
use crate::root::Root;
use proxy_wasm::traits::{HttpContext, RootContext};
use proxy_wasm::types::Action;

const OPAQUE: &str = "opaqueAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn vm() -> Root {
    vm_sharing(1, 0)
}

/// VM `id` of a process whose provider shares answers in `slots` slots (0: per VM).
fn vm_sharing(id: u32, slots: usize) -> Root {
    let config = serde_json::json!({
        "startup_hold_ms": 2000,
        "providers": {"o": {
            "issuer": "https://iss.example",
            "audiences": ["api"],
            "validation": "introspection",
            "introspection": {
                "cluster": "idp", "path": "/token/introspection", "authority": "idp.example",
                "client_id": "gate", "client_secret": "s", "timeout_ms": 1000,
                "shared_cache_size": slots
            }
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "o"}}]
    });
    with(|h| h.plugin_config = Some(config.to_string().into_bytes()));
    let mut root = Root::new(id);
    assert!(root.on_configure(0), "configures: {:?}", with(|h| h.logs.clone()));
    root
}

fn active_body() -> Vec<u8> {
    let exp = with(|h| h.now_ms) / 1000 + 300;
    format!(r#"{{"active":true,"iss":"https://iss.example","aud":"api","exp":{exp},"sub":"svc"}}"#).into_bytes()
}

/// The shared table's values, joined: what any VM of the process can read.
fn shared_bytes() -> Vec<u8> {
    with(|h| {
        h.shared
            .iter()
            .filter(|(k, _)| k.starts_with("jwtgate/introspection/"))
            .flat_map(|(_, v)| v.0.clone())
            .collect()
    })
}

/// Two sharing VMs, each holding a request (contexts 5 and 6) for the same opaque token:
/// VM 1 has dispatched the call, VM 2 has ticked once since. The contexts are returned
/// so they live as long as the test.
fn both_vms_asking() -> (Root, Root, [Box<dyn HttpContext>; 2]) {
    let mut vm1 = vm_sharing(1, 64);
    let mut vm2 = vm_sharing(2, 64);
    let (a, _) = request_with(&vm1, 5, OPAQUE, &[]);
    vm1.on_tick();
    let (b, _) = request_with(&vm2, 6, OPAQUE, &[]);
    vm2.on_tick();
    (vm1, vm2, [a, b])
}

#[test]
fn a_second_vm_adopts_the_answer_the_first_got_without_calling() {
    let mut vm1 = vm_sharing(1, 64);
    let mut vm2 = vm_sharing(2, 64);
    let (_a, first) = request_with(&vm1, 5, OPAQUE, &[]);
    assert_eq!(first, Action::Pause);
    vm1.on_tick();
    let calls = dispatched();
    assert_eq!(calls.len(), 1);
    respond(&mut vm1, &calls[0], 200, &[], &active_body());
    assert_eq!(with(|h| h.resumed.clone()), vec![5]);
    let table = shared_bytes();
    assert!(!table.is_empty(), "the answer is published");
    assert!(!table.windows(OPAQUE.len()).any(|w| w == OPAQUE.as_bytes()), "never the token itself");
    let (_b, second) = request_with(&vm2, 6, OPAQUE, &[]);
    assert_eq!(second, Action::Pause);
    vm2.on_tick();
    assert_eq!(dispatched().len(), 1, "VM 2 asked nobody");
    assert_eq!(with(|h| h.resumed.clone()), vec![5, 6]);
    assert_eq!(with(|h| h.header(6, "x-jwt-sub")), Some("svc".into()));
    assert_eq!(with(|h| h.metric("introspection_shared_hit")), 1);
}

#[test]
fn a_vm_waits_for_the_call_another_vm_has_in_flight() {
    let (mut vm1, mut vm2, _held) = both_vms_asking();
    assert_eq!(dispatched().len(), 1, "single-flight across VMs");
    assert_eq!(with(|h| h.tick_ms), Some(5), "VM 2 ticks fast while it waits");
    respond(&mut vm1, &dispatched()[0], 200, &[], &active_body());
    vm2.on_tick();
    assert_eq!(with(|h| h.resumed.clone()), vec![5, 6]);
    assert_eq!(dispatched().len(), 1);
    assert_eq!(with(|h| h.tick_ms), Some(200), "back to the normal tick");
}

#[test]
fn a_failed_call_frees_the_waiting_vm_to_ask_for_itself() {
    let (mut vm1, mut vm2, _held) = both_vms_asking();
    respond(&mut vm1, &dispatched()[0], 500, &[], b"");
    assert_eq!(with(|h| h.replies.iter().map(|r| (r.context, r.status)).collect::<Vec<_>>()), vec![(5, 503)]);
    vm2.on_tick();
    assert_eq!(dispatched().len(), 2, "a failure is not shared: VM 2 calls itself");
    respond(&mut vm2, &dispatched()[1], 200, &[], &active_body());
    assert_eq!(with(|h| h.resumed.clone()), vec![6]);
}

#[test]
fn a_lost_call_holds_the_other_vms_only_until_its_lease_ends() {
    let (_vm1, mut vm2, _held) = both_vms_asking();
    assert_eq!(dispatched().len(), 1);
    with(|h| h.now_ms += 2_001); // timeout_ms 1000 + 1000
    vm2.on_tick();
    assert_eq!(dispatched().len(), 2);
}

#[test]
fn concurrent_requests_share_one_post_and_resume_on_its_answer() {
    let mut root = vm();
    let (_a, first) = request_with(&root, 5, OPAQUE, &[]);
    let (_b, second) = request_with(&root, 6, OPAQUE, &[]);
    assert_eq!((first, second), (Action::Pause, Action::Pause));
    assert_eq!(with(|h| h.tick_ms), Some(2), "the held request asks for the next tick now");
    root.on_tick();
    assert_eq!(with(|h| h.tick_ms), Some(200), "back to the normal tick once the call is out");
    root.on_tick();
    let calls = dispatched();
    assert_eq!(calls.len(), 1, "single-flight across the held requests");
    let call = &calls[0];
    assert_eq!(call.upstream, "idp");
    assert_eq!(call.header(":method"), Some("POST"));
    assert_eq!(call.header(":path"), Some("/token/introspection"));
    assert_eq!(call.header("content-type"), Some("application/x-www-form-urlencoded"));
    assert_eq!(call.header("authorization"), Some("Basic Z2F0ZTpz"));
    assert_eq!(call.body, format!("token={OPAQUE}&token_type_hint=access_token").into_bytes());
    assert!(with(|h| h.shared.keys().all(|k| !k.contains("introspection"))), "per VM: no shared-data channel");
    let exp = with(|h| h.now_ms) / 1000 + 300;
    let body = format!(r#"{{"active":true,"iss":"https://iss.example","aud":"api","exp":{exp},"sub":"svc"}}"#);
    respond(&mut root, call, 200, &[], body.as_bytes());
    assert_eq!(with(|h| h.resumed.clone()), vec![5, 6]);
    assert_eq!(with(|h| h.header(6, "x-jwt-sub")), Some("svc".into()));
    assert_eq!(with(|h| h.metric("introspection_fetch_success")), 1);
    assert!(with(|h| h.logged("introspection of token")) && !with(|h| h.logged(OPAQUE)), "logged by hash only");
}
