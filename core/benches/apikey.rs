//! The API-key path against the cached JWT path: `Gate::decide` for a request with a
//! valid API key (checksum, SHA-256, table lookup, header edits) and for a bearer token
//! already in the verified-token cache, on equivalent rules. Prints ns per decision
//! (median of alternating rounds) and the ratio key / cached JWT. No speed is asserted.
//!
//! Run: `make bench-apikey` (or `cargo bench -p jwtgate-core --bench apikey`);
//! `BENCH_ROUNDS` and `BENCH_ITERS` change the rounds and decisions per round.

mod support;

use base64::Engine;
use jwtgate_core::{apikey, Decision, Gate, RequestView};
use serde_json::json;
use support::{median, milli, ns_per_decision, spread, AUD, ISS, SECRET};

fn gate(key: &apikey::NewKey) -> Gate {
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    // A table of 10,000 entries, so the lookup is not a one-entry special case.
    let mut entries: Vec<serde_json::Value> = (0..10_000u32)
        .map(|i| {
            let mut e = [0u8; 32];
            e[..4].copy_from_slice(&i.to_be_bytes());
            json!({"digest": apikey::generate(e).digest_line(), "client": format!("app-{i}")})
        })
        .collect();
    entries.push(json!({"digest": key.digest_line(), "client": "reports-app", "scopes": ["read"],
        "metadata": {"tenant": "acme", "plan": "gold"}}));
    let config = json!({
        "providers": {
            "a": {"issuer": ISS, "audiences": [AUD], "algorithms": ["HS256"],
                  "jwks": {"inline": {"keys": [{"kty": "oct", "kid": "k", "alg": "HS256", "k": k}]}}},
            "keys": {"kind": "api_keys", "keys": entries}
        },
        "rules": [
            {"match": {"prefix": "/jwt/"}, "requires": {"provider": "a"}, "scopes": ["read"]},
            {"match": {"prefix": "/key/"}, "requires": {"provider": "keys"}, "scopes": ["read"]}
        ]
    });
    Gate::from_json(&config.to_string(), 7).expect("bench config loads")
}

fn token() -> String {
    support::hs256_token(json!({"scope": "read write", "tenant": "acme"}), 600, None)
}

fn main() {
    let (rounds, iters) = support::rounds_and_iters();
    let now_ms = support::now_ms();
    let key = apikey::generate([42; 32]);
    let mut gate = gate(&key);
    let jwt_headers = vec![("authorization".to_owned(), format!("Bearer {}", token()))];
    let key_headers = vec![("x-api-key".to_owned(), key.key.clone())];
    let jwt = RequestView { method: "GET", path: "/jwt/orders", headers: &jwt_headers, conn: Default::default() };
    let by_key = RequestView { method: "GET", path: "/key/orders", headers: &key_headers, conn: Default::default() };
    // The first decision verifies and caches the token; every later one is a cache hit.
    for v in [&jwt, &by_key] {
        assert!(matches!(gate.decide(v, now_ms, now_ms), Decision::Allow(_)), "{} must be allowed", v.path);
    }
    let (mut j_ns, mut k_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let j = ns_per_decision(&mut gate, &jwt, now_ms, iters);
        let k = ns_per_decision(&mut gate, &by_key, now_ms, iters);
        j_ns.push(j);
        k_ns.push(k);
        ratios.push(k / j);
    }
    let (lo, hi) = spread(&ratios);
    let (jwt_ns, key_ns, ratio) = (median(j_ns), median(k_ns), median(ratios));
    println!("Gate::decide, median of {rounds} alternating rounds x {iters} decisions:");
    println!("  cached JWT (HS256, scopes rule):        {jwt_ns:9.0} ns/decision");
    println!("  API key (10,001-entry table, scopes):   {key_ns:9.0} ns/decision");
    println!("  ratio (API key / cached JWT), median of per-round ratios: {ratio:.2} (spread {lo:.2}-{hi:.2})");
    let doc = json!({
        "rounds": rounds, "iters": iters, "jwt_cached_ns": jwt_ns.round(), "api_key_ns": key_ns.round(),
        "ratio": milli(ratio), "ratio_min": milli(lo), "ratio_max": milli(hi),
    });
    println!("BENCH_APIKEY {doc}");
}
