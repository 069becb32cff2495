//! The record of one decision: which rule, what outcome (the one that *would* have been
//! made, in report-only mode), why, and in which mode. Hosts turn it into a metric
//! (`jwtgate.decisions.<rule>.<outcome>.<reason>.<mode>`), a log line and, in report-only
//! mode, an optional response header. Every part is a config name or a fixed code, so
//! the number of metric names is bounded.

use super::Mode;
use crate::error::AuthError;

/// The rule label of requests no rule matches (rule names may not take it).
pub const UNMATCHED_RULE: &str = "unmatched";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    pub rule: String,
    pub outcome: Outcome,
    /// `ok`, or the denial's metric reason.
    pub reason: &'static str,
    /// The status a denial has (or would have had); 0 for an allow.
    pub status: u16,
    pub mode: Mode,
}

impl Verdict {
    pub fn allow(rule: &str, mode: Mode) -> Verdict {
        Verdict { rule: rule.to_owned(), outcome: Outcome::Allow, reason: "ok", status: 0, mode }
    }

    pub fn deny(rule: &str, reason: &AuthError, mode: Mode) -> Verdict {
        Verdict {
            rule: rule.to_owned(),
            outcome: Outcome::Deny,
            reason: reason.metric_reason(),
            status: reason.status(),
            mode,
        }
    }

    pub fn outcome_label(&self) -> &'static str {
        match self.outcome {
            Outcome::Allow => "allow",
            Outcome::Deny => "deny",
        }
    }

    /// The metric name under the host's `jwtgate.` prefix.
    pub fn stat_name(&self) -> String {
        format!("decisions.{}.{}.{}.{}", self.rule, self.outcome_label(), self.reason, self.mode.label())
    }

    /// The report-only response header's value, e.g. `deny; status=403; reason=claim_missing; rule=tenants`.
    pub fn header_value(&self) -> String {
        match self.outcome {
            Outcome::Allow => format!("allow; reason=ok; rule={}", self.rule),
            Outcome::Deny => format!("deny; status={}; reason={}; rule={}", self.status, self.reason, self.rule),
        }
    }

    /// The log line of a report-only decision (token hash, never the token).
    pub fn log_line(&self, token_hash: Option<&str>) -> String {
        format!(
            "jwtgate: report_only rule={} would={} status={} reason={} token={}",
            self.rule,
            self.outcome_label(),
            self.status,
            self.reason,
            token_hash.unwrap_or("-")
        )
    }
}
