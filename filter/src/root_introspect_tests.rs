//! Introspection through the filter on the mock host: a held request, one POST per
//! token through the cluster with the form body and client authentication, no
//! shared-data channel, and the held request decided from the answer.

use crate::mock_host::with;
use crate::root::tests::{dispatched, request_with, respond};
use crate::root::Root;
use proxy_wasm::traits::RootContext;
use proxy_wasm::types::Action;

const OPAQUE: &str = "opaqueAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn vm() -> Root {
    let config = serde_json::json!({
        "startup_hold_ms": 2000,
        "providers": {"o": {
            "issuer": "https://iss.example",
            "audiences": ["api"],
            "validation": "introspection",
            "introspection": {
                "cluster": "idp", "path": "/token/introspection", "authority": "idp.example",
                "client_id": "gate", "client_secret": "s", "timeout_ms": 1000
            }
        }},
        "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "o"}}]
    });
    with(|h| h.plugin_config = Some(config.to_string().into_bytes()));
    let mut root = Root::new(1);
    assert!(root.on_configure(0), "configures: {:?}", with(|h| h.logs.clone()));
    root
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
