//! Revocation seen through `Gate::decide`: checked after the signature on every request,
//! cache hits included; 401 `invalid_token` when revoked; 503 past the staleness bound.

use super::remote::decide_at;
use super::*;
use crate::fetched::{DocEvent, DocId, DocKind, FetchEvent};

const FEED_BOUND_S: u64 = 10;

/// Provider `a` with a revocation feed (and whatever `inline` entries are given).
fn revoking_world(inline: serde_json::Value, on_stale: &str) -> World {
    world_with(|c| {
        c["providers"]["a"]["revocation"] = json!({
            "inline": inline,
            "feed": {"uri": "https://idp-a.example/revocations", "refresh_interval_s": 2, "max_staleness_s": FEED_BOUND_S},
            "on_stale": on_stale
        });
    })
}

/// Serves provider `a`'s feed a full list with these entries, the way hosts do: the
/// gate's due fetch of the document, then its result (sent at `at_ms`).
fn feed(w: &mut World, at_ms: u64, version: u64, entries: serde_json::Value) {
    let body = json!({"version": version, "generated_at": at_ms / 1000, "kind": "full", "entries": entries});
    let body = body.to_string().into_bytes();
    let doc = DocId::revocation(0);
    let due = w.gate.poll_fetches(at_ms);
    assert!(due.iter().any(|f| f.doc == doc), "the feed fetch is due at {at_ms}: {due:?}");
    let event = w.gate.on_fetch_result(doc, at_ms, FetchResult::response(at_ms, 200, &body));
    assert!(matches!(event, Some(DocEvent::Revocation(FetchEvent::Loaded(_)))), "{event:?}");
    assert!(!event.is_some_and(|e| e.failed()));
}

fn assert_revoked(d: Decision) {
    let d = denied(d);
    assert_eq!((d.status, &d.reason), (401, &AuthError::Revoked));
    let www = d.www_authenticate.expect("RFC 6750 challenge");
    assert!(www.contains("error=\"invalid_token\""), "{www}");
    assert_eq!(d.reason.metric_reason(), "revoked");
}

fn assert_stale(d: Decision) {
    let d = denied(d);
    assert_eq!((d.status, &d.reason), (503, &AuthError::RevocationUnavailable));
    assert_eq!(d.retry_after_s, Some(5));
    assert_eq!(d.www_authenticate, None, "a 503 must not blame the token");
    assert_eq!(d.reason.metric_reason(), "revocation_stale");
}

fn token(w: &World, claims: serde_json::Value) -> String {
    es256_token(&w.ec_a, &payload(claims))
}

#[test]
fn a_cached_token_is_refused_once_the_feed_revokes_it() {
    let mut w = revoking_world(json!([]), "deny");
    feed(&mut w, NOW_MS, 1, json!([]));
    let t = token(&w, json!({"jti": "t-1"}));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    assert_eq!(w.gate.cached_tokens(), 1);
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    feed(&mut w, NOW_MS + 2_000, 2, json!([{"jti": "t-1", "exp": NOW_S + 600}]));
    assert_revoked(decide_at(&mut w, &bearer("/api/x", &t), NOW_MS + 2_000, Hold::Fresh));
    assert_eq!(w.gate.cached_tokens(), 1, "the cache keeps the verification; the list decides");
    let other = token(&w, json!({"jti": "t-2"}));
    allowed(decide_at(&mut w, &bearer("/api/x", &other), NOW_MS + 2_000, Hold::Fresh));
}

#[test]
fn inline_entries_revoke_by_jti_sub_sid_and_client() {
    let inline = json!([
        {"jti": "j-bad", "exp": NOW_S + 600},
        {"sub": "u-gone", "iat_before": NOW_S - 5, "exp": NOW_S + 600},
        {"sid": "s-ended", "exp": NOW_S + 600},
        {"client_id": "c-leaked", "exp": NOW_S + 600}
    ]);
    let mut w = world_with(|c| c["providers"]["a"]["revocation"] = json!({"inline": inline}));
    let cases = [
        (json!({"jti": "j-bad"}), false),
        (json!({"jti": "j-ok"}), true),
        (json!({"sub": "u-gone", "iat": NOW_S - 10}), false),
        (json!({"sub": "u-gone", "iat": NOW_S - 5}), true),
        (json!({"sid": "s-ended"}), false),
        (json!({"sid": "s-live"}), true),
        (json!({"client_id": "c-leaked"}), false),
        (json!({"azp": "c-leaked"}), false),
        (json!({"azp": "c-fine"}), true),
    ];
    for (claims, ok) in cases {
        let t = token(&w, claims.clone());
        // Twice: the second decision is a cache hit.
        for _ in 0..2 {
            let d = decide(&mut w, &bearer("/api/x", &t));
            if ok {
                allowed(d);
            } else {
                assert_revoked(d);
            }
        }
        let _ = claims;
    }
    // Provider `b` has no revocation block: the same jti passes there.
    let t = es256_token(&w.ec_b, &payload(json!({"iss": ISS_B, "jti": "j-bad"})));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
}

#[test]
fn a_revoked_token_with_a_bad_signature_is_still_a_signature_failure() {
    let mut w = world_with(|c| {
        c["providers"]["a"]["revocation"] = json!({"inline": [{"jti": "j", "exp": NOW_S + 600}]});
    });
    let t = es256_token(&ec_key("ec-a"), &payload(json!({"jti": "j"})));
    let d = denied(decide(&mut w, &bearer("/api/x", &t)));
    assert_eq!(d.reason, AuthError::BadSignature, "the list is consulted only after the signature");
}

#[test]
fn a_cold_feed_holds_then_503s_and_past_the_bound_the_routes_503() {
    let mut w = revoking_world(json!([]), "deny");
    let t = token(&w, json!({"jti": "t-1"}));
    assert!(matches!(decide(&mut w, &bearer("/api/x", &t)), Decision::NeedKeys { provider: 0 }));
    assert_stale(decide_at(&mut w, &bearer("/api/x", &t), NOW_MS, Hold::Expired));
    feed(&mut w, NOW_MS, 1, json!([]));
    allowed(decide(&mut w, &bearer("/api/x", &t)));
    // The feed fails from now on: the list serves until the bound, then 503 (cache hit or not).
    let doc = DocId::revocation(0);
    let retry_at = NOW_MS + 3_000;
    assert!(w.gate.poll_fetches(retry_at).iter().any(|f| f.doc == doc));
    let event = w.gate.on_fetch_result(doc, retry_at, FetchResult::no_response(retry_at)).expect("a revocation doc");
    assert!(event.failed() && event.to_string().contains("revocation list fetch failed"), "{event}");
    let edge = NOW_MS + FEED_BOUND_S * 1000;
    allowed(decide_at(&mut w, &bearer("/api/x", &t), edge, Hold::Expired));
    assert_stale(decide_at(&mut w, &bearer("/api/x", &t), edge + 1, Hold::Expired));
    assert_stale(decide_at(&mut w, &bearer("/api/x", &t), edge + 1, Hold::Fresh));
    // Inline-only providers and public routes are unaffected.
    allowed(decide_at(&mut w, &bearer("/public/x", &t), edge + 1, Hold::Expired));
    let tb = es256_token(&w.ec_b, &payload(json!({"iss": ISS_B})));
    allowed(decide_at(&mut w, &bearer("/api/x", &tb), edge + 1, Hold::Expired));
}

#[test]
fn on_stale_allow_keeps_serving_with_the_last_good_list() {
    let mut w = revoking_world(json!([]), "allow");
    let t = token(&w, json!({"jti": "t-1"}));
    allowed(decide_at(&mut w, &bearer("/api/x", &t), NOW_MS, Hold::Expired));
    feed(&mut w, NOW_MS, 1, json!([{"jti": "t-2", "exp": NOW_S + 600}]));
    let late = NOW_MS + 100_000;
    allowed(decide_at(&mut w, &bearer("/api/x", &t), late, Hold::Expired));
    let revoked = token(&w, json!({"jti": "t-2"}));
    assert_revoked(decide_at(&mut w, &bearer("/api/x", &revoked), late, Hold::Expired));
}

#[test]
fn the_feed_is_a_remote_document_with_its_identity_cap_and_gauges() {
    let mut w = revoking_world(json!([{"jti": "inline-1", "exp": NOW_S + 600}]), "deny");
    let doc = DocId::revocation(0);
    let docs: Vec<DocId> = w.gate.remote_docs().into_iter().map(|(d, _)| d).collect();
    assert!(docs.contains(&doc) && docs.contains(&DocId::jwks(PROVIDER_R)), "{docs:?}");
    assert_eq!(docs.iter().filter(|d| d.kind == DocKind::Revocation).count(), 1);
    let id = w.gate.fetch_identity(doc).expect("fetched");
    assert_ne!(Some(id), w.gate.fetch_identity(DocId::jwks(0)), "inline keys: none; and never the feed's");
    assert_eq!(w.gate.fetch_body_cap(doc), crate::config::defaults::REVOCATION_MAX_BODY_BYTES);
    assert_eq!(w.gate.fetch_identity(DocId::revocation(1)), None, "provider b has no feed");
    let f = w.gate.poll_fetches(NOW_MS).into_iter().find(|f| f.doc == doc).expect("cold: due at once");
    assert_eq!((f.path.as_str(), f.accept), ("/revocations", "application/json"));
    let body =
        json!({"version": 1, "generated_at": NOW_S, "kind": "full", "entries": [{"sid": "s", "exp": NOW_S + 600}]});
    let body = body.to_string().into_bytes();
    w.gate.on_fetch_result(doc, NOW_MS, FetchResult::response(NOW_MS, 200, &body));
    let gauges = w.gate.doc_gauges(doc);
    assert!(gauges.contains(&("revocation_entries.a".into(), 2)), "{gauges:?}");
    assert!(gauges.contains(&("revocation_list_age_s.a".into(), 0)), "{gauges:?}");
    // A failure 7 s later reports the list's age as of then.
    let later = NOW_MS + 7_000;
    let f = w.gate.poll_fetches(later).into_iter().find(|f| f.doc == doc).expect("refresh due");
    assert_eq!(f.path, "/revocations", "no cursor was served");
    w.gate.on_fetch_result(doc, later, FetchResult::response(later, 500, b""));
    assert!(w.gate.doc_gauges(doc).contains(&("revocation_list_age_s.a".into(), 7)));
}

#[test]
fn a_flood_of_unknown_jtis_asks_for_no_fetch() {
    let mut w = revoking_world(json!([]), "deny");
    feed(&mut w, NOW_MS, 1, json!([]));
    for i in 0..500 {
        let t = token(&w, json!({"jti": format!("unknown-{i}")}));
        allowed(decide_at(&mut w, &bearer("/api/x", &t), NOW_MS + 10, Hold::Fresh));
    }
    let due = w.gate.poll_fetches(NOW_MS + 10);
    assert!(due.iter().all(|f| f.doc.kind != DocKind::Revocation), "{due:?}");
}

const LISTS: &str = "https://idp-a.example/statuslists/";

/// Provider `a` checks Token Status Lists under [`LISTS`].
fn status_world() -> World {
    world_with(|c| {
        c["providers"]["a"]["revocation"] = json!({"status_list": {"uri_prefix": LISTS, "max_staleness_s": 30}});
    })
}

fn status_token(w: &World, idx: u64, uri: &str) -> String {
    token(w, json!({"status": {"status_list": {"idx": idx, "uri": uri}}}))
}

/// The draft's 1-bit example list (statuses 1,0,0,1,1,1,0,1,…) as a Status List Token.
fn status_list_jwt(signer: &jwt_simple::prelude::ES256KeyPair, uri: &str) -> Vec<u8> {
    let header = json!({"alg": "ES256", "kid": "ec-a", "typ": "statuslist+jwt"}).to_string();
    let claims = json!({"sub": uri, "iat": NOW_S, "ttl": 60, "status_list": {"bits": 1, "lst": "eNrbuRgAAhcBXQ"}});
    sign_es256_raw(signer, &header, &claims.to_string()).into_bytes()
}

/// Runs the due fetch of status list slot 0 with `body`.
fn serve_list(w: &mut World, at_ms: u64, body: &[u8]) {
    let doc = DocId { provider: 0, kind: DocKind::StatusList(0) };
    let due = w.gate.poll_fetches(at_ms);
    let f = due.iter().find(|f| f.doc == doc).expect("the status list fetch is due");
    assert_eq!((f.path.as_str(), f.uri.as_deref()), ("/statuslists/1", Some("https://idp-a.example/statuslists/1")));
    assert!(w.gate.fetch_identity(doc).is_some(), "Envoy opens its channel lazily");
    w.gate.on_fetch_result(doc, at_ms, FetchResult::response(at_ms, 200, body));
}

#[test]
fn a_token_status_list_entry_decides_by_its_bit() {
    let mut w = status_world();
    let uri = format!("{LISTS}1");
    let valid = status_token(&w, 1, &uri);
    assert!(matches!(decide(&mut w, &bearer("/api/x", &valid)), Decision::NeedKeys { provider: 0 }));
    let body = status_list_jwt(&w.ec_a, &uri);
    serve_list(&mut w, NOW_MS, &body);
    allowed(decide(&mut w, &bearer("/api/x", &valid)));
    allowed(decide(&mut w, &bearer("/api/x", &valid)));
    for idx in [0, 3, 15, 16, 1 << 40] {
        let t = status_token(&w, idx, &uri);
        assert_revoked(decide(&mut w, &bearer("/api/x", &t)));
    }
    // A URI outside the prefix, or a malformed claim: refused without any fetch.
    for t in [
        status_token(&w, 1, "https://evil.example/statuslists/1"),
        token(&w, json!({"status": {"status_list": {"idx": "1", "uri": uri}}})),
    ] {
        let d = denied(decide(&mut w, &bearer("/api/x", &t)));
        assert_eq!((d.status, d.reason), (401, AuthError::BadClaim("status")));
    }
    // Past its ttl (60 s), the list is not used: 503, never allow.
    let late = NOW_MS + 61_000;
    let d = denied(decide_at(&mut w, &bearer("/api/x", &valid), late, Hold::Expired));
    assert_eq!(d.reason, AuthError::RevocationUnavailable);
    // Tokens without a status claim are not affected.
    let plain = token(&w, json!({}));
    allowed(decide(&mut w, &bearer("/api/x", &plain)));
}

#[test]
fn a_status_list_not_signed_by_the_issuer_or_for_another_uri_is_never_used() {
    let uri = format!("{LISTS}1");
    // A list signed by another key, and one the issuer signed for another URI.
    for forged in [true, false] {
        let mut w = status_world();
        let valid = status_token(&w, 1, &uri);
        // The first token naming the list creates it; the request waits for the fetch.
        assert!(matches!(decide(&mut w, &bearer("/api/x", &valid)), Decision::NeedKeys { provider: 0 }));
        let b = if forged {
            status_list_jwt(&ec_key("ec-a"), &uri)
        } else {
            status_list_jwt(&w.ec_a, &format!("{LISTS}2"))
        };
        serve_list(&mut w, NOW_MS, &b);
        let d = denied(decide_at(&mut w, &bearer("/api/x", &valid), NOW_MS, Hold::Expired));
        assert_eq!((d.status, d.reason), (503, AuthError::RevocationUnavailable));
    }
}
