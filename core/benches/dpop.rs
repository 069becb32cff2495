//! The cost of DPoP on the hot path: `Gate::decide` for a DPoP-bound token already in
//! the verified-token cache plus a fresh ES256 proof (parse, claims, thumbprint,
//! signature with the software verifier, replay set), against the same token path with
//! the Bearer scheme. Every DPoP decision needs its own proof (a `jti` is accepted
//! once), so the proofs are signed before the rounds. Prints ns per decision and the
//! ratio; asserts no speed.
//!
//! Run: `cargo bench -p jwtgate-core --bench dpop`; `BENCH_ROUNDS`, `BENCH_ITERS`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jwt_simple::prelude::*;
use jwtgate_core::{Decision, Gate, RequestView};
use p256::ecdsa::signature::Signer;
use serde_json::json;
use sha2::{Digest, Sha256};
use std::hint::black_box;

mod support;
use std::time::{Duration as StdDuration, Instant, SystemTime, UNIX_EPOCH};
use support::{env_or, Rounds, AUD, ISS, SECRET};

const HTU: &str = "https://api.bench/dpop/orders";

fn gate() -> Gate {
    let k = URL_SAFE_NO_PAD.encode(SECRET);
    let config = json!({
        "providers": {"a": {
            "issuer": ISS, "audiences": [AUD], "algorithms": ["HS256"],
            "jwks": {"inline": {"keys": [{"kty": "oct", "kid": "k", "alg": "HS256", "k": k}]}}
        }},
        "dpop": {"replay_cache_size": 1_048_576},
        "rules": [
            {"match": {"prefix": "/bearer/"}, "requires": {"provider": "a"}},
            {"match": {"prefix": "/dpop/"}, "requires": {"provider": "a"}, "sender_constraint": "dpop_required"}
        ]
    });
    Gate::from_json(&config.to_string(), 7).expect("bench config loads")
}

fn token(cnf: Option<&str>) -> String {
    let extra = match cnf {
        Some(jkt) => json!({"scope": "read", "cnf": {"jkt": jkt}}),
        None => json!({"scope": "read"}),
    };
    support::hs256_token(extra, 3600, None)
}

/// The client's proof key: signer, public JWK and RFC 7638 thumbprint.
struct Client {
    key: ES256KeyPair,
    jwk: serde_json::Value,
    jkt: String,
}

fn client() -> Client {
    let key = ES256KeyPair::generate();
    let point = key.public_key().public_key().to_bytes_uncompressed();
    let (x, y) = (URL_SAFE_NO_PAD.encode(&point[1..33]), URL_SAFE_NO_PAD.encode(&point[33..]));
    let canonical = format!(r#"{{"crv":"P-256","kty":"EC","x":"{x}","y":"{y}"}}"#);
    let jkt = URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()));
    Client { key, jwk: json!({"kty": "EC", "crv": "P-256", "x": x, "y": y}), jkt }
}

fn proof(c: &Client, token: &str, jti: usize, now_s: u64) -> String {
    let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": c.jwk});
    let ath = URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()));
    let claims = json!({"htm": "GET", "htu": HTU, "iat": now_s, "jti": format!("j{jti}"), "ath": ath});
    let input =
        format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig: p256::ecdsa::Signature = c.key.key_pair().as_ref().sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

fn headers(scheme: &str, token: &str, proof: Option<String>) -> Vec<(String, String)> {
    let mut h = vec![
        (":scheme".to_owned(), "https".to_owned()),
        (":authority".to_owned(), "api.bench".to_owned()),
        ("authorization".to_owned(), format!("{scheme} {token}")),
    ];
    h.extend(proof.map(|p| ("dpop".to_owned(), p)));
    h
}

fn decide(gate: &mut Gate, path: &str, headers: &[(String, String)], now_ms: u64) -> Decision {
    let view = RequestView { method: "GET", path, headers, conn: Default::default() };
    gate.decide(black_box(&view), now_ms, now_ms)
}

fn main() {
    let rounds = env_or("BENCH_ROUNDS", 9usize).max(1);
    let iters = env_or("BENCH_ITERS", 2_000usize).max(1);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(StdDuration::ZERO).as_millis() as u64;
    let c = client();
    let (bound, plain) = (token(Some(&c.jkt)), token(None));
    let mut g = gate();
    let bearer = headers("Bearer", &plain, None);
    assert!(matches!(decide(&mut g, "/bearer/orders", &bearer, now_ms), Decision::Allow(_)), "bearer allowed");
    // Every proof of every round, signed up front (a proof is accepted once).
    let proofs: Vec<Vec<(String, String)>> =
        (0..=rounds * iters).map(|i| headers("DPoP", &bound, Some(proof(&c, &bound, i, now_ms / 1000)))).collect();
    assert!(
        matches!(decide(&mut g, "/dpop/orders", &proofs[rounds * iters], now_ms), Decision::Allow(_)),
        "dpop allowed"
    );
    let mut summary = Rounds::default();
    for r in 0..rounds {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(decide(&mut g, "/bearer/orders", &bearer, now_ms));
        }
        let b = start.elapsed().as_nanos() as f64 / iters as f64;
        let start = Instant::now();
        for h in &proofs[r * iters..(r + 1) * iters] {
            let d = decide(&mut g, "/dpop/orders", h, now_ms);
            assert!(matches!(d, Decision::Allow(_)), "every fresh proof is allowed");
        }
        summary.push(b, start.elapsed().as_nanos() as f64 / iters as f64);
    }
    let labels = ("Bearer:", "DPoP (ES256 proof, software):");
    let doc = summary.report(labels, ("bearer_ns", "dpop_ns"), rounds, iters);
    println!("BENCH_DPOP {doc}");
}
