//! What the native micro-benchmarks share: reading their knobs, and summarising
//! alternating rounds of two paths as medians and a ratio (a shared machine's load falls
//! on both paths alike, so the per-round ratio is steadier than the ratio of medians).

use serde_json::{json, Value};

pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
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
    /// JSON the harness reads (`<keys.0>`, `<keys.1>`, ratio and its spread).
    pub fn report(self, labels: (&str, &str), keys: (&str, &str), rounds: usize, iters: usize) -> Value {
        let ratios: Vec<f64> = self.base.iter().zip(&self.measured).map(|(b, m)| m / b).collect();
        let (lo, hi) = ratios.iter().fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(*r), hi.max(*r)));
        let (base, measured, ratio) = (median(self.base), median(self.measured), median(ratios));
        println!("Gate::decide, median of {rounds} alternating rounds x {iters} decisions:");
        println!("  {:28} {base:9.0} ns/decision", labels.0);
        println!("  {:28} {measured:9.0} ns/decision", labels.1);
        println!("  ratio, median of per-round ratios: {ratio:.2} (spread {lo:.2}-{hi:.2})");
        let round3 = |x: f64| (x * 1000.0).round() / 1000.0;
        let mut doc = json!({
            "rounds": rounds, "iters": iters,
            "ratio": round3(ratio), "ratio_min": round3(lo), "ratio_max": round3(hi),
        });
        doc[keys.0] = json!(base.round());
        doc[keys.1] = json!(measured.round());
        doc
    }
}
