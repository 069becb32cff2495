//! The cost of authorization on the cached path: `Gate::decide` for a token already in
//! the verified-token cache, on a scopes-only rule and on a rule with a 5-condition
//! `require` tree (tenant = path capture, role in an array, boolean, number, pattern).
//! Prints ns per decision (median of rounds) and the ratio. No speed is asserted:
//! targets live in `make bench`; this is a native micro-benchmark.
//!
//! Run: `make bench-policy` (or `cargo bench -p jwtgate-core --bench policy`);
//! `BENCH_ROUNDS` and `BENCH_ITERS` change the rounds and decisions per round.

mod support;

use base64::Engine;
use jwtgate_core::Gate;
use serde_json::json;
use support::{Case, Rounds, AUD, ISS, SECRET};

fn gate() -> Gate {
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    let config = json!({
        "providers": {"a": {
            "issuer": ISS, "audiences": [AUD], "algorithms": ["HS256"],
            "jwks": {"inline": {"keys": [{"kty": "oct", "kid": "k", "alg": "HS256", "k": k}]}}
        }},
        "rules": [
            {"name": "scopes_only", "match": {"prefix": "/scopes/"}, "requires": {"provider": "a"}, "scopes": ["read"]},
            support::five_conditions_rule()
        ]
    });
    Gate::from_json(&config.to_string(), 7).expect("bench config loads")
}

fn token() -> String {
    let mut extra = support::policy_claims();
    extra["scope"] = json!("read write");
    support::hs256_token(extra, 600, None)
}

fn main() {
    let (rounds, iters) = support::rounds_and_iters();
    let now_ms = support::now_ms();
    let headers = vec![("authorization".to_owned(), format!("Bearer {}", token()))];
    // A fresh gate per rule, so each measures one cache entry and one rule.
    let mut scopes = Case::new(gate(), "/scopes/orders", &headers, now_ms);
    let mut policy = Case::new(gate(), "/tenants/acme/orders", &headers, now_ms);
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
