//! The introspection cache on its own: single-flight, TTLs, failures, eviction.

use super::*;
use crate::cache::Proof;
use crate::config::ClientAuth;

fn slot(f: &FetchRequest) -> u64 {
    match f.doc.kind {
        DocKind::Introspection(slot) => slot,
        other => panic!("{other:?}"),
    }
}

fn config() -> IntrospectionConfig {
    IntrospectionConfig {
        from_discovery: false,
        cluster: None,
        uri: Some("https://idp.example/introspect".into()),
        path: "/introspect".into(),
        authority: "idp.example".into(),
        timeout_ms: 2000,
        client_id: "gate".into(),
        auth: ClientAuth::SecretPost { secret: "s".into() },
        max_ttl_s: 60,
        negative_ttl_s: 5,
        stale_if_error_s: 0,
        max_body_bytes: 4096,
        cache_size: 8,
        shared_cache_size: 0,
    }
}

fn verified(exp_s: u64) -> Verified {
    Verified {
        provider: 0,
        exp_s,
        proof: Proof::Introspection,
        scopes: vec![],
        headers: vec![],
        claims: None,
        ids: None,
        cnf: Default::default(),
    }
}

const T0: u64 = 1_000_000_000;

fn no_jti() -> [u8; 16] {
    panic!("secret methods need no jti")
}

#[test]
fn one_call_per_token_until_answered() {
    let mut i = Introspector::new(config());
    let d = [7u8; 32];
    assert_eq!(i.lookup(&d, "tok", T0), Lookup::Waiting);
    assert_eq!(i.lookup(&d, "tok", T0 + 5), Lookup::Waiting);
    let calls = i.poll(0, T0, &mut no_jti);
    assert_eq!(calls.len(), 1);
    assert!(i.poll(0, T0, &mut no_jti).is_empty());
    let body = String::from_utf8(calls[0].body.clone()).expect("utf-8");
    assert_eq!(body, "token=tok&token_type_hint=access_token&client_id=gate&client_secret=s");
    let ev = i.on_result(slot(&calls[0]), T0 + 10, Some(200), br#"{"active":true}"#, |_| Ok(verified(T0 / 1000 + 600)));
    assert_eq!(ev, IntrospectionEvent::Active { token: crate::hex::encode(&d[..6]), ttl_s: 60 });
    assert!(matches!(i.lookup(&d, "tok", T0 + 20), Lookup::Active(_)));
    // A late or repeated answer to the same slot is dropped.
    assert_eq!(i.on_result(slot(&calls[0]), T0, Some(200), b"{}", |_| unreachable!()), IntrospectionEvent::Dropped);
}

#[test]
fn a_lost_call_is_asked_again_after_its_timeout() {
    let mut i = Introspector::new(config());
    let d = [1u8; 32];
    i.lookup(&d, "tok", T0);
    assert_eq!(i.poll(0, T0, &mut no_jti).len(), 1);
    assert_eq!(i.lookup(&d, "tok", T0 + 3000), Lookup::Waiting);
    assert!(i.poll(0, T0 + 3000, &mut no_jti).is_empty(), "within timeout + 1 s");
    i.lookup(&d, "tok", T0 + 3001);
    assert_eq!(i.poll(0, T0 + 3001, &mut no_jti).len(), 1, "given up on, asked again");
}

#[test]
fn a_failure_answers_unavailable_for_the_retry_interval() {
    let mut i = Introspector::new(config());
    let d = [2u8; 32];
    i.lookup(&d, "tok", T0);
    let c = i.poll(0, T0, &mut no_jti).remove(0);
    let ev = i.on_result(slot(&c), T0, Some(502), b"", |_| unreachable!());
    assert!(ev.failed());
    assert!(ev.to_string().contains("HTTP 502; answering 503"), "{ev}");
    assert_eq!(i.lookup(&d, "tok", T0 + 999), Lookup::Unavailable);
    assert_eq!(i.lookup(&d, "tok", T0 + 1000), Lookup::Waiting);
}

#[test]
fn log_lines_name_the_token_by_hash_only() {
    let mut i = Introspector::new(config());
    let d = [3u8; 32];
    i.lookup(&d, "secret-token-text", T0);
    let c = i.poll(0, T0, &mut no_jti).remove(0);
    let ev = i.on_result(slot(&c), T0, Some(200), br#"{"active":false}"#, |_| unreachable!());
    let line = ev.to_string();
    assert!(line.contains("030303030303") && !line.contains("secret-token-text"), "{line}");
    assert!(!format!("{c:?}").contains("secret-token-text"), "Debug of a call hides the body");
}
