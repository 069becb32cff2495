//! Validating the sender-constraint settings: `sender_constraint` of providers and
//! rules, the top-level `dpop` block and `dpop_nonce`.

use super::defaults;
use super::raw::{RawDpop, RawDpopNonce};
use super::validate::{err, required, R};
use super::{ProviderConfig, Requirement, Rule, TokenSource};
use crate::alg::Alg;
use crate::sender::nonce::NonceConfig;
use crate::sender::{DpopConfig, ForwardedTrust, SenderConstraint};

pub fn constraint(field: &str, value: Option<&str>) -> R<Option<SenderConstraint>> {
    match value {
        None => Ok(None),
        Some(v) => match SenderConstraint::parse(v) {
            Some(c) => Ok(Some(c)),
            None => err(field, "must be \"none\", \"dpop_optional\", \"dpop_required\", \"mtls\" or \"dpop_or_mtls\""),
        },
    }
}

pub fn dpop(raw: Option<RawDpop>, nonce: Option<RawDpopNonce>) -> R<DpopConfig> {
    let raw = raw.unwrap_or_default();
    let algorithms = match raw.algorithms {
        None => defaults::DPOP_ALGORITHMS.iter().filter_map(|a| Alg::parse(a)).collect(),
        Some(list) if list.is_empty() => return err("dpop.algorithms", "must not be empty"),
        Some(list) => {
            let mut out = Vec::new();
            for (i, name) in list.iter().enumerate() {
                match Alg::parse(name) {
                    Some(a) if !a.is_symmetric() => out.push(a),
                    _ => {
                        return err(
                            format!("dpop.algorithms[{i}]"),
                            format!("{name:?} is not an asymmetric JWS algorithm"),
                        )
                    }
                }
            }
            out
        }
    };
    let max_age_s = raw.max_age_s.unwrap_or(defaults::DPOP_MAX_AGE_S);
    if max_age_s == 0 || max_age_s > defaults::MAX_DPOP_MAX_AGE_S {
        return err("dpop.max_age_s", format!("must be between 1 and {}", defaults::MAX_DPOP_MAX_AGE_S));
    }
    let clock_skew_s = raw.clock_skew_s.unwrap_or(defaults::DPOP_CLOCK_SKEW_S);
    if clock_skew_s > defaults::MAX_DPOP_CLOCK_SKEW_S {
        return err("dpop.clock_skew_s", format!("must be at most {}", defaults::MAX_DPOP_CLOCK_SKEW_S));
    }
    let max_proof_bytes = raw.max_proof_bytes.unwrap_or(defaults::DPOP_MAX_PROOF_BYTES);
    let range = defaults::DPOP_PROOF_BYTES_RANGE;
    if !range.contains(&max_proof_bytes) {
        return err("dpop.max_proof_bytes", format!("must be between {} and {}", range.start(), range.end()));
    }
    let replay_cache_size = raw.replay_cache_size.unwrap_or(defaults::DPOP_REPLAY_CACHE_SIZE);
    let range = defaults::DPOP_REPLAY_CACHE_RANGE;
    if !range.contains(&replay_cache_size) {
        return err("dpop.replay_cache_size", format!("must be between {} and {}", range.start(), range.end()));
    }
    let mut trust_forwarded = ForwardedTrust::default();
    for (i, h) in raw.trusted_forwarded_headers.iter().enumerate() {
        match h.to_ascii_lowercase().as_str() {
            "x-forwarded-proto" => trust_forwarded.proto = true,
            "x-forwarded-host" => trust_forwarded.host = true,
            _ => {
                return err(
                    format!("dpop.trusted_forwarded_headers[{i}]"),
                    "only \"x-forwarded-proto\" and \"x-forwarded-host\" can be trusted",
                )
            }
        }
    }
    let nonce = nonce.map(nonce_config).transpose()?;
    Ok(DpopConfig { algorithms, max_age_s, clock_skew_s, max_proof_bytes, replay_cache_size, trust_forwarded, nonce })
}

fn nonce_config(raw: RawDpopNonce) -> R<NonceConfig> {
    let key = required("dpop_nonce.key", raw.key)?;
    if key.len() < defaults::DPOP_NONCE_MIN_KEY_BYTES {
        return err("dpop_nonce.key", format!("needs at least {} bytes", defaults::DPOP_NONCE_MIN_KEY_BYTES));
    }
    let window_s = raw.window_s.unwrap_or(defaults::DPOP_NONCE_WINDOW_S);
    let range = defaults::DPOP_NONCE_WINDOW_RANGE_S;
    if !range.contains(&window_s) {
        return err("dpop_nonce.window_s", format!("must be between {} and {}", range.start(), range.end()));
    }
    Ok(NonceConfig { key: key.into_bytes(), window_s })
}

/// Providers that may see a DPoP-scheme token (their own constraint, or a rule naming
/// them accepts DPoP) also read `Authorization: DPoP …`.
pub fn add_dpop_sources(providers: &mut [ProviderConfig], rules: &[Rule]) {
    for (i, p) in providers.iter_mut().enumerate() {
        let by_rule = rules.iter().any(|r| r.sender_constraint.is_some_and(|c| c.accepts_dpop()) && names(r, i));
        let scheme = TokenSource::dpop_scheme();
        if (p.sender_constraint.accepts_dpop() || by_rule) && !p.sources.contains(&scheme) {
            p.sources.push(scheme);
        }
    }
}

fn names(rule: &Rule, provider: usize) -> bool {
    match &rule.requirement {
        Requirement::Public => false,
        Requirement::Provider(p) => *p == provider,
        Requirement::AnyOf(ps) | Requirement::AllOf(ps) | Requirement::AllowMissing(ps) => ps.contains(&provider),
    }
}
