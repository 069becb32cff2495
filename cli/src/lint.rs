//! `jwtgate lint`: the core's load-time error (with its field path), each host's own
//! requirement, and warnings about settings that load but are risky. The config is
//! validated by the core first; the warnings then read the same document as JSON, so
//! they only ever look at a config the gate would accept.

use crate::cli::LintArgs;
use crate::fail::{read, Exit, Fail};
use jwtgate_core::{Audiences, GateConfig, HostKind, TokenSource};
use serde_json::{json, Value};

mod rules;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// The gate refuses the config.
    Error,
    /// The gate loads it, but it likely does not do what was meant.
    Warning,
}

/// One finding, at a dotted field path (as the core names fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    pub level: Level,
    pub field: String,
    pub message: String,
}

impl Finding {
    fn warn(field: impl Into<String>, message: impl Into<String>) -> Finding {
        Finding { level: Level::Warning, field: field.into(), message: message.into() }
    }
}

pub fn run(args: &LintArgs) -> Result<Exit, Fail> {
    let findings = lint(&read(&args.config)?);
    if args.json {
        let list: Vec<Value> = findings
            .iter()
            .map(|f| json!({ "level": label(f.level), "field": f.field, "message": f.message }))
            .collect();
        println!("{}", serde_json::to_string_pretty(&list).unwrap_or_default());
    } else {
        for f in &findings {
            println!("{} {}: {}", label(f.level), f.field, f.message);
        }
        let count = |l: Level| findings.iter().filter(|f| f.level == l).count();
        println!("{} error(s), {} warning(s)", count(Level::Error), count(Level::Warning));
    }
    let errors = findings.iter().any(|f| f.level == Level::Error);
    let warnings = !findings.is_empty();
    Ok(if errors || (args.strict && warnings) { Exit::Findings } else { Exit::Ok })
}

fn label(l: Level) -> &'static str {
    match l {
        Level::Error => "error",
        Level::Warning => "warning",
    }
}

/// Every finding for a config document, errors first.
pub fn lint(text: &str) -> Vec<Finding> {
    let config = match GateConfig::from_json(text) {
        Ok(c) => c,
        Err(e) => return vec![Finding { level: Level::Error, field: e.field, message: e.problem }],
    };
    let mut out = Vec::new();
    for host in [HostKind::Envoy, HostKind::Edge] {
        if let Err(e) = host.check(&config) {
            let message = format!("{} (this config cannot load {})", e.problem, host_name(host));
            out.push(Finding::warn(e.field, message));
        }
    }
    // The core accepted it, so it is a JSON object of the documented shape.
    let doc: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    providers(&config, &mut out);
    rules::rules(&doc, &mut out);
    if doc["mode"] == "report_only" {
        out.push(Finding::warn("mode", "report_only for the whole gate: no rule without its own mode is enforced"));
    }
    out
}

fn host_name(h: HostKind) -> &'static str {
    match h {
        HostKind::Envoy => "in Envoy",
        HostKind::Edge => "at the edge",
    }
}

/// Warnings about each provider.
fn providers(config: &GateConfig, out: &mut Vec<Finding>) {
    for p in &config.providers {
        let at = |f: &str| format!("providers.{}.{f}", p.name);
        if p.revocation.as_ref().is_some_and(|r| r.feed.is_some() && r.on_stale == jwtgate_core::OnStale::Allow) {
            out.push(Finding::warn(
                at("revocation.on_stale"),
                "\"allow\": past max_staleness_s revoked tokens may be allowed (weakened guarantee; the default answers 503)",
            ));
        }
        if p.audiences == Audiences::Any {
            out.push(Finding::warn(
                at("audiences"),
                "\"*\" accepts a token minted for any audience (any service of this issuer can replay its tokens here)",
            ));
        }
        if p.forward_token && !p.claim_headers.is_empty() {
            out.push(Finding::warn(at("forward_token"), "the upstream gets the raw token as well as the claim headers: it can replay the token elsewhere, and code that re-parses it may disagree with the headers"));
        }
        for (i, s) in p.sources.iter().enumerate() {
            match s {
                TokenSource::Query(_) => out.push(Finding::warn(at(&format!("from[{i}]")), "a token in the query string ends up in access logs, browser history and Referer headers (RFC 6750 §2.3)")),
                TokenSource::Cookie(_) => out.push(Finding::warn(at(&format!("from[{i}]")), "a cookie is sent by the browser on cross-site requests too: protect state-changing routes against CSRF")),
                TokenSource::Header { .. } | TokenSource::Session => {}
            }
        }
        if p.clock_skew_s > 300 {
            out.push(Finding::warn(
                at("clock_skew_s"),
                format!("{} s of skew keeps expired tokens valid that long", p.clock_skew_s),
            ));
        }
        if let jwtgate_core::JwksSource::Remote(r) = &p.jwks {
            if r.max_stale_s > 24 * 3600 {
                out.push(Finding::warn(
                    at("jwks.max_stale_s"),
                    format!(
                        "keys stay trusted {} h after the IdP stopped answering: a revoked key keeps working that long",
                        r.max_stale_s / 3600
                    ),
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
