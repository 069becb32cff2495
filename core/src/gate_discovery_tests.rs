//! A provider with `discovery`: the metadata document first, then the JWKS from the
//! `jwks_uri` it names; a broken or mixed-up document leaves the keys where they were.

use super::*;
use crate::fetched::{DocEvent, DocKind, FetchEvent};

const ISS_D: &str = "https://idp-d.example";

fn discovery_world() -> World {
    world_with(|c| {
        c["providers"]["r"]["issuer"] = json!(ISS_D);
        c["providers"]["r"]["discovery"] = json!(true);
        c["providers"]["r"]["jwks"] = json!({"cluster": "idp_d", "max_stale_s": REMOTE_MAX_STALE_S});
    })
}

fn metadata(jwks_uri: &str) -> Vec<u8> {
    json!({"issuer": ISS_D, "jwks_uri": jwks_uri, "token_endpoint": format!("{ISS_D}/token")}).to_string().into_bytes()
}

fn token(w: &World) -> String {
    es256_token(&w.ec_r, &payload(json!({"iss": ISS_D})))
}

#[test]
fn the_jwks_is_fetched_from_the_discovered_jwks_uri() {
    let mut w = discovery_world();
    let r = bearer("/remote/x", &token(&w));
    assert_eq!(w.gate.decide(&r.view(), NOW_MS, NOW_MS), Decision::NeedKeys { provider: PROVIDER_R });
    let first = w.gate.poll_fetches(NOW_MS);
    assert_eq!(first.len(), 1, "only the discovery document until it names the JWKS: {first:?}");
    assert_eq!(first[0].doc.kind, DocKind::Discovery);
    assert_eq!(
        (first[0].path.as_str(), first[0].cluster.as_deref()),
        ("/.well-known/openid-configuration", Some("idp_d"))
    );
    assert_eq!(first[0].uri.as_deref(), Some("https://idp-d.example/.well-known/openid-configuration"));
    let body = metadata("https://idp-d.example/oauth/keys");
    let ev = w.gate.on_fetch_result(first[0].doc, NOW_MS, FetchResult::response(NOW_MS, 200, &body));
    assert_eq!(ev.map(|e| e.to_string()), Some("discovery loaded: jwks_uri https://idp-d.example/oauth/keys".into()));
    let next = w.gate.poll_fetches(NOW_MS);
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].doc.kind, next[0].path.as_str()), (DocKind::Jwks, "/oauth/keys"));
    assert_eq!((next[0].authority.as_str(), next[0].cluster.as_deref()), ("idp-d.example", Some("idp_d")));
    let keys = w.remote_body();
    w.gate.on_fetch_result(next[0].doc, NOW_MS, FetchResult::response(NOW_MS, 200, &keys));
    allowed(w.gate.decide(&r.view(), NOW_MS, NOW_MS));
}

#[test]
fn a_mixed_up_document_is_a_failed_fetch_and_a_changed_jwks_uri_is_logged() {
    let mut w = discovery_world();
    let doc = w.gate.poll_fetches(NOW_MS)[0].doc;
    let evil = json!({"issuer": "https://evil.example", "jwks_uri": "https://idp-d.example/k"}).to_string();
    let ev = w.gate.on_fetch_result(doc, NOW_MS, FetchResult::response(NOW_MS, 200, evil.as_bytes())).expect("event");
    assert!(ev.failed() && ev.to_string().contains("mix-up"), "{ev}");
    assert!(w.gate.poll_fetches(NOW_MS).is_empty(), "no JWKS fetch without a checked document");
    let later = NOW_MS + 120_000;
    let d = w.gate.poll_fetches(later);
    let first = metadata("https://idp-d.example/k1");
    w.gate.on_fetch_result(d[0].doc, later, FetchResult::response(later, 200, &first));
    let ev = w.gate.on_fetch_result(
        d[0].doc,
        later + 1,
        FetchResult::response(later + 1, 200, &metadata("https://idp-d.example/k2")),
    );
    match ev {
        Some(DocEvent::Discovery(FetchEvent::Loaded(l))) => {
            assert_eq!(l.changed_from.as_deref(), Some("https://idp-d.example/k1"));
        }
        other => panic!("{other:?}"),
    }
    let jwks = w.gate.poll_fetches(later + 1);
    assert!(jwks.iter().any(|f| f.doc.kind == DocKind::Jwks && f.path == "/k2"), "{jwks:?}");
}

#[test]
fn the_introspection_endpoint_can_come_from_the_discovery_document() {
    let mut w = world_with(|c| {
        c["providers"]["r"]["issuer"] = json!(ISS_D);
        c["providers"]["r"]["discovery"] = json!(true);
        c["providers"]["r"]["validation"] = json!("hybrid");
        c["providers"]["r"]["jwks"] = json!({"cluster": "idp_d", "max_stale_s": REMOTE_MAX_STALE_S});
        c["providers"]["r"]["introspection"] = json!({"client_id": "gate", "client_secret": "s"});
    });
    let r = bearer("/remote/x", "opaqueTokenBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB");
    assert_eq!(w.gate.decide(&r.view(), NOW_MS, NOW_MS), Decision::NeedKeys { provider: PROVIDER_R });
    let first = w.gate.poll_fetches(NOW_MS);
    assert!(first.iter().all(|f| f.doc.kind == DocKind::Discovery), "no call before the endpoint is known: {first:?}");
    let mut doc = json!({"issuer": ISS_D, "jwks_uri": format!("{ISS_D}/keys")});
    doc["introspection_endpoint"] = json!(format!("{ISS_D}/oauth/introspect"));
    let body = doc.to_string();
    w.gate.on_fetch_result(first[0].doc, NOW_MS, FetchResult::response(NOW_MS, 200, body.as_bytes()));
    let calls: Vec<_> =
        w.gate.poll_fetches(NOW_MS).into_iter().filter(|f| matches!(f.doc.kind, DocKind::Introspection(_))).collect();
    assert_eq!(calls.len(), 1);
    assert_eq!((calls[0].path.as_str(), calls[0].cluster.as_deref()), ("/oauth/introspect", Some("idp_d")));
    assert_eq!(calls[0].uri.as_deref(), Some("https://idp-d.example/oauth/introspect"));
    let answer = json!({"active": true, "iss": ISS_D, "aud": AUD, "exp": NOW_S + 60, "sub": "s"}).to_string();
    w.gate.on_fetch_result(calls[0].doc, NOW_MS, FetchResult::response(NOW_MS, 200, answer.as_bytes()));
    allowed(w.gate.decide(&r.view(), NOW_MS, NOW_MS));
    // An introspection_endpoint off the allowed hosts makes the document a failed fetch.
    let evil = json!({"issuer": ISS_D, "jwks_uri": format!("{ISS_D}/keys"), "introspection_endpoint": "https://evil.example/i"});
    assert!(<crate::fetched::DiscoveryDoc as crate::fetched::Document>::parse(
        evil.to_string().as_bytes(),
        &crate::fetched::DiscoveryCheck { issuer: ISS_D.into(), allowed_hosts: vec!["idp-d.example".into()] }
    )
    .is_err());
}
