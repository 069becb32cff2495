//! The cost of the revocation check on the cached path: `Gate::decide` for a token
//! already in the verified-token cache, with no revocation block and with a denylist of
//! 100,000 entries (25,000 each of `jti`, `sub`, `sid`, `client_id`). The check is at
//! most four hash-map reads, so the ratio should stay near 1 whatever the list's size.
//! Prints ns per decision (median of alternating rounds) and the ratio; asserts no speed.
//!
//! Run: `make bench-revocation` (or `cargo bench -p jwtgate-core --bench revocation`);
//! `BENCH_ROUNDS`, `BENCH_ITERS` and `BENCH_ENTRIES` change the rounds, decisions per
//! round and list size; `BENCH_QUICK=1` is a smoke run (3 rounds x 2,000).

use base64::Engine;
use jwtgate_core::Gate;
use serde_json::{json, Value};
use std::time::{Duration as StdDuration, Instant, SystemTime, UNIX_EPOCH};

mod support;
use support::{env_or, median, Case, AUD, ISS, SECRET};

fn gate(entries: Option<Vec<Value>>) -> Gate {
    let k = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(SECRET);
    let mut provider = json!({
        "issuer": ISS, "audiences": [AUD], "algorithms": ["HS256"],
        "jwks": {"inline": {"keys": [{"kty": "oct", "kid": "k", "alg": "HS256", "k": k}]}}
    });
    if let Some(inline) = entries {
        provider["revocation"] = json!({ "inline": inline });
    }
    let config = json!({
        "providers": {"a": provider},
        "rules": [{"match": {"prefix": "/api/"}, "requires": {"provider": "a"}, "scopes": ["read"]}]
    });
    Gate::from_json(&config.to_string(), 7).expect("bench config loads")
}

/// `n` entries spread over the four kinds, none matching the bench token.
fn entries(n: usize, exp: u64) -> Vec<Value> {
    (0..n)
        .map(|i| match i % 4 {
            0 => json!({"jti": format!("jti-{i:08}-revoked"), "exp": exp}),
            1 => json!({"sub": format!("user-{i:08}"), "iat_before": exp - 7200, "exp": exp}),
            2 => json!({"sid": format!("session-{i:08}"), "exp": exp}),
            _ => json!({"client_id": format!("client-{i:08}"), "exp": exp}),
        })
        .collect()
}

fn token() -> String {
    let extra = json!({"scope": "read", "jti": "jti-live-token", "sid": "session-live", "client_id": "client-live"});
    support::hs256_token(extra, 600, Some("user-live"))
}

fn main() {
    let quick = std::env::var("BENCH_QUICK").is_ok_and(|v| v == "1");
    let rounds = env_or("BENCH_ROUNDS", if quick { 3usize } else { 9 }).max(1);
    let iters = env_or("BENCH_ITERS", if quick { 2_000u32 } else { 20_000 }).max(1);
    let n = env_or("BENCH_ENTRIES", 100_000usize);
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(StdDuration::ZERO).as_millis() as u64;
    let headers = vec![("authorization".to_owned(), format!("Bearer {}", token()))];
    let loaded = Instant::now();
    let listed = gate(Some(entries(n, now_ms / 1000 + 3600)));
    let load_ms = loaded.elapsed().as_millis();
    let mut plain = Case::new(gate(None), "/api/orders", &headers, now_ms);
    let mut listed = Case::new(listed, "/api/orders", &headers, now_ms);
    let (mut p_ns, mut l_ns, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let p = plain.round(now_ms, iters);
        let l = listed.round(now_ms, iters);
        p_ns.push(p);
        l_ns.push(l);
        ratios.push(l / p);
    }
    let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
    let (plain, listed, ratio) = (median(p_ns), median(l_ns), median(ratios));
    println!("Gate::decide, cached token, median of {rounds} alternating rounds x {iters} decisions:");
    println!("  no revocation block:        {plain:9.0} ns/decision");
    println!("  denylist of {n:>7} entries: {listed:9.0} ns/decision (config with the list loaded in {load_ms} ms)");
    println!("  ratio (denylist / none), median of per-round ratios: {ratio:.2} (spread {lo:.2}-{hi:.2})");
    let doc = json!({
        "rounds": rounds, "iters": iters, "entries": n, "plain_ns": plain.round(), "denylist_ns": listed.round(),
        "ratio": (ratio * 1000.0).round() / 1000.0, "load_ms": load_ms,
        "ratio_min": (lo * 1000.0).round() / 1000.0, "ratio_max": (hi * 1000.0).round() / 1000.0,
    });
    println!("BENCH_REVOCATION {doc}");
}
