//! One decision pass over one request: normalise the path, find the rule, extract the
//! token(s), check each, and build the header edits. A pass starts from `Gate::decide`
//! or, with the verdicts an asynchronous host has given so far, from `Gate::resume`.

use crate::check::{Checked, Checker};
use crate::config::{GateConfig, Requirement, Rule, TokenSource};
use crate::decision::{Allowed, Decision, Denial, DpopChallenge};
use crate::error::AuthError;
use crate::extract::{extract, removal_edits, Found};
use crate::gate::GateState;
use crate::job::{Verdict, Verifier, VerifyJob};
use crate::path;
use crate::policy::{self, Matched, Mode};
use crate::request::RequestView;
use crate::rules;
use crate::sender::replay::Replay;
use crate::sender::{Binder, Bound, Pending};
use crate::trace::{Check, Step, Trace};
use std::ops::ControlFlow;

#[path = "decide_keys.rs"]
mod keys;
#[path = "session/flow.rs"]
mod session_flow;

pub(crate) struct Pass<'g> {
    config: &'g GateConfig,
    state: &'g mut GateState,
    checker: Checker<'g>,
    arrived_ms: u64,
    /// The asynchronous host's verdicts for this request so far.
    verdicts: Vec<Verdict>,
    /// Set once the rule is known, if it accepts DPoP.
    challenge: Option<DpopChallenge>,
    /// Accepted DPoP proofs, recorded in the replay set if the decision is an allow.
    pending: Vec<Pending>,
}

impl<'g> Pass<'g> {
    pub fn new(
        config: &'g GateConfig,
        verifier: &'g Verifier,
        state: &'g mut GateState,
        now_ms: u64,
        arrived_ms: u64,
    ) -> Pass<'g> {
        // The hold ends `startup_hold_ms` after arrival, whichever host holds the request.
        let may_hold = now_ms.saturating_sub(arrived_ms) < config.startup_hold_ms;
        let checker = Checker { config, verifier, now_ms, may_hold };
        Pass { config, state, checker, arrived_ms, verdicts: Vec::new(), challenge: None, pending: Vec::new() }
    }

    pub fn decide(mut self, req: &RequestView<'_>, verdicts: Vec<Verdict>) -> Decision {
        self.verdicts = verdicts;
        let config = self.config;
        let path = match path::normalize(req.path) {
            Ok(p) => p,
            Err(e) => return self.deny(e, None),
        };
        if let Some(d) = self.login_paths(req, &path) {
            return d;
        }
        let matched = match rules::find(&config.rules, &path, req) {
            Ok(m) => m,
            Err(e) => return self.deny(e, None),
        };
        self.challenge = matched.as_ref().and_then(|m| self.challenge_for(m.rule));
        Trace::record(&mut self.state.trace, || Step::Path(path.clone()));
        Trace::record(&mut self.state.trace, || match &matched {
            Some(m) => Step::Rule { index: rule_index(config, m.rule), name: m.rule.name.clone() },
            None => Step::NoRule,
        });
        let decision = match &matched {
            None => self.deny(AuthError::NoMatchingRule, None),
            Some(m) if m.rule.browser.is_some() => self.browser(req, m.rule.browser.unwrap_or_default(), m),
            Some(m) => match &m.rule.requirement {
                Requirement::Public => Decision::Allow(self.base_allow(req)),
                Requirement::Provider(p) => self.require_one(req, std::slice::from_ref(p), false, m),
                Requirement::AnyOf(ps) => self.require_one(req, ps, false, m),
                Requirement::AllowMissing(ps) => self.require_one(req, ps, true, m),
                Requirement::AllOf(ps) => self.require_all(req, ps, m),
            },
        };
        let decision = self.record_proofs(decision);
        // Labels the decision; in report-only mode a denial becomes a pass-through.
        let decision = policy::finish(config, decision, matched.as_ref().map(|m| m.rule), req);
        match decision {
            Decision::Allow(a) => Decision::Allow(forward_normalized(a, req.path, path)),
            other => other,
        }
    }

    fn deny(&self, reason: AuthError, token_hash: Option<String>) -> Decision {
        let mut d = Denial::new(reason, &self.config.realm, token_hash);
        if let Some(ch) = &self.challenge {
            d = d.with_dpop(&self.config.realm, ch);
        }
        Decision::Deny(if self.config.reason_in_body { d.with_reason_in_body() } else { d })
    }

    /// The DPoP challenge of `rule`, if any of its effective sender constraints accepts
    /// DPoP; `required` when every one of them is `dpop_required`.
    fn challenge_for(&self, rule: &Rule) -> Option<DpopChallenge> {
        let providers: &[usize] = match &rule.requirement {
            Requirement::Public => return None,
            Requirement::Provider(p) => std::slice::from_ref(p),
            Requirement::AnyOf(ps) | Requirement::AllOf(ps) | Requirement::AllowMissing(ps) => ps,
        };
        // No allocation: this runs for every request that matches a rule.
        let constraints =
            || providers.iter().map(|p| rule.sender_constraint.unwrap_or(self.config.providers[*p].sender_constraint));
        constraints().any(|c| c.accepts_dpop()).then(|| DpopChallenge {
            required: constraints().all(|c| c == crate::sender::SenderConstraint::DpopRequired),
            algs: self.config.dpop.algs_param(),
            nonce: self.config.dpop.nonce.as_ref().map(|n| n.current(self.checker.now_ms)),
        })
    }

    /// An allow that accepted DPoP proofs records their ids now: a proof seen before is
    /// refused, and a full replay set refuses with 503 (never allows). The client gets
    /// the current nonce with the answer when nonces are on.
    fn record_proofs(&mut self, decision: Decision) -> Decision {
        let Decision::Allow(mut allowed) = decision else { return decision };
        let now = self.checker.now_ms;
        for p in std::mem::take(&mut self.pending) {
            match self.state.replay.admit(p.id, p.expires_ms, now) {
                Replay::Fresh => {}
                Replay::Seen => {
                    return self.deny(AuthError::InvalidDpopProof("the proof was already used"), allowed.token_hash)
                }
                Replay::Full => return self.deny(AuthError::ReplayCacheUnavailable, allowed.token_hash),
            }
            if let Some(ch) = self.challenge.as_ref().and_then(|c| c.nonce.clone()) {
                allowed.response_headers.retain(|(k, _)| k != "dpop-nonce");
                allowed.response_headers.push(("dpop-nonce".to_owned(), ch));
            }
        }
        Decision::Allow(allowed)
    }

    /// The headers this request carries that the gate strips, in whatever spelling the
    /// client used (see `strip.rs`): removing an absent header is a no-op, and each
    /// removal is a host call on the hot path.
    fn base_allow(&self, req: &RequestView<'_>) -> Allowed {
        let remove = self.config.strip.to_remove(req);
        Allowed { remove, ..Allowed::default() }
    }

    fn sources_of(&self, providers: &[usize]) -> Vec<&'g TokenSource> {
        self.config.sources_of(providers)
    }

    /// One credential for one of `ps`: a token, or an API key when `ps` has an
    /// `api_keys` provider; a token *and* a key is two credentials, refused.
    fn require_one(&mut self, req: &RequestView<'_>, ps: &[usize], optional: bool, m: &Matched<'_, '_>) -> Decision {
        let found = match self.extract(req, ps, optional) {
            Err(e) => return self.deny(self.extraction_error(ps, e), None),
            Ok(None) if optional => return Decision::Allow(self.base_allow(req)),
            Ok(None) => return self.deny(self.missing(ps), None),
            Ok(Some(f)) => f,
        };
        let mut allowed = self.base_allow(req);
        let flow = match self.key_provider_for(ps, &found.source) {
            Some(p) => self.admit_key(req, &found, p, m, &mut allowed),
            None => {
                let tokens = self.token_providers(ps);
                self.admit(req, &found, &tokens, m, &mut allowed)
            }
        };
        match flow {
            ControlFlow::Continue(()) => Decision::Allow(allowed),
            ControlFlow::Break(d) => d,
        }
    }

    /// The one token of `ps`'s places, recording where it was found (or that it was not).
    fn extract<'r>(
        &mut self,
        req: &RequestView<'r>,
        ps: &[usize],
        optional: bool,
    ) -> Result<Option<Found<'r>>, AuthError> {
        let found = extract(req, &self.sources_of(ps));
        Trace::record(&mut self.state.trace, || match &found {
            Ok(Some(f)) => Step::Token(f.source.clone()),
            Ok(None) => Step::NoToken { optional },
            Err(e) => Step::Check { provider: None, check: Check::Credential, outcome: Err(e.clone()) },
        });
        found
    }

    /// Every provider's token, in the rule's order; the first that fails decides.
    fn require_all(&mut self, req: &RequestView<'_>, ps: &[usize], m: &Matched<'_, '_>) -> Decision {
        let mut allowed = self.base_allow(req);
        for p in ps {
            let found = match self.extract(req, std::slice::from_ref(p), false) {
                Err(e) => return self.deny(e, None),
                Ok(None) => return self.deny(AuthError::MissingToken, None),
                Ok(Some(f)) => f,
            };
            if let ControlFlow::Break(d) = self.admit(req, &found, std::slice::from_ref(p), m, &mut allowed) {
                return d;
            }
        }
        Decision::Allow(allowed)
    }

    /// Verifies one found token for one of `ps` and adds its header edits to `allowed`;
    /// `Break` ends the request's decision here.
    fn admit(
        &mut self,
        req: &RequestView<'_>,
        found: &Found<'_>,
        ps: &[usize],
        m: &Matched<'_, '_>,
        allowed: &mut Allowed,
    ) -> ControlFlow<Decision> {
        // The log label, from the cache entry on a hit (a SHA-256 of the token costs
        // more than the rest of the cached path).
        let key = self.state.cache.key(found.token);
        let hash = self.state.cache.label(&key, found.token);
        let v = match self.checker.check(self.state, found, key, ps, &self.verdicts, m.rule.introspect) {
            Checked::Ok(v) => v,
            Checked::NeedKeys(provider) => return ControlFlow::Break(Decision::NeedKeys { provider }),
            Checked::Ask(ask) => {
                // The pass ends here; the job carries the request and the verdicts so far.
                let verdicts = std::mem::take(&mut self.verdicts);
                let job = VerifyJob::new(ask, req.to_owned_request(), self.arrived_ms, verdicts);
                return ControlFlow::Break(Decision::Verify(Box::new(job)));
            }
            Checked::Err(e) => return ControlFlow::Break(self.deny(e, Some(hash))),
        };
        // The holder of the token, as the route's sender constraint requires.
        let constraint = m.rule.sender_constraint.unwrap_or(self.config.providers[v.provider].sender_constraint);
        let binder = Binder {
            dpop: &self.config.dpop,
            verifier: self.checker.verifier,
            now_ms: self.checker.now_ms,
            verdicts: &self.verdicts,
        };
        match binder.bind(constraint, req, found, &v.cnf) {
            Bound::Ok(pending) => self.pending.extend(pending),
            Bound::Ask(ask) => {
                let verdicts = std::mem::take(&mut self.verdicts);
                let job = VerifyJob::new(ask, req.to_owned_request(), self.arrived_ms, verdicts);
                return ControlFlow::Break(Decision::Verify(Box::new(job)));
            }
            Bound::Err(e) => return ControlFlow::Break(self.deny(e, Some(hash))),
        }
        // Scopes and `require`; in report-only mode a failure is recorded and the valid
        // token's claim headers are still set.
        let name = &self.config.providers[v.provider].name;
        let authorized = policy::authorize(m, &v, req);
        let authorized = Trace::check(&mut self.state.trace, Some(name), Check::Authorize, authorized);
        if let Err(e) = authorized {
            match policy::mode_of(self.config, Some(m.rule)) {
                Mode::Enforce => return ControlFlow::Break(self.deny(e, Some(hash))),
                Mode::ReportOnly => {
                    allowed.verdict.get_or_insert_with(|| policy::Verdict::deny(&m.rule.name, &e, Mode::ReportOnly));
                }
            }
        }
        let p = v.provider;
        allowed.set.extend(v.headers.iter().cloned());
        if !self.config.providers[p].forward_token {
            let (remove, set) = removal_edits(req, &found.source);
            allowed.remove.extend(remove);
            allowed.set.extend(set);
        }
        allowed.token_hash = Some(hash);
        allowed.stale_keys |= self.state.keys[p].is_stale();
        ControlFlow::Continue(())
    }
}

/// `rule`'s position in the config (it is one of `config.rules`).
fn rule_index(config: &GateConfig, rule: &crate::config::Rule) -> usize {
    config.rules.iter().position(|r| std::ptr::eq(r, rule)).unwrap_or(usize::MAX)
}

/// The upstream gets the path the decision was made on: `path` and `target` always say
/// it, and if normalising changed it, a `:path` edit rewrites the allowed request (query
/// kept, fragment dropped). Behind Envoy, which normalises first, the edit never fires;
/// at the edge it keeps a backend from reading `/public/./x` or `//public/x` differently
/// than the gate did.
fn forward_normalized(mut a: Allowed, raw: &str, normalized: String) -> Allowed {
    let raw_path = &raw[..raw.find(['?', '#']).unwrap_or(raw.len())];
    let had_fragment = raw.contains('#');
    let current = a.set.iter().rev().find(|(k, _)| k == ":path").map(|(_, v)| v.clone());
    let query_of = |p: &str| p.split('#').next().and_then(|p| p.split_once('?')).map(|(_, q)| q.to_owned());
    let query = match &current {
        Some(edited) => query_of(edited),
        None => query_of(raw),
    };
    a.target = match query {
        Some(q) if !q.is_empty() => format!("{normalized}?{q}"),
        _ => normalized.clone(),
    };
    if raw_path != normalized || had_fragment {
        a.set.retain(|(k, _)| k != ":path");
        a.set.push((":path".to_owned(), a.target.clone()));
    }
    a.path = normalized;
    a
}
