//! An explanation of one decision, for tools (the `jwtgate check` CLI): which rule
//! matched, where the token was found and which checks ran, in the order the decision
//! pass ran them. Filled only by [`crate::Gate::explain`]: the pass keeps an
//! `Option<Box<Trace>>` in the gate state that is `None` on the hosts' hot path, so a
//! normal decision pays one branch per step and allocates nothing for it.

use crate::config::TokenSource;
use crate::error::AuthError;
use std::fmt;

/// The steps of one decision, in order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Trace {
    pub steps: Vec<Step>,
}

/// One thing the decision pass did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// The path the rules were matched on (after normalisation).
    Path(String),
    /// The first rule that matched (index into the config's rules, and its name).
    Rule { index: usize, name: String },
    /// No rule matched: deny by default.
    NoRule,
    /// A token was found in this place.
    Token(TokenSource),
    /// No token in any place the rule's providers read.
    NoToken { optional: bool },
    /// One check of one token, for one provider (`None` before a provider is chosen).
    Check { provider: Option<String>, check: Check, outcome: Result<(), AuthError> },
}

/// The checks of a token, in the order the pass runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// The credential's form: one token, in one place, with a well-formed scheme.
    Credential,
    /// The token was verified before (verified-token cache), and is re-checked here.
    Cache,
    /// Compact JWS: three base64url segments, JSON header and claims, size bound.
    Parse,
    /// `iss` names one of the rule's providers.
    Issuer,
    /// The token came from a place this provider reads.
    Source,
    /// `max_token_bytes`.
    Size,
    /// `alg` is in the provider's allow-list.
    Algorithm,
    /// `typ` matches `token_type`.
    TokenType,
    /// A trusted key for `kid` and `alg`.
    Key,
    Signature,
    /// `exp`, `nbf`, `iat`, lifetime, `iss`, `aud`, `sub` type.
    Claims,
    /// Claims copied to headers have an unambiguous header form.
    ClaimHeaders,
    /// Claims the `require` trees read are within the evaluation bounds.
    PolicyClaims,
    /// The rule's `scopes` and `require` tree.
    Authorize,
}

impl Check {
    pub fn label(self) -> &'static str {
        match self {
            Check::Credential => "credential",
            Check::Cache => "cache",
            Check::Parse => "parse",
            Check::Issuer => "issuer",
            Check::Source => "source",
            Check::Size => "size",
            Check::Algorithm => "algorithm",
            Check::TokenType => "token_type",
            Check::Key => "key",
            Check::Signature => "signature",
            Check::Claims => "claims",
            Check::ClaimHeaders => "claim_headers",
            Check::PolicyClaims => "policy_claims",
            Check::Authorize => "authorize",
        }
    }
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Header { name, prefix } => write!(f, "header {name} (prefix {prefix:?})"),
            TokenSource::Query(q) => write!(f, "query parameter {q}"),
            TokenSource::Cookie(c) => write!(f, "cookie {c}"),
            TokenSource::Session => f.write_str("session cookie"),
        }
    }
}

impl Trace {
    /// Records a step when tracing; `step` is built only then.
    pub(crate) fn record(trace: &mut Option<Box<Trace>>, step: impl FnOnce() -> Step) {
        if let Some(t) = trace.as_mut() {
            t.steps.push(step());
        }
    }

    /// Records the outcome of `check`, passing the outcome through.
    pub(crate) fn check<T>(
        trace: &mut Option<Box<Trace>>,
        provider: Option<&str>,
        check: Check,
        outcome: Result<T, AuthError>,
    ) -> Result<T, AuthError> {
        if let Some(t) = trace.as_mut() {
            let o = outcome.as_ref().map(|_| ()).map_err(Clone::clone);
            t.steps.push(Step::Check { provider: provider.map(str::to_owned), check, outcome: o });
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::*;
    use crate::AuthError;
    use serde_json::json;

    fn checks(t: &Trace) -> Vec<(&'static str, bool)> {
        let step = |s: &Step| match s {
            Step::Check { check, outcome, .. } => Some((check.label(), outcome.is_ok())),
            _ => None,
        };
        t.steps.iter().filter_map(step).collect()
    }

    #[test]
    fn explains_the_rule_the_place_and_every_check_of_an_allowed_token() {
        let mut w = world();
        let token = es256_token(&w.ec_a, &payload(json!({"scope": "admin"})));
        let r = bearer("/admin/x", &token);
        let (d, t) = w.gate.explain(&r.view(), NOW_MS, NOW_MS);
        assert!(matches!(d, crate::Decision::Allow(_)));
        assert_eq!(t.steps[0], Step::Path("/admin/x".into()));
        assert_eq!(t.steps[1], Step::Rule { index: 1, name: "rule_1".into() });
        assert!(matches!(&t.steps[2], Step::Token(crate::TokenSource::Header { name, .. }) if name == "authorization"));
        let expected = [
            "parse",
            "issuer",
            "source",
            "size",
            "algorithm",
            "key",
            "signature",
            "claims",
            "claim_headers",
            "policy_claims",
            "authorize",
        ];
        assert_eq!(checks(&t), expected.iter().map(|c| (*c, true)).collect::<Vec<_>>());
    }

    #[test]
    fn stops_at_the_failing_check_and_names_its_reason() {
        let mut w = world();
        let token = es256_token(&w.ec_a, &payload(json!({"aud": "other"})));
        let (d, t) = w.gate.explain(&bearer("/api/x", &token).view(), NOW_MS, NOW_MS);
        assert_eq!(denied(d).reason, AuthError::WrongAudience);
        let last = t.steps.last().expect("steps");
        assert_eq!(
            *last,
            Step::Check { provider: Some("a".into()), check: Check::Claims, outcome: Err(AuthError::WrongAudience) }
        );
        let token = es256_token(&w.ec_a, &payload(json!({})));
        let (_, t) = w.gate.explain(&bearer("/admin/x", &token).view(), NOW_MS, NOW_MS);
        assert_eq!(checks(&t).last(), Some(&("authorize", false)));
        let (_, t) = w.gate.explain(&bearer("/nowhere", &token).view(), NOW_MS, NOW_MS);
        assert_eq!(t.steps, vec![Step::Path("/nowhere".into()), Step::NoRule]);
        let (_, t) = w.gate.explain(&req("GET", "/opt/x", &[]).view(), NOW_MS, NOW_MS);
        assert_eq!(t.steps.last(), Some(&Step::NoToken { optional: true }));
    }

    #[test]
    fn deciding_records_nothing_and_explaining_leaves_the_cache_alone() {
        let mut w = world();
        let token = es256_token(&w.ec_a, &payload(json!({})));
        let r = bearer("/api/x", &token);
        allowed(decide(&mut w, &r));
        assert!(!w.gate.tracing());
        let (_, t) = w.gate.explain(&r.view(), NOW_MS, NOW_MS);
        assert!(!checks(&t).contains(&("cache", true)), "explain verifies from scratch");
        assert_eq!(w.gate.cached_tokens(), 1, "the cache the host built is kept");
        assert!(!w.gate.tracing());
    }
}
