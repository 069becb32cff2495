//! Authorization policy: a rule's `require` tree of `all` / `any` / `not` over typed
//! claim conditions, evaluated after the token is verified (also on a cache hit), and
//! the report-only mode that records a decision instead of enforcing it.
//!
//! - Values compare by JSON type, never by string coercion: `true` ≠ `"true"`,
//!   `1` ≠ `"1"`. A claim of the wrong type fails its condition with its own reason.
//! - Evaluation never recurses into claim values: a claim path is at most
//!   [`MAX_PATH_SEGMENTS`] long (checked at load), an array claim longer than
//!   [`MAX_CLAIM_ITEMS`] refuses the token (`claim_too_large`), and a claim member a
//!   tree reads that nests deeper than [`MAX_CLAIM_DEPTH`] refuses it at verification
//!   (`claim_too_deep`), so a huge or deeply nested token costs bounded time.
//! - Reasons are stable codes ([`Unmet::code`]) for logs, metrics and (if configured) the
//!   body; no claim value is ever put in a response.

mod compile;
mod eval;
mod hook;
mod keep;
mod report;

pub use compile::compile;
pub use eval::{evaluate, Inputs};
pub use hook::{authorize, authorize_grant, finish, mode_of, Matched};
pub use keep::keep;
pub use report::{Outcome, Verdict, UNMATCHED_RULE};

use serde_json::{Number, Value};

/// Longest claim path (`realm_access.roles` is 2).
pub const MAX_PATH_SEGMENTS: usize = 8;
/// Deepest `all` / `any` / `not` nesting, and the most conditions, per rule.
pub const MAX_TREE_DEPTH: usize = 8;
pub const MAX_CONDITIONS: usize = 32;
/// Most items in a `value` list (`in`, `contains_any`, `contains_all`).
pub const MAX_LIST_ITEMS: usize = 64;
/// Longest `matches` pattern (characters) and its compiled size bound (bytes).
pub const MAX_PATTERN_CHARS: usize = 256;
pub const MAX_PATTERN_BYTES: usize = 64 * 1024;
/// Longest array claim a condition scans; a longer one refuses the token.
pub const MAX_CLAIM_ITEMS: usize = 1024;
/// Deepest nesting of a claim member a tree reads; a deeper one refuses the token.
pub const MAX_CLAIM_DEPTH: usize = 16;

/// A rule's `require` tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Policy {
    All(Vec<Policy>),
    Any(Vec<Policy>),
    Not(Box<Policy>),
    Cond(Condition),
}

/// `{claim, op, value | from}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Condition {
    /// The claim path, split on `.`.
    pub claim: Vec<String>,
    pub op: Op,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    Eq(Operand),
    Ne(Operand),
    /// The claim (a scalar) is one of these (all of one JSON type).
    In(Vec<Value>),
    /// The claim (an array) holds this value.
    Contains(Operand),
    ContainsAny(Vec<Value>),
    ContainsAll(Vec<Value>),
    /// Present and not `null`.
    Exists,
    /// Missing or `null`.
    Absent,
    /// The claim (a string) matches the whole pattern.
    Matches(Pattern),
    /// The claim (a number) compares so with the value.
    Compare(Cmp, Number),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmp {
    Gt,
    Ge,
    Lt,
    Le,
}

/// What a claim is compared with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A string, number or boolean from the config.
    Literal(Value),
    /// `from: path.<name>`: the template capture at this index (a string).
    Capture(usize),
    /// `from: header.<name>`: the one value of this request header (a string).
    Header(String),
}

/// An anchored, size-bounded regular expression (`regex-lite`: no backtracking, search
/// time linear in the input).
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: String,
    pub regex: regex_lite::Regex,
}

impl PartialEq for Pattern {
    fn eq(&self, other: &Pattern) -> bool {
        self.source == other.source
    }
}

impl Eq for Pattern {}

/// Why a `require` tree is not met: stable codes for logs, metrics and bodies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unmet {
    /// The claim has the right type but not an accepted value.
    Mismatch,
    /// The claim is missing or `null`.
    ClaimMissing,
    /// The claim has another JSON type than the condition compares with.
    ClaimType,
    /// The request value (`from`) is absent, or a header is sent more than once.
    RequestValue,
}

impl Unmet {
    pub fn code(self) -> &'static str {
        match self {
            Unmet::Mismatch => "condition_failed",
            Unmet::ClaimMissing => "claim_missing",
            Unmet::ClaimType => "claim_type",
            Unmet::RequestValue => "request_value_missing",
        }
    }
}

/// `enforce` (default) or `report_only`, for the gate or one rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Mode {
    #[default]
    Enforce,
    ReportOnly,
}

impl Mode {
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "enforce" => Some(Mode::Enforce),
            "report_only" => Some(Mode::ReportOnly),
            _ => None,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Mode::Enforce => "enforce",
            Mode::ReportOnly => "report_only",
        }
    }
}

impl Policy {
    /// Top-level claim names the tree reads: all a cached token needs to keep.
    pub fn claim_roots<'a>(&'a self, out: &mut Vec<&'a str>) {
        match self {
            Policy::All(ps) | Policy::Any(ps) => ps.iter().for_each(|p| p.claim_roots(out)),
            Policy::Not(p) => p.claim_roots(out),
            Policy::Cond(c) => {
                if let Some(root) = c.claim.first() {
                    if !out.contains(&root.as_str()) {
                        out.push(root);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
