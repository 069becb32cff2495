//! What the core's micro-benchmarks share: a gate with one cached token, timing rounds of
//! `Gate::decide`, medians, spreads and the environment knobs (`BENCH_ROUNDS`,
//! `BENCH_ITERS`).

// Each bench compiles this module on its own and uses part of it.
#![allow(dead_code)]

use jwt_simple::prelude::{Claims, Duration as JwtDuration, HS256Key, MACLike};
use jwtgate_core::{Decision, Gate, RequestView};
use serde_json::{json, Value};
use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The benches' HS256 issuer: its secret, `iss` and `aud`.
pub const SECRET: &[u8] = b"bench-secret-bench-secret-bench-secret!";
pub const ISS: &str = "https://idp.bench";
pub const AUD: &str = "api://bench";

/// The policy-heavy rule both `policy` and `decide` time: a path template and a
/// 5-condition `require` tree on the provider `a`, which `policy_claims` satisfies.
pub fn five_conditions_rule() -> Value {
    json!({"name": "five_conditions", "match": {"template": "/tenants/{tenant}/**"}, "requires": {"provider": "a"},
    "require": {"all": [
       {"claim": "tenant", "op": "eq", "from": "path.tenant"},
       {"claim": "roles", "op": "contains", "value": "orders:write"},
       {"claim": "email_verified", "op": "eq", "value": true},
       {"claim": "level", "op": "ge", "value": 2},
       {"claim": "email", "op": "matches", "value": "[a-z.]+@acme\\.example"}
    ]}})
}

/// Claims that pass `five_conditions_rule` on `/tenants/acme/...`.
pub fn policy_claims() -> Value {
    json!({"tenant": "acme", "roles": ["orders:read", "orders:write", "reports:read"],
           "email_verified": true, "level": 3, "email": "ann.lee@acme.example"})
}

/// An HS256 token of the bench issuer with `extra` claims, valid for `lifetime_s`.
pub fn hs256_token(extra: Value, lifetime_s: u64, sub: Option<&str>) -> String {
    let extra: serde_json::Map<String, Value> = serde_json::from_value(extra).expect("object");
    let claims =
        Claims::with_custom_claims(extra, JwtDuration::from_secs(lifetime_s)).with_issuer(ISS).with_audience(AUD);
    let claims = match sub {
        Some(s) => claims.with_subject(s),
        None => claims,
    };
    HS256Key::from_bytes(SECRET).with_key_id("k").authenticate(claims).expect("signs")
}

/// One gate, request and token, already decided once (so the token is cached).
pub struct Case<'a> {
    gate: Gate,
    view: RequestView<'a>,
}

impl<'a> Case<'a> {
    pub fn new(mut gate: Gate, path: &'a str, headers: &'a [(String, String)], now_ms: u64) -> Case<'a> {
        let view = RequestView { method: "GET", path, headers, conn: Default::default() };
        // The first decision verifies the token and caches it; the rounds hit the cache.
        assert!(matches!(gate.decide(&view, now_ms, now_ms), Decision::Allow(_)), "{path} must be allowed");
        Case { gate, view }
    }

    /// ns per decision over `iters` decisions.
    pub fn round(&mut self, now_ms: u64, iters: u32) -> f64 {
        ns_per_decision(&mut self.gate, &self.view, now_ms, iters)
    }
}

/// ns per decision over `iters` decisions of `view`.
pub fn ns_per_decision(gate: &mut Gate, view: &RequestView<'_>, now_ms: u64, iters: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(gate.decide(black_box(view), now_ms, now_ms));
    }
    start.elapsed().as_nanos() as f64 / f64::from(iters)
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// (lowest, highest) of the per-round ratios.
pub fn spread(ratios: &[f64]) -> (f64, f64) {
    ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)))
}

/// Rounds to three decimals, for the JSON line.
pub fn milli(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// (rounds, decisions per round) from `BENCH_ROUNDS` / `BENCH_ITERS` (defaults 9, 20,000).
pub fn rounds_and_iters() -> (usize, u32) {
    (env_or("BENCH_ROUNDS", 9usize).max(1), env_or("BENCH_ITERS", 20_000u32).max(1))
}

pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_millis() as u64
}

/// ns per decision of a base path and a measured path over the same rounds.
#[derive(Default)]
pub struct Rounds {
    base: Vec<f64>,
    measured: Vec<f64>,
}

impl Rounds {
    pub fn push(&mut self, base_ns: f64, measured_ns: f64) {
        self.base.push(base_ns);
        self.measured.push(measured_ns);
    }

    /// Prints the two medians and the ratio (`labels`: base, measured) and returns the
    /// JSON the harness reads (`<keys.0>`, `<keys.1>`, ratio and its spread). The
    /// per-round ratio is steadier than the ratio of medians on a shared machine.
    pub fn report(self, labels: (&str, &str), keys: (&str, &str), rounds: usize, iters: usize) -> Value {
        let ratios: Vec<f64> = self.base.iter().zip(&self.measured).map(|(b, m)| m / b).collect();
        let (lo, hi) = spread(&ratios);
        let (base, measured, ratio) = (median(self.base), median(self.measured), median(ratios));
        println!("Gate::decide, median of {rounds} alternating rounds x {iters} decisions:");
        println!("  {:28} {base:9.0} ns/decision", labels.0);
        println!("  {:28} {measured:9.0} ns/decision", labels.1);
        println!("  ratio, median of per-round ratios: {ratio:.2} (spread {lo:.2}-{hi:.2})");
        let mut doc = json!({
            "rounds": rounds, "iters": iters,
            "ratio": milli(ratio), "ratio_min": milli(lo), "ratio_max": milli(hi),
        });
        doc[keys.0] = json!(base.round());
        doc[keys.1] = json!(measured.round());
        doc
    }
}
