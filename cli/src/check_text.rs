//! The text form of `jwtgate check`, made from the same data `--json` prints.

use serde_json::Value;
use std::fmt::Write;

pub fn text(out: &Value) -> String {
    let mut s = String::new();
    let str_of = |v: &Value| v.as_str().unwrap_or("-").to_owned();
    let status = out["status"].as_u64().unwrap_or(0);
    match out["decision"].as_str() {
        Some("allow") => {
            let _ = writeln!(s, "ALLOW {status}");
        }
        _ => {
            let _ = writeln!(s, "DENY {status} {}: {}", str_of(&out["reason"]), str_of(&out["detail"]));
        }
    }
    let _ = writeln!(s, "path:   {}", str_of(&out["path"]));
    let rule = &out["rule"];
    match rule["index"].as_u64() {
        Some(i) => {
            let _ = writeln!(s, "rule:   #{i} {}", str_of(&rule["name"]));
            if !rule["scopes"].is_null() {
                let _ = writeln!(s, "        scopes {}", rule["scopes"]);
            }
            if !rule["require"].is_null() {
                let _ = writeln!(s, "        require {}", rule["require"]);
            }
        }
        None => {
            let _ = writeln!(s, "rule:   none matches (deny by default)");
        }
    }
    if let Some(v) = out["verdict"].as_object() {
        let field = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("-");
        let _ = writeln!(s, "mode:   {} (outcome {}, reason {})", field("mode"), field("outcome"), field("reason"));
    }
    let token = &out["token"];
    if token.is_object() {
        let place = token["found_in"].as_str().map_or("no token found".to_owned(), |p| format!("found in {p}"));
        let hash = token["sha256_prefix"].as_str().map_or(String::new(), |h| format!(", sha256 {h}"));
        let _ = writeln!(s, "token:  {place}{hash}");
    }
    let checks = out["checks"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !checks.is_empty() {
        let _ = writeln!(s, "checks:");
    }
    for c in checks {
        let mark = if c["passed"].as_bool() == Some(true) { "pass" } else { "FAIL" };
        let who = c["provider"].as_str().map_or(String::new(), |p| format!(" [{p}]"));
        let why = c["detail"].as_str().map_or(String::new(), |d| format!(": {d} ({})", str_of(&c["reason"])));
        let _ = writeln!(s, "  {mark} {}{who}{why}", str_of(&c["check"]));
    }
    for (title, key) in [("upstream headers removed", "remove"), ("upstream headers set", "set")] {
        list(&mut s, title, &out["headers"][key]);
    }
    list(&mut s, "response headers", &out["headers"]["response"]);
    list(&mut s, "response headers", &out["response"]["headers"]);
    if let Some(body) = out["response"]["body"].as_object() {
        let _ = writeln!(s, "response body: {}", Value::Object(body.clone()));
    }
    s
}

/// A titled list of names or `[name, value]` pairs; nothing when empty.
fn list(s: &mut String, title: &str, items: &Value) {
    let Some(items) = items.as_array().filter(|a| !a.is_empty()) else { return };
    let _ = writeln!(s, "{title}:");
    for item in items {
        match item {
            Value::Array(pair) => {
                let part = |i: usize| pair.get(i).and_then(Value::as_str).unwrap_or("");
                let _ = writeln!(s, "  {}: {}", part(0), part(1));
            }
            other => {
                let _ = writeln!(s, "  {}", other.as_str().unwrap_or(""));
            }
        }
    }
}
