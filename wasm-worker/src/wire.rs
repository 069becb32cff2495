//! JSON shapes exchanged with `js/worker.mjs`.

use jwtgate_core::{Decision, FetchRequest, Mode, Verdict};
use serde_json::{json, Value};

pub fn pairs(flat: Vec<String>) -> Vec<(String, String)> {
    let mut it = flat.into_iter();
    let mut out = Vec::new();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

/// `{"kind":"allow","remove":[…],"set":[[k,v]…]}`, `{"kind":"deny","status",…}` or
/// `{"kind":"need_keys","provider":n}`.
pub fn decision(d: &Decision) -> String {
    let v = match d {
        Decision::Allow(a) => json!({
            "kind": "allow",
            "remove": a.remove,
            "set": a.set.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "response_headers": a.response_headers.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "verdict": a.verdict.as_ref().map(verdict),
            "log": a.verdict.as_ref().filter(|v| v.mode == Mode::ReportOnly).map(|v| v.log_line(a.token_hash.as_deref())),
        }),
        Decision::Deny(d) => json!({
            "kind": "deny",
            "status": d.status,
            "headers": d.headers().iter().map(|(k, v)| [*k, v.as_str()]).collect::<Vec<_>>(),
            "body": d.body,
            "log": d.log_line(),
            "verdict": d.verdict.as_ref().map(verdict),
        }),
        Decision::NeedKeys { provider } => json!({ "kind": "need_keys", "provider": provider }),
        Decision::Verify(job) => json!({
            "kind": "verify",
            "ticket": job.ticket,
            "alg": job.alg.name(),
            "key_ref": job.key_ref,
            "jwk": job.jwk,
            "message": job.message,
            "signature": job.signature,
        }),
    };
    v.to_string()
}

/// `{"rule","outcome","reason","mode","stat"}`: the decision metric's labels.
fn verdict(v: &Verdict) -> Value {
    json!({
        "rule": v.rule,
        "outcome": v.outcome_label(),
        "reason": v.reason,
        "mode": v.mode.label(),
        "stat": v.stat_name(),
    })
}

pub fn fetches(list: &[FetchRequest], cap: impl Fn(usize) -> usize) -> String {
    let v: Vec<Value> = list
        .iter()
        .map(|f| {
            json!({
                "provider": f.provider,
                "uri": f.uri,
                "timeout_ms": f.timeout_ms,
                "max_body_bytes": cap(f.provider),
            })
        })
        .collect();
    Value::Array(v).to_string()
}

#[cfg(test)]
#[path = "wire_tests.rs"]
mod tests;
