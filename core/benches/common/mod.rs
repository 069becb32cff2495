//! What the native micro-benchmarks share: a gate with one cached token, timed rounds of
//! `Gate::decide`, the median, and settings from the environment.

use jwtgate_core::{Decision, Gate, RequestView};
use std::hint::black_box;
use std::time::Instant;

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
        let start = Instant::now();
        for _ in 0..iters {
            black_box(self.gate.decide(black_box(&self.view), now_ms, now_ms));
        }
        start.elapsed().as_nanos() as f64 / f64::from(iters)
    }
}

pub fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}
