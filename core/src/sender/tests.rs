//! DPoP and mTLS binding through the whole gate: real ES256 proofs, every hostile case
//! the issue lists, the asynchronous verifier path, nonces, and the bounded replay set.

use crate::decision::Decision;
use crate::job::{KeyRef, Verifier};
use crate::sender::proof::{thumbprint, token_hash};
use crate::test_support::*;
use jwt_simple::prelude::*;
use serde_json::{json, Value};

const HTU: &str = "https://api.example/dpop/orders";

fn public_jwk(kp: &ES256KeyPair) -> Value {
    let mut jwk = ec_jwk(kp);
    let m = jwk.as_object_mut().expect("object");
    m.remove("kid");
    m.remove("use");
    m.remove("alg");
    jwk
}

fn jkt(kp: &ES256KeyPair) -> String {
    thumbprint(&as_map(public_jwk(kp))).expect("thumbprint")
}

fn dpop_world(edit: impl FnOnce(&mut Value)) -> World {
    world_verified_by(Verifier::Software, |c| {
        let rules = c["rules"].as_array_mut().expect("rules");
        rules.insert(
            0,
            json!({"match": {"prefix": "/dpop/"}, "requires": {"provider": "a"}, "sender_constraint": "dpop_required"}),
        );
        rules.insert(
            0,
            json!({"match": {"prefix": "/dopt/"}, "requires": {"provider": "a"}, "sender_constraint": "dpop_optional"}),
        );
        rules.insert(
            0,
            json!({"match": {"prefix": "/mtls/"}, "requires": {"provider": "a"}, "sender_constraint": "mtls"}),
        );
        edit(c)
    })
}

/// A proof by `kp` with these claims (members of `changes` replace, `null` removes).
fn proof_with(kp: &ES256KeyPair, header: Value, claims: Value) -> String {
    sign_es256_raw(kp, &header.to_string(), &claims.to_string())
}

fn header_for(kp: &ES256KeyPair) -> Value {
    json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(kp)})
}

fn claims(token: &str, changes: Value) -> Value {
    let mut c = json!({"htm": "GET", "htu": HTU, "iat": NOW_S, "jti": "j-1", "ath": token_hash(token)});
    for (k, v) in changes.as_object().expect("object") {
        match v {
            Value::Null => c.as_object_mut().expect("object").remove(k),
            v => c.as_object_mut().expect("object").insert(k.clone(), v.clone()),
        };
    }
    c
}

fn proof(kp: &ES256KeyPair, token: &str, changes: Value) -> String {
    proof_with(kp, header_for(kp), claims(token, changes))
}

fn bound_token(w: &World, client: &ES256KeyPair) -> String {
    es256_token(&w.ec_a, &payload(json!({"cnf": {"jkt": jkt(client)}})))
}

fn dpop_req(path: &str, token: &str, proofs: &[&str]) -> Req {
    let auth = format!("DPoP {token}");
    let mut h: Vec<(&str, &str)> = vec![(":scheme", "https"), ("host", "api.example"), ("authorization", &auth)];
    h.extend(proofs.iter().map(|p| ("dpop", *p)));
    req("GET", path, &h)
}

fn refused(w: &mut World, r: &Req) -> (u16, String, String) {
    let d = denied(decide(w, r));
    (d.status, d.reason.metric_reason().to_owned(), d.www_authenticate.unwrap_or_default())
}

#[test]
fn a_valid_proof_is_accepted_once() {
    let mut w = dpop_world(|_| {});
    let client = ec_key("client");
    let token = bound_token(&w, &client);
    let p = proof(&client, &token, json!({}));
    let a = allowed(decide(&mut w, &dpop_req("/dpop/orders?x=1", &token, &[&p])));
    assert_eq!(set(&a, "x-jwt-sub"), Some("user-1"));
    let (status, reason, www) = refused(&mut w, &dpop_req("/dpop/orders", &token, &[&p]));
    assert_eq!((status, reason.as_str()), (401, "dpop_proof"), "replayed jti");
    assert!(
        www.starts_with("DPoP realm=\"jwtgate\", algs=\"ES256 ES384 RS256 PS256 EdDSA\", error=\"invalid_dpop_proof\""),
        "{www}"
    );
    let fresh = proof(&client, &token, json!({"jti": "j-2"}));
    allowed(decide(&mut w, &dpop_req("/dpop/orders", &token, &[&fresh])));
}

#[test]
fn each_hostile_proof_is_refused_with_its_reason() {
    let mut w = dpop_world(|_| {});
    let client = ec_key("client");
    let thief = ec_key("thief");
    let token = bound_token(&w, &client);
    let mut private_header = header_for(&client);
    private_header["jwk"]["d"] = json!("AAAA");
    let hs_header = json!({"typ": "dpop+jwt", "alg": "HS256", "jwk": public_jwk(&client)});
    let none_header = json!({"typ": "dpop+jwt", "alg": "none", "jwk": public_jwk(&client)});
    let untyped = json!({"typ": "JWT", "alg": "ES256", "jwk": public_jwk(&client)});
    // The thief's signature over a proof that names the client's key.
    let forged = proof_with(&thief, header_for(&client), claims(&token, json!({})));
    let cases: Vec<(&str, String, &str)> = vec![
        ("other method", proof(&client, &token, json!({"htm": "POST"})), "dpop_proof"),
        ("other uri", proof(&client, &token, json!({"htu": "https://api.example/dpop/other"})), "dpop_proof"),
        ("other host", proof(&client, &token, json!({"htu": "https://evil.example/dpop/orders"})), "dpop_proof"),
        ("stale iat", proof(&client, &token, json!({"iat": NOW_S - 66})), "dpop_proof"),
        ("future iat", proof(&client, &token, json!({"iat": NOW_S + 6})), "dpop_proof"),
        ("no jti", proof(&client, &token, json!({"jti": null})), "dpop_proof"),
        ("wrong ath", proof(&client, &token, json!({"ath": token_hash("another token")})), "dpop_proof"),
        ("no ath", proof(&client, &token, json!({"ath": null})), "dpop_proof"),
        ("another key", proof(&thief, &token, json!({})), "not_bound"),
        ("forged signature", forged, "dpop_proof"),
        ("private jwk", proof_with(&client, private_header, claims(&token, json!({}))), "dpop_proof"),
        ("HS256", proof_with(&client, hs_header, claims(&token, json!({}))), "dpop_proof"),
        ("none", proof_with(&client, none_header, claims(&token, json!({}))), "dpop_proof"),
        ("typ", proof_with(&client, untyped, claims(&token, json!({}))), "dpop_proof"),
        ("garbage", "a.b.c".to_owned(), "dpop_proof"),
    ];
    for (name, p, want) in cases {
        let (status, reason, www) = refused(&mut w, &dpop_req("/dpop/orders", &token, &[&p]));
        assert_eq!((status, reason.as_str()), (401, want), "{name}");
        assert!(www.starts_with("DPoP realm="), "{name}: {www}");
    }
    let good = proof(&client, &token, json!({}));
    assert_eq!(refused(&mut w, &dpop_req("/dpop/orders", &token, &[&good, &good])).1, "dpop_proof", "two DPoP headers");
    assert_eq!(refused(&mut w, &dpop_req("/dpop/orders", &token, &[])).1, "dpop_proof", "no proof");
    // Nothing above was recorded: the valid proof is still fresh.
    allowed(decide(&mut w, &dpop_req("/dpop/orders", &token, &[&good])));
}

#[test]
fn schemes_cannot_be_downgraded_or_mixed() {
    let mut w = dpop_world(|_| {});
    let client = ec_key("client");
    let token = bound_token(&w, &client);
    let p = proof(&client, &token, json!({}));
    let mut as_bearer = bearer("/dopt/x", &token);
    as_bearer.headers.push(("dpop".into(), p.clone()));
    assert_eq!(refused(&mut w, &as_bearer), (401, "not_bound".into(), refused(&mut w, &as_bearer).2));
    assert_eq!(refused(&mut w, &bearer("/api/x", &token)).1, "not_bound", "also where DPoP is not configured");
    let plain = es256_token(&w.ec_a, &payload(json!({})));
    let (_, reason, www) = refused(&mut w, &bearer("/dpop/orders", &plain));
    assert_eq!(reason, "not_bound", "a bearer token where DPoP is required");
    assert!(www.starts_with("DPoP realm=\"jwtgate\""), "{www}");
    allowed(decide(&mut w, &bearer("/dopt/x", &plain)));
    let unbound_proof = proof(&client, &plain, json!({"htu": "https://api.example/dopt/x"}));
    assert_eq!(refused(&mut w, &dpop_req("/dopt/x", &plain, &[&unbound_proof])).1, "not_bound");
    // dpop_optional: the Bearer challenge comes first, the DPoP one follows.
    let www = refused(&mut w, &req("GET", "/dopt/x", &[])).2;
    assert_eq!(www, "Bearer realm=\"jwtgate\", DPoP realm=\"jwtgate\", algs=\"ES256 ES384 RS256 PS256 EdDSA\"");
}

#[test]
fn proof_signatures_go_through_the_asynchronous_verifier() {
    let mut w = world_verified_by(Verifier::Async, |c| {
        c["rules"].as_array_mut().expect("rules").insert(
            0,
            json!({"match": {"prefix": "/dpop/"}, "requires": {"provider": "a"}, "sender_constraint": "dpop_required"}),
        );
    });
    let client = ec_key("client");
    let token = bound_token(&w, &client);
    let p = proof(&client, &token, json!({}));
    let r = dpop_req("/dpop/orders", &token, &[&p]);
    let Decision::Verify(token_job) = decide(&mut w, &r) else { panic!("token job first") };
    assert!(matches!(token_job.key_ref, KeyRef::Provider { provider: 0, .. }));
    let Decision::Verify(proof_job) = w.gate.resume(*token_job, true, NOW_MS) else { panic!("then the proof") };
    assert_eq!(proof_job.key_ref, KeyRef::Proof { jkt: jkt(&client) });
    assert!(proof_job.jwk.contains("\"kty\":\"EC\"") && !proof_job.jwk.contains("\"d\""));
    let refused = denied(w.gate.resume((*proof_job).clone(), false, NOW_MS));
    assert_eq!(refused.reason.metric_reason(), "dpop_proof");
    // The token is cached now: only the proof is asked about, and its `true` allows.
    let Decision::Verify(again) = decide(&mut w, &r) else { panic!("proof job") };
    assert!(matches!(again.key_ref, KeyRef::Proof { .. }));
    allowed(w.gate.resume(*again, true, NOW_MS));
}

#[test]
fn nonces_are_required_issued_and_rotated() {
    let key = "k".repeat(32);
    let mut w = dpop_world(|c| c["dpop_nonce"] = json!({"key": key, "window_s": 60}));
    let client = ec_key("client");
    let token = bound_token(&w, &client);
    let d = denied(decide(&mut w, &dpop_req("/dpop/orders", &token, &[&proof(&client, &token, json!({}))])));
    let www = d.www_authenticate.clone().unwrap_or_default();
    assert!(www.contains("error=\"use_dpop_nonce\""), "{www}");
    let nonce = d.headers().into_iter().find(|(k, _)| *k == "dpop-nonce").map(|(_, v)| v).expect("DPoP-Nonce");
    let p = proof(&client, &token, json!({"nonce": nonce, "jti": "n-1"}));
    let a = allowed(decide(&mut w, &dpop_req("/dpop/orders", &token, &[&p])));
    assert!(a.response_headers.iter().any(|(k, _)| k == "dpop-nonce"));
    // Two windows later the nonce is refused again.
    let r = dpop_req(
        "/dpop/orders",
        &token,
        &[&proof(&client, &token, json!({"nonce": nonce, "jti": "n-2", "iat": NOW_S + 120}))],
    );
    assert_eq!(
        denied(w.gate.decide(&r.view(), NOW_MS + 120_000, NOW_MS + 120_000)).reason.metric_reason(),
        "dpop_nonce"
    );
}

#[test]
fn a_full_replay_set_refuses_with_503() {
    let mut w = dpop_world(|c| c["dpop"] = json!({"replay_cache_size": 8}));
    let client = ec_key("client");
    let token = bound_token(&w, &client);
    for i in 0..8 {
        let p = proof(&client, &token, json!({"jti": format!("j{i}")}));
        allowed(decide(&mut w, &dpop_req("/dpop/orders", &token, &[&p])));
    }
    let p = proof(&client, &token, json!({"jti": "one-too-many"}));
    let d = denied(decide(&mut w, &dpop_req("/dpop/orders", &token, &[&p])));
    assert_eq!((d.status, d.retry_after_s), (503, Some(5)));
    // After the window every entry has expired and there is room again.
    let later = NOW_MS + 80_000;
    let p = proof(&client, &token, json!({"jti": "later", "iat": NOW_S + 80}));
    allowed(w.gate.decide(&dpop_req("/dpop/orders", &token, &[&p]).view(), later, later));
}

#[test]
fn certificate_bound_tokens_need_their_certificate() {
    use base64::Engine;
    let mut w = dpop_world(|_| {});
    let cert = [7u8; 32];
    let x5t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(cert);
    let token = es256_token(&w.ec_a, &payload(json!({"cnf": {"x5t#S256": x5t}})));
    let mut r = bearer("/mtls/x", &token);
    assert_eq!(refused(&mut w, &r).1, "certificate", "no client certificate");
    r.conn.client_cert_sha256 = Some([8; 32]);
    assert_eq!(refused(&mut w, &r).1, "certificate", "another certificate");
    r.conn.client_cert_sha256 = Some(cert);
    allowed(decide(&mut w, &r));
    let unbound = bearer("/mtls/x", &es256_token(&w.ec_a, &payload(json!({}))));
    assert_eq!(refused(&mut w, &unbound).1, "not_bound");
    let odd = es256_token(&w.ec_a, &payload(json!({"cnf": "x"})));
    assert_eq!(refused(&mut w, &bearer("/api/x", &odd)).1, "claims", "an unreadable cnf is never ignored");
}

#[test]
fn forwarded_headers_count_only_when_trusted() {
    let client = ec_key("client");
    // Behind a TLS terminator: the gate sees plain HTTP to an internal authority.
    let fwd = |token: &str, p: &str| {
        let mut r = dpop_req("/dpop/orders", token, &[p]);
        r.headers.retain(|(k, _)| k != "host" && k != ":scheme");
        r.headers.extend([("host".into(), "internal:8080".into()), (":scheme".into(), "http".into())]);
        r.headers
            .extend([("x-forwarded-proto".into(), "https".into()), ("x-forwarded-host".into(), "api.example".into())]);
        r
    };
    let mut w = dpop_world(|_| {});
    let token = bound_token(&w, &client);
    let p = proof(&client, &token, json!({}));
    assert_eq!(refused(&mut w, &fwd(&token, &p)).1, "dpop_proof", "untrusted forwarded headers are ignored");
    let behind = proof(&client, &token, json!({"htu": "http://internal:8080/dpop/orders", "jti": "b"}));
    allowed(decide(&mut w, &fwd(&token, &behind)));
    let mut w =
        dpop_world(|c| c["dpop"] = json!({"trusted_forwarded_headers": ["x-forwarded-proto", "X-Forwarded-Host"]}));
    let token = bound_token(&w, &client);
    allowed(decide(&mut w, &fwd(&token, &proof(&client, &token, json!({})))));
}

#[test]
fn the_demo_config_opens_its_sender_constrained_routes() {
    use crate::sender::SenderConstraint;
    let text = crate::test_support::demo_config_text();
    let c = crate::config::GateConfig::from_json(&text).expect("envoy/jwtgate.json loads");
    let constraint = |name: &str| c.rules.iter().find(|r| r.name == name).and_then(|r| r.sender_constraint);
    assert_eq!(constraint("dpop"), Some(SenderConstraint::DpopRequired));
    assert_eq!(constraint("mtls"), Some(SenderConstraint::Mtls));
    assert!(c.uses_dpop() && c.uses_client_certs());
}

#[test]
fn config_errors_name_the_field() {
    let load = |edit: &dyn Fn(&mut Value)| {
        let mut c = json!({
            "providers": {"a": {"issuer": ISS_A, "audiences": [AUD], "jwks": {"inline": jwks(&[ec_jwk(&ec_key("k"))])}}},
            "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "a"}}]
        });
        edit(&mut c);
        crate::config::GateConfig::from_json(&c.to_string()).err().map(|e| e.field)
    };
    assert_eq!(
        load(&|c| c["providers"]["a"]["sender_constraint"] = json!("dpop")).as_deref(),
        Some("providers.a.sender_constraint")
    );
    assert_eq!(
        load(&|c| c["rules"][0]["sender_constraint"] = json!("DPoP")).as_deref(),
        Some("rules[0].sender_constraint")
    );
    assert_eq!(load(&|c| c["dpop"] = json!({"algorithms": ["ES256", "HS256"]})).as_deref(), Some("dpop.algorithms[1]"));
    assert_eq!(load(&|c| c["dpop"] = json!({"max_age_s": 0})).as_deref(), Some("dpop.max_age_s"));
    assert_eq!(load(&|c| c["dpop"] = json!({"replay_cache_size": 1})).as_deref(), Some("dpop.replay_cache_size"));
    assert_eq!(
        load(&|c| c["dpop"] = json!({"trusted_forwarded_headers": ["forwarded"]})).as_deref(),
        Some("dpop.trusted_forwarded_headers[0]")
    );
    assert_eq!(load(&|c| c["dpop_nonce"] = json!({"key": "short"})).as_deref(), Some("dpop_nonce.key"));
    assert_eq!(load(&|c| c["dpop_nonce"] = json!({"window_s": 60})).as_deref(), Some("dpop_nonce.key"));
    let public =
        |c: &mut Value| c["rules"][0] = json!({"match": {"prefix": "/"}, "public": true, "sender_constraint": "mtls"});
    assert_eq!(load(&public).as_deref(), Some("rules[0].sender_constraint"));
    assert_eq!(load(&|c| c["providers"]["a"]["sender_constraint"] = json!("dpop_or_mtls")), None);
}
