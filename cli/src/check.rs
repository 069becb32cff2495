//! `jwtgate check`: one request decided by the real core (`Gate::explain`, the software
//! verifier), with remote key sets answered from files the way a host hands a fetch
//! result back, then printed as the host would act on it.

use crate::cli::CheckArgs;
use crate::fail::{read, Exit, Fail};
use jwtgate_core::{Decision, DocKind, FetchResult, Gate, GateConfig, RequestView, Step, Trace, Verifier};
use serde_json::{json, Value};
use std::path::Path;

/// The decision and its explanation, ready to print.
pub struct Explained {
    pub decision: Decision,
    pub trace: Trace,
}

pub fn run(args: &CheckArgs) -> Result<Exit, Fail> {
    let text = read(&args.config)?;
    let config = GateConfig::from_json(&text)?;
    let raw: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    let now_s = match args.now {
        Some(s) => s,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_err(|_| Fail::Usage("the system clock is before 1970: pass --now".into()))?
            .as_secs(),
    };
    let mut gate = Gate::new(config, Verifier::Software, 0);
    load_keys(&mut gate, &args.jwks, now_s * 1000)?;
    let headers = request_headers(args)?;
    let view = RequestView { method: &args.method, path: &args.path, headers: &headers, conn: Default::default() };
    let explained = decide(&mut gate, &view, now_s * 1000)?;
    let mut out = render(&gate, &explained);
    // What the matched rule asks beyond a valid token, as the config says it.
    if let Some(i) = out["rule"]["index"].as_u64().and_then(|i| usize::try_from(i).ok()) {
        let rule = &raw["rules"][i];
        out["rule"]["scopes"] = rule["scopes"].clone();
        out["rule"]["require"] = rule["require"].clone();
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        print!("{}", crate::check_text::text(&out));
    }
    Ok(match explained.decision {
        Decision::Allow(_) => Exit::Ok,
        _ => Exit::Findings,
    })
}

/// Decides at `now_ms`. A provider with no keys at all is a usage error (pass --jwks);
/// an unknown `kid` in a loaded set is decided as a host decides it once its refetch
/// returned the same set: with the hold over, so the answer is final.
pub fn decide(gate: &mut Gate, view: &RequestView<'_>, now_ms: u64) -> Result<Explained, Fail> {
    let (mut decision, mut trace) = gate.explain(view, now_ms, now_ms);
    if let Decision::NeedKeys { provider } = decision {
        if gate.key_count(provider) == 0 {
            let name = gate.config().providers.get(provider).map_or("?", |p| p.name.as_str());
            return Err(Fail::Usage(format!(
                "provider `{name}` fetches its keys: pass them with --jwks FILE (or --jwks {name}=FILE)"
            )));
        }
        (decision, trace) = gate.explain(view, now_ms, 0);
    }
    match decision {
        // The software verifier checks every signature itself, and the hold is over:
        // neither answer can come back here unless the core has a bug.
        Decision::Verify(_) | Decision::NeedKeys { .. } => {
            Err(Fail::Usage("the core did not reach a final decision".into()))
        }
        decision => Ok(Explained { decision, trace }),
    }
}

/// Answers each remote provider's first fetch with the given file, as a host hands a
/// `200` back: the core parses it exactly as it parses a fetched JWKS.
pub fn load_keys(gate: &mut Gate, specs: &[String], now_ms: u64) -> Result<(), Fail> {
    let mut default = None;
    let mut named = Vec::new();
    for spec in specs {
        match spec.split_once('=') {
            Some((name, file)) if !name.contains('/') => named.push((name.to_owned(), read(Path::new(file))?)),
            _ => default = Some(read(Path::new(spec))?),
        }
    }
    let providers: Vec<String> = gate.config().providers.iter().map(|p| p.name.clone()).collect();
    if let Some((name, _)) = named.iter().find(|(n, _)| !providers.contains(n)) {
        return Err(Fail::Usage(format!("--jwks {name}=…: the config has no provider `{name}`")));
    }
    gate.poll_fetches(now_ms);
    for (doc, _) in gate.remote_docs() {
        let name = providers.get(doc.provider).cloned().unwrap_or_default();
        let body = match doc.kind {
            DocKind::Jwks => match named.iter().find(|(n, _)| *n == name).map(|(_, b)| b).or(default.as_ref()) {
                Some(b) => b.clone(),
                None => continue,
            },
            kind => match offline_stand_in(kind, now_ms) {
                Some((body, what)) => {
                    eprintln!("note: provider `{name}`: {what}");
                    body
                }
                None => continue,
            },
        };
        let result = FetchResult::response(now_ms, 200, body.as_bytes());
        if let Some(event) = gate.on_fetch_result(doc, now_ms, result) {
            if event.failed() {
                return Err(Fail::Usage(format!("provider `{name}`: the {} is refused: {event}", doc.kind.label())));
            }
        }
    }
    Ok(())
}

/// What an offline check uses in place of a fetched document other than a key set, and
/// the note saying so: an empty revocation list (nothing revoked) and an empty API-key
/// table (no key accepted). `None`: the document is not stood in for (discovery, status
/// lists: requests that need them are decided as a gate without them would decide).
fn offline_stand_in(kind: DocKind, now_ms: u64) -> Option<(String, &'static str)> {
    match kind {
        DocKind::Revocation => Some((
            json!({"version": 1, "generated_at": now_ms / 1000, "kind": "full", "entries": []}).to_string(),
            "its revocation feed is not fetched offline: checked against an empty list",
        )),
        DocKind::ApiKeys => {
            Some((json!({"keys": []}).to_string(), "its API-key feed is not fetched offline: no key is accepted"))
        }
        _ => None,
    }
}

/// `--header name:value` pairs, plus `authorization: Bearer <token>` for `--token`.
fn request_headers(args: &CheckArgs) -> Result<Vec<(String, String)>, Fail> {
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) =
            h.split_once(':').ok_or_else(|| Fail::Usage(format!("--header {h:?}: expected NAME:VALUE")))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim_start().to_owned()));
    }
    if let Some(t) = &args.token {
        let token = match t.strip_prefix('@') {
            Some(file) => read(Path::new(file))?.trim().to_owned(),
            None => t.clone(),
        };
        headers.push(("authorization".into(), format!("Bearer {token}")));
    }
    Ok(headers)
}

/// The decision as data (what `--json` prints; the text form is made from it).
pub fn render(gate: &Gate, e: &Explained) -> Value {
    let mut out = json!({ "rule": null, "path": null, "token": null, "checks": [] });
    for step in &e.trace.steps {
        match step {
            Step::Path(p) => out["path"] = json!(p),
            Step::Rule { index, name } => out["rule"] = json!({ "index": index, "name": name }),
            Step::NoRule => out["rule"] = Value::Null,
            Step::Token(source) => out["token"] = json!({ "found_in": source.to_string() }),
            Step::NoToken { optional } => out["token"] = json!({ "found_in": null, "optional": optional }),
            Step::Check { provider, check, outcome } => {
                if let Some(list) = out["checks"].as_array_mut() {
                    list.push(json!({
                        "check": check.label(),
                        "provider": provider,
                        "passed": outcome.is_ok(),
                        "reason": outcome.as_ref().err().map(|e| e.metric_reason()),
                        "detail": outcome.as_ref().err().map(|e| e.to_string()),
                    }));
                }
            }
        }
    }
    match &e.decision {
        Decision::Allow(a) => {
            out["decision"] = json!("allow");
            out["status"] = json!(200);
            out["headers"] = json!({ "remove": a.remove, "set": a.set, "response": a.response_headers });
            if let Some(hash) = &a.token_hash {
                out["token"]["sha256_prefix"] = json!(hash);
            }
            out["verdict"] = verdict(a.verdict.as_ref());
        }
        Decision::Deny(d) => {
            out["decision"] = json!("deny");
            out["status"] = json!(d.status);
            out["reason"] = json!(d.reason.metric_reason());
            out["detail"] = json!(d.reason.to_string());
            let headers: Vec<(&str, String)> = d.headers();
            out["response"] = json!({ "headers": headers, "body": serde_json::from_str::<Value>(&d.body).ok() });
            if let Some(hash) = &d.token_hash {
                out["token"]["sha256_prefix"] = json!(hash);
            }
            out["verdict"] = verdict(d.verdict.as_ref());
        }
        Decision::Respond(r) => {
            out["decision"] = json!("respond");
            out["status"] = json!(r.status);
            out["response"] = json!({ "headers": r.headers });
        }
        Decision::NeedKeys { .. } | Decision::Verify(_) | Decision::NeedBody { .. } => {
            out["decision"] = json!("pending")
        }
    }
    out["gate_mode"] = json!(gate.config().mode.label());
    out
}

/// What the decision metric records: the rule, the outcome that was (or in report-only
/// mode would have been) enforced, its reason and the mode.
fn verdict(v: Option<&jwtgate_core::Verdict>) -> Value {
    v.map_or(
        Value::Null,
        |v| json!({ "rule": v.rule, "outcome": v.outcome_label(), "reason": v.reason, "mode": v.mode.label() }),
    )
}
