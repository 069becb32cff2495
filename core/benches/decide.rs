//! Where a decision's time goes, natively, with criterion: `Gate::decide` on
//! - a cached hit (an RS256 token already in the verified-token cache),
//! - a unique RS256 token through a stub verifier: the `Verify` job path (`decide` →
//!   `Decision::Verify` → `resume(job, true)`), so the figure is the core's own work on a
//!   token it has not seen (parse, key lookup, claims, cache insert) without the RSA
//!   arithmetic a host's verifier does,
//! - policy-heavy rules: a cached token on a route behind 30 non-matching rules whose
//!   own rule has a 5-condition `require` tree.
//!
//! `make bench` runs it (bench/harness/criterion.py reads criterion's estimates.json) and
//! reports ns per decision; `cargo bench -p jwtgate-core --bench decide` alone works too.
//! Criterion rather than the hand-rolled rounds of `policy.rs`: it warms up, sizes the
//! iteration count itself, and reports a confidence interval, which a single absolute
//! ns/decision figure needs (the other benches state ratios of alternating rounds).

mod support;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use jwt_simple::prelude::{Claims, Duration as JwtDuration, RS256KeyPair, RSAKeyPairLike};
use jwtgate_core::{Decision, Gate, GateConfig, RequestView, Verifier};
use serde_json::{json, Value};
use std::hint::black_box;
use support::{now_ms, AUD, ISS};

const PEM: &str = include_str!("../testdata/rsa2048.pem");
const JWKS: &str = include_str!("../testdata/rsa2048.jwks.json");
/// Distinct tokens the unique case cycles through; the gate's cache holds fewer, so every
/// decision misses (and pays the insert and eviction a real miss pays).
const UNIQUE_TOKENS: usize = 512;
const UNIQUE_CACHE: usize = 256;

/// A gate on the RS256 test key with the asynchronous verifier: asymmetric signatures
/// come back as `Verify` jobs, which the bench answers itself (the stub verifier).
fn gate(extra_rules: usize, token_cache_size: usize) -> Gate {
    let jwks: Value = serde_json::from_str(JWKS).expect("test JWKS");
    let mut rules: Vec<Value> = (0..extra_rules)
        .map(|i| json!({"match": {"prefix": format!("/other-{i}/")}, "requires": {"provider": "a"}}))
        .collect();
    rules.push(support::five_conditions_rule());
    rules.push(json!({"match": {"prefix": "/"}, "requires": {"provider": "a"}}));
    let config = json!({
        "token_cache_size": token_cache_size,
        "providers": {"a": {"issuer": ISS, "audiences": [AUD], "jwks": {"inline": jwks}}},
        "rules": rules,
    });
    let config = GateConfig::from_json(&config.to_string()).expect("bench config loads");
    Gate::new(config, Verifier::Async, 7)
}

/// RS256 tokens of the bench issuer, one per subject `prefix-0 .. prefix-(n-1)`.
fn tokens(n: usize, prefix: &str) -> Vec<String> {
    let key = RS256KeyPair::from_pem(PEM).expect("test key").with_key_id("rsa-2048");
    let extra: serde_json::Map<String, Value> = serde_json::from_value(support::policy_claims()).expect("an object");
    (0..n)
        .map(|i| {
            let claims = Claims::with_custom_claims(extra.clone(), JwtDuration::from_hours(1))
                .with_issuer(ISS)
                .with_audience(AUD)
                .with_subject(format!("{prefix}-{i}"));
            key.sign(claims).expect("signs")
        })
        .collect()
}

/// The headers a proxied request carries (what Envoy hands the filter), with `token`.
fn headers(token: &str) -> Vec<(String, String)> {
    [
        (":method", "GET"),
        (":scheme", "http"),
        (":authority", "127.0.0.1:9600"),
        (":path", "/"),
        ("user-agent", "wrk"),
        ("accept", "*/*"),
        ("x-forwarded-proto", "http"),
        ("x-request-id", "0b7f3a52-6c1e-4d1e-9a55-3f1c2d7e8a90"),
        ("authorization", &format!("Bearer {token}")),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// One decision, answering a `Verify` job with "valid" (the stub verifier).
fn decide(gate: &mut Gate, view: &RequestView<'_>, now: u64) -> Decision {
    match gate.decide(view, now, now) {
        Decision::Verify(job) => gate.resume(*job, true, now),
        other => other,
    }
}

fn view<'a>(path: &'a str, headers: &'a [(String, String)]) -> RequestView<'a> {
    RequestView { method: "GET", path, headers, conn: Default::default() }
}

fn cached(c: &mut Criterion, name: &str, path: &str, extra_rules: usize) {
    let mut g = gate(extra_rules, 4096);
    let h = headers(&tokens(1, name)[0]);
    let v = view(path, &h);
    let now = now_ms();
    assert!(matches!(decide(&mut g, &v, now), Decision::Allow(_)), "{name}: {path} must be allowed");
    assert!(matches!(g.decide(&v, now, now), Decision::Allow(_)), "{name}: the second decision is a cache hit");
    c.bench_function(name, |b| b.iter(|| black_box(g.decide(black_box(&v), now, now))));
}

fn unique(c: &mut Criterion) {
    let mut g = gate(0, UNIQUE_CACHE);
    let all: Vec<Vec<(String, String)>> = tokens(UNIQUE_TOKENS, "unique").iter().map(|t| headers(t)).collect();
    let now = now_ms();
    assert!(matches!(g.decide(&view("/", &all[0]), now, now), Decision::Verify(_)), "a new token is a Verify job");
    let mut next = 0usize;
    c.bench_function("unique_rs256_stub_verifier", |b| {
        b.iter_batched(
            || {
                next = (next + 1) % all.len();
                next
            },
            |i| {
                let d = decide(&mut g, &view("/", &all[i]), now);
                debug_assert!(matches!(d, Decision::Allow(_)));
                black_box(d)
            },
            BatchSize::SmallInput,
        )
    });
}

fn decide_benches(c: &mut Criterion) {
    cached(c, "cached_hit_rs256", "/", 0);
    unique(c);
    cached(c, "policy_heavy_cached", "/tenants/acme/orders", 30);
}

criterion_group!(benches, decide_benches);
criterion_main!(benches);
