//! Where the policy meets a decision pass (`decide.rs`): after a token is verified
//! (fresh or cached), and once the decision is made (labelling it, and turning it into
//! a pass-through in report-only mode).

use super::{evaluate, Inputs, Mode, Verdict, UNMATCHED_RULE};
use crate::cache::Verified;
use crate::config::{GateConfig, Requirement, Rule, TokenSource};
use crate::decision::{Allowed, Decision};
use crate::error::AuthError;
use crate::extract::{extract, removal_edits};
use crate::request::RequestView;
use serde_json::Map;

/// The rule a request matched and its template captures.
pub struct Matched<'c, 'p> {
    pub rule: &'c Rule,
    pub captures: Vec<&'p str>,
}

/// The rule's mode, else the gate's.
pub fn mode_of(config: &GateConfig, rule: Option<&Rule>) -> Mode {
    rule.and_then(|r| r.mode).unwrap_or(config.mode)
}

/// Scopes, then the `require` tree, for a verified token.
pub fn authorize(m: &Matched<'_, '_>, v: &Verified, req: &RequestView<'_>) -> Result<(), AuthError> {
    authorize_grant(m, &v.scopes, v.claims.as_deref(), req)
}

/// Scopes, then the `require` tree, for whatever a credential grants: a token's scopes
/// and claims, or an API-key application's scopes and metadata (the same checks).
pub fn authorize_grant(
    m: &Matched<'_, '_>,
    scopes: &[String],
    claims: Option<&Map<String, serde_json::Value>>,
    req: &RequestView<'_>,
) -> Result<(), AuthError> {
    let rule = m.rule;
    if !rule.scopes.iter().all(|s| scopes.contains(s)) {
        return Err(AuthError::InsufficientScope(rule.scopes.join(" ")));
    }
    let Some(policy) = &rule.require else { return Ok(()) };
    let empty = Map::new();
    let claims = claims.unwrap_or(&empty);
    evaluate(policy, &Inputs { claims, captures: &m.captures, request: req })
}

/// Labels the decision with its rule and mode; in report-only mode a denial becomes a
/// pass-through that carries the verdict (headers stripped, no claim headers). A path
/// or host that cannot be matched safely (400) is never passed through.
pub fn finish(config: &GateConfig, d: Decision, rule: Option<&Rule>, req: &RequestView<'_>) -> Decision {
    let name = rule.map_or(UNMATCHED_RULE, |r| r.name.as_str());
    let mode = mode_of(config, rule);
    match d {
        Decision::Allow(mut a) => {
            let v = a.verdict.get_or_insert_with(|| Verdict::allow(name, mode)).clone();
            report_header(config, &mut a, &v);
            Decision::Allow(a)
        }
        Decision::Deny(d) if mode == Mode::ReportOnly && d.status != 400 => {
            let v = Verdict::deny(name, &d.reason, mode);
            let mut a = Allowed { remove: config.strip.to_remove(req), ..Allowed::default() };
            remove_token(config, rule, req, &mut a);
            a.token_hash = d.token_hash;
            report_header(config, &mut a, &v);
            a.verdict = Some(v);
            Decision::Allow(a)
        }
        Decision::Deny(mut d) => {
            d.verdict = Some(Verdict::deny(name, &d.reason, Mode::Enforce));
            Decision::Deny(d)
        }
        other => other,
    }
}

/// A token that failed is not forwarded either (unless every provider of the rule
/// forwards tokens): the upstream gets what an allowed request would give it.
fn remove_token(config: &GateConfig, rule: Option<&Rule>, req: &RequestView<'_>, a: &mut Allowed) {
    let ps: &[usize] = match rule.map(|r| &r.requirement) {
        Some(Requirement::Provider(p)) => std::slice::from_ref(p),
        Some(Requirement::AnyOf(ps) | Requirement::AllOf(ps) | Requirement::AllowMissing(ps)) => ps,
        Some(Requirement::Public) | None => return,
    };
    if ps.iter().all(|p| config.providers[*p].forward_token) {
        return;
    }
    let sources = config.sources_of(ps);
    let found: Vec<&TokenSource> = match extract(req, &sources) {
        Ok(None) => return,
        Ok(Some(f)) => sources.iter().copied().filter(|s| **s == f.source).collect(),
        Err(_) => sources,
    };
    for s in found {
        let (remove, set) = removal_edits(req, s);
        a.remove.extend(remove);
        a.set.extend(set);
    }
}

fn report_header(config: &GateConfig, a: &mut Allowed, v: &Verdict) {
    if let (Some(h), Mode::ReportOnly) = (&config.report_header, v.mode) {
        a.response_headers.push((h.clone(), v.header_value()));
    }
}
