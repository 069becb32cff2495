use crate::decision::Decision;
use crate::session::jws::BACKCHANNEL_EVENT;
use crate::test_support::*;
use serde_json::json;

fn gate_world() -> World {
    world_with(|c| {
        c["providers"]["a"]["revocation"] = json!({"inline": [{"jti": "old", "exp": NOW_S + 3600}]});
        c["providers"]["a"]["login"] = json!({
            "client_id": "bff", "client_secret": "s",
            "authorization_endpoint": "https://idp-a.example/auth", "token": {"uri": "https://idp-a.example/token"},
            "origins": ["https://app.example"], "backchannel_logout_path": "/app/bcl",
            "cookie": {"keys": [crate::b64::encode(&[1; 32])]}
        });
        c["rules"]
            .as_array_mut()
            .expect("rules")
            .push(json!({"match": {"prefix": "/app/"}, "requires": {"provider": "a"}, "browser": true}));
    })
}

fn logout_token(w: &World, changes: serde_json::Value) -> String {
    let mut p = json!({"iss": ISS_A, "aud": "bff", "iat": NOW_S, "jti": "j", "sid": "sid-1", "events": {BACKCHANNEL_EVENT: {}}});
    for (k, v) in changes.as_object().expect("object") {
        p[k] = v.clone();
    }
    es256_token(&w.ec_a, &p)
}

fn post(w: &mut World, body: &str) -> crate::session::Response {
    let r = req("POST", "/app/bcl", &[("content-type", "application/x-www-form-urlencoded")]);
    assert_eq!(decide(w, &r), Decision::NeedBody { max_bytes: super::MAX_LOGOUT_BODY });
    match w.gate.decide_body(&r.view(), body.as_bytes(), NOW_MS) {
        Decision::Respond(r) => *r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_valid_logout_token_revokes_the_session_here_and_for_other_vms() {
    let mut w = gate_world();
    let at = es256_token(&w.ec_a, &payload(json!({"sid": "sid-1"})));
    allowed(decide(&mut w, &bearer("/app/x", &at)));
    let lt = logout_token(&w, json!({}));
    assert_eq!(post(&mut w, &format!("logout_token={lt}")).status, 200);
    assert_eq!(denied(decide(&mut w, &bearer("/app/x", &at))).reason, crate::error::AuthError::Revoked);
    // The record another VM applies.
    let records = w.gate.take_logouts();
    assert_eq!(records.len(), 1);
    assert!(!records[0].contains(&lt), "no token in the shared record");
    let mut other = gate_world();
    let at2 = es256_token(&other.ec_a, &payload(json!({"sid": "sid-1"})));
    assert!(other.gate.apply_logout(&records[0]));
    assert_eq!(denied(decide(&mut other, &bearer("/app/x", &at2))).reason, crate::error::AuthError::Revoked);
    assert!(!other.gate.apply_logout("nope\tsid\tx\t1") && !other.gate.apply_logout("garbage"));
}

#[test]
fn hostile_logout_posts_are_refused_with_400() {
    let mut w = gate_world();
    let id_token_like = logout_token(&w, json!({"nonce": "n"}));
    let no_events = logout_token(&w, json!({"events": {}}));
    let wrong_aud = logout_token(&w, json!({"aud": "other"}));
    let foreign = es256_token(
        &w.ec_b,
        &json!({"iss": ISS_A, "aud": "bff", "iat": NOW_S, "jti": "j", "sid": "s", "events": {BACKCHANNEL_EVENT: {}}}),
    );
    for body in [
        format!("logout_token={id_token_like}"),
        format!("logout_token={no_events}"),
        format!("logout_token={wrong_aud}"),
        format!("logout_token={foreign}"),
        "other=1".into(),
        "logout_token=x.y.z".into(),
    ] {
        assert_eq!(post(&mut w, &body).status, 400, "{body}");
    }
    assert!(w.gate.take_logouts().is_empty());
    let get = req("GET", "/app/bcl", &[]);
    assert!(matches!(decide(&mut w, &get), Decision::Respond(r) if r.status == 405));
}

#[test]
fn a_back_channel_path_needs_a_revocation_block() {
    let e = crate::config::GateConfig::from_json(
        &json!({
            "providers": {"a": {"issuer": ISS_A, "audiences": [AUD], "jwks": {"uri": "https://x/jwks"}, "login": {
                "client_id": "bff", "client_secret": "s", "authorization_endpoint": "https://x/auth",
                "token": {"uri": "https://x/token"}, "origins": ["https://app.example"], "backchannel_logout_path": "/bcl",
                "cookie": {"keys": [crate::b64::encode(&[1; 32])]}}}},
            "rules": [{"match": {"prefix": "/"}, "public": true}]
        })
        .to_string(),
    )
    .expect_err("refused");
    assert_eq!(e.field, "providers.a.login.backchannel_logout_path");
}
