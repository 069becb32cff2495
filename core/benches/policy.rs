//! The cost of authorization on the cached path: `Gate::decide` for a token already in
//! the verified-token cache, on a scopes-only rule and on a rule with a 5-condition
//! `require` tree (tenant = path capture, role in an array, boolean, number, pattern).
//! Prints ns per decision (median of rounds) and the ratio. No speed is asserted:
//! targets live in `make bench`; this is a native micro-benchmark.
//!
//! Run: `make bench-policy` (or `cargo bench -p jwtgate-core --bench policy`);
//! `BENCH_ROUNDS` and `BENCH_ITERS` change the rounds and decisions per round.

use base64::Engine;
use jwt_simple::prelude::*;
use jwtgate_core::{Decision, Gate, RequestView};
use serde_json::json;
use std::hint::black_box;

mod common;
use common::{env_or, Rounds};
use std::time::{Duration as StdDuration, Instant, SystemTime, UNIX_EPOCH};

const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!";
const ISS: &str = "https://idp.bench";
const AUD: &str = "api://bench";

fn gate() -> Gate {
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    let config = json!({
        "providers": {"a": {
            "issuer": ISS, "audiences": [AUD], "algorithms": ["HS256"],
            "jwks": {"inline": {"keys": [{"kty": "oct", "kid": "k", "alg": "HS256", "k": k}]}}
        }},
        "rules": [
            {"name": "scopes_only", "match": {"prefix": "/scopes/"}, "requires": {"provider": "a"}, "scopes": ["read"]},
            {"name": "five_conditions", "match": {"template": "/tenants/{tenant}/**"}, "requires": {"provider": "a"},
             "require": {"all": [
                {"claim": "tenant", "op": "eq", "from": "path.tenant"},
                {"claim": "roles", "op": "contains", "value": "orders:write"},
                {"claim": "email_verified", "op": "eq", "value": true},
                {"claim": "level", "op": "ge", "value": 2},
                {"claim": "email", "op": "matches", "value": "[a-z.]+@acme\\.example"}
             ]}}
        ]
    });
    Gate::from_json(&config.to_string(), 7).expect("bench config loads")
}

fn token() -> String {
    let extra = json!({
        "scope": "read write", "tenant": "acme", "roles": ["orders:read", "orders:write", "reports:read"],
        "email_verified": true, "level": 3, "email": "ann.lee@acme.example"
    });
    let extra: serde_json::Map<String, serde_json::Value> = serde_json::from_value(extra).expect("object");
    let claims = Claims::with_custom_claims(extra, Duration::from_secs(600)).with_issuer(ISS).with_audience(AUD);
    HS256Key::from_bytes(SECRET).with_key_id("k").authenticate(claims).expect("signs")
}

/// One rule's gate, request and token, already decided once (so the token is cached).
struct Case<'a> {
    gate: Gate,
    view: RequestView<'a>,
}

impl<'a> Case<'a> {
    fn new(path: &'a str, headers: &'a [(String, String)], now_ms: u64) -> Case<'a> {
        // A fresh gate per rule, so each measures one cache entry and one rule.
        let mut gate = gate();
        let view = RequestView { method: "GET", path, headers, conn: Default::default() };
        // The first decision verifies the token and caches it; the rounds hit the cache.
        assert!(matches!(gate.decide(&view, now_ms, now_ms), Decision::Allow(_)), "{path} must be allowed");
        Case { gate, view }
    }

    /// ns per decision over `iters` decisions.
    fn round(&mut self, now_ms: u64, iters: u32) -> f64 {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(self.gate.decide(black_box(&self.view), now_ms, now_ms));
        }
        start.elapsed().as_nanos() as f64 / f64::from(iters)
    }
}

fn main() {
    let rounds = env_or("BENCH_ROUNDS", 9usize).max(1);
    let iters = env_or("BENCH_ITERS", 20_000u32).max(1);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(StdDuration::ZERO).as_millis() as u64;
    let headers = vec![("authorization".to_owned(), format!("Bearer {}", token()))];
    let mut scopes = Case::new("/scopes/orders", &headers, now_ms);
    let mut policy = Case::new("/tenants/acme/orders", &headers, now_ms);
    // Rounds alternate between the two rules, so load from other processes on a shared
    // machine falls on both alike; each round's ratio is taken, then the median.
    let mut summary = Rounds::default();
    for _ in 0..rounds {
        let s = scopes.round(now_ms, iters);
        let p = policy.round(now_ms, iters);
        summary.push(s, p);
    }
    let labels = ("scopes-only rule:", "5-condition require:");
    let doc = summary.report(labels, ("scopes_ns", "policy_ns"), rounds, iters as usize);
    // For `make bench` (bench/harness/micro.py).
    println!("BENCH_POLICY {doc}");
}
