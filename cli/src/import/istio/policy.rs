//! `AuthorizationPolicy` → jwtgate rules. What translates: ALLOW rules whose sources are
//! request principals and whose conditions read `request.auth.*`; DENY rules of the form
//! "no request principal" (the usual "require a JWT" policy). Peer identities, IP blocks,
//! ports, negative operations, AUDIT and CUSTOM are a mesh's business and are listed.

use super::super::Import;
use serde_json::{json, Value};

/// What one Istio rule's `from` and `when` ask of the token.
#[derive(Default)]
struct Needs {
    /// A token must be present (a principal, or a `request.auth` condition).
    token: bool,
    /// Providers the principals name; empty = any of the gate's providers.
    providers: Vec<String>,
    require: Vec<Value>,
}

pub fn translate(out: &mut Import, policies: &[(&str, &Value)]) {
    let mut deny = Vec::new();
    let mut allow = Vec::new();
    let mut any_allow = false;
    for (at, spec) in policies {
        let at = format!("{at}.spec");
        out.unknown_fields(spec, &at, &["selector", "targetRef", "targetRefs", "action", "rules", "provider"]);
        let rules = spec["rules"].as_array().map(Vec::as_slice).unwrap_or_default();
        match spec["action"].as_str().unwrap_or("ALLOW") {
            "ALLOW" => {
                any_allow = true;
                for (i, r) in rules.iter().enumerate() {
                    allow.extend(allow_rule(out, &format!("{at}.rules[{i}]"), r));
                }
            }
            "DENY" => {
                for (i, r) in rules.iter().enumerate() {
                    deny.extend(deny_rule(out, &format!("{at}.rules[{i}]"), r));
                }
            }
            other => out.dropped(format!("{at}.action"), format!("{other}: only ALLOW and DENY translate")),
        }
    }
    let all: Vec<String> = out.providers.keys().cloned().collect();
    let covers_all =
        deny.iter().any(|m: &Value| m["prefix"] == "/" && m.get("methods").is_none() && m.get("host").is_none());
    if any_allow && !deny.is_empty() {
        if covers_all {
            // "No token → deny" everywhere: every ALLOW rule now needs a token.
            for r in &mut allow {
                if r["requires"]["allow_missing"].is_array() {
                    r["requires"] = json!({ "any_of": all });
                }
            }
        } else {
            out.dropped("AuthorizationPolicy", "a DENY without request principals on some paths, combined with ALLOW policies, does not translate to first-match rules");
        }
    } else {
        for m in deny {
            out.rules.push(json!({ "match": m, "requires": { "any_of": all } }));
        }
    }
    out.rules.extend(allow);
    if any_allow {
        out.implicit("AuthorizationPolicy", "an ALLOW policy exists: Istio denies what no ALLOW rule matches (jwtgate denies by default; no rule added)");
    } else {
        out.implicit("AuthorizationPolicy", "no ALLOW policy: Istio allows a request with no token (RequestAuthentication only rejects invalid ones); made explicit as a last allow_missing rule on \"/\"");
        let last =
            if all.is_empty() { json!({ "public": true }) } else { json!({ "requires": { "allow_missing": all } }) };
        let mut last = last;
        last["name"] = json!("istio_no_token_allowed");
        last["match"] = json!({ "prefix": "/" });
        out.rules.push(last);
    }
}

/// One ALLOW rule: a jwtgate rule per operation path and host.
fn allow_rule(out: &mut Import, at: &str, r: &Value) -> Vec<Value> {
    out.unknown_fields(r, at, &["from", "to", "when"]);
    let Some(needs) = needs(out, at, r) else { return Vec::new() };
    let all: Vec<String> = out.providers.keys().cloned().collect();
    let requires = match (needs.token, needs.providers.is_empty(), all.is_empty()) {
        (true, _, true) => {
            out.dropped(at, "asks for a token but no RequestAuthentication defines a provider");
            return Vec::new();
        }
        (true, true, false) => Some(json!({ "any_of": all })),
        (true, false, false) => Some(json!({ "any_of": needs.providers })),
        // Istio still rejects an invalid token here (RequestAuthentication).
        (false, _, false) => Some(json!({ "allow_missing": all })),
        (false, _, true) => None,
    };
    let mut rules = Vec::new();
    for m in matches(out, at, &r["to"]) {
        let mut rule = json!({ "match": m });
        match &requires {
            Some(req) => rule["requires"] = req.clone(),
            None => rule["public"] = json!(true),
        }
        match needs.require.len() {
            0 => {}
            1 => rule["require"] = needs.require[0].clone(),
            _ => rule["require"] = json!({ "all": needs.require }),
        }
        rules.push(rule);
    }
    rules
}

/// A DENY rule that translates: `from: [{source: {notRequestPrincipals: ["*"]}}]`
/// (deny requests without a token), with optional `to`. Returns the matches.
fn deny_rule(out: &mut Import, at: &str, r: &Value) -> Vec<Value> {
    let from = r["from"].as_array().map(Vec::as_slice).unwrap_or_default();
    let no_principal = from.len() == 1
        && from[0]["source"].as_object().is_some_and(|s| s.len() == 1)
        && from[0]["source"]["notRequestPrincipals"] == json!(["*"]);
    let ms = matches(out, at, &r["to"]);
    if !no_principal || r.get("when").is_some() {
        out.dropped(at, "only DENY rules of the form `from: [{source: {notRequestPrincipals: [\"*\"]}}]` (require a token) translate: its paths now refuse every request");
        let denials: Vec<Value> = ms.into_iter().map(|m| out.deny_rule(m, "untranslated_deny")).collect();
        out.rules.extend(denials);
        return Vec::new();
    }
    ms
}

/// `from` (request principals) and `when` (request.auth conditions).
fn needs(out: &mut Import, at: &str, r: &Value) -> Option<Needs> {
    let mut needs = Needs::default();
    let from = r["from"].as_array().map(Vec::as_slice).unwrap_or_default();
    if from.len() > 1 {
        out.dropped(format!("{at}.from"), "several sources (OR-ed) do not translate to one rule");
        return None;
    }
    if let Some(f) = from.first() {
        let source = &f["source"];
        out.unknown_fields(source, &format!("{at}.from[0].source"), &["requestPrincipals"]);
        let principals: Vec<&str> = source["requestPrincipals"].as_array()?.iter().filter_map(Value::as_str).collect();
        needs.token = true;
        let mut any = Vec::new();
        for p in principals.iter().filter(|p| **p != "*") {
            let (iss, sub) = p.rsplit_once('/').unwrap_or((p, "*"));
            let Some(name) = out.providers.iter().find(|(_, g)| g["issuer"] == iss).map(|(n, _)| n.clone()) else {
                out.dropped(
                    format!("{at}.from[0].source.requestPrincipals"),
                    format!("{p:?}: no RequestAuthentication for issuer {iss:?} (or a wildcard inside the issuer)"),
                );
                return None;
            };
            needs.providers.push(name);
            any.push(match sub {
                "*" => json!({ "claim": "iss", "op": "eq", "value": iss }),
                sub => json!({ "all": [{ "claim": "iss", "op": "eq", "value": iss }, { "claim": "sub", "op": "eq", "value": sub }] }),
            });
        }
        if principals.contains(&"*") {
            needs.providers.clear();
        } else if any.iter().any(|c| c["all"].is_array()) {
            needs.require.push(if any.len() == 1 { any.remove(0) } else { json!({ "any": any }) });
        }
        needs.providers.dedup();
    }
    for (i, c) in r["when"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
        needs.token = true;
        needs.require.push(condition(out, &format!("{at}.when[{i}]"), c)?);
    }
    Some(needs)
}

/// A `when` condition on the token: `request.auth.claims[a][b]`, `.audiences`, `.presenter`.
fn condition(out: &mut Import, at: &str, c: &Value) -> Option<Value> {
    out.unknown_fields(c, at, &["key", "values", "notValues"]);
    let key = c["key"].as_str().unwrap_or_default();
    let claim = if let Some(rest) = key.strip_prefix("request.auth.claims") {
        let parts: Vec<&str> = rest.split(['[', ']']).filter(|s| !s.is_empty()).collect();
        parts.join(".")
    } else {
        match key {
            "request.auth.audiences" => "aud".into(),
            "request.auth.presenter" => "azp".into(),
            _ => {
                out.dropped(
                    format!("{at}.key"),
                    format!("{key:?}: only request.auth.claims[…], .audiences and .presenter translate"),
                );
                return None;
            }
        }
    };
    let (values, negate) = match (c["values"].as_array(), c["notValues"].as_array()) {
        (Some(v), None) => (v, false),
        (None, Some(v)) => (v, true),
        _ => {
            out.dropped(at, "values and notValues together (or neither) do not translate");
            return None;
        }
    };
    if values.iter().any(|v| v.as_str().is_none_or(|s| s.contains('*'))) {
        out.dropped(at, "wildcard (prefix/suffix) values do not translate: use `matches` by hand");
        return None;
    }
    // Istio matches a string claim, or any item of a list claim.
    let test = json!({ "any": [
        { "claim": claim, "op": "in", "value": values },
        { "claim": claim, "op": "contains_any", "value": values }
    ]});
    Some(if negate { json!({ "not": test }) } else { test })
}

/// The rule matches of `to` (no `to`: every request).
fn matches(out: &mut Import, at: &str, to: &Value) -> Vec<Value> {
    let Some(ops) = to.as_array() else { return vec![json!({ "prefix": "/" })] };
    let mut all = Vec::new();
    for (i, t) in ops.iter().enumerate() {
        let op = &t["operation"];
        let here = format!("{at}.to[{i}].operation");
        out.unknown_fields(op, &here, &["paths", "methods", "hosts"]);
        let strings = |k: &str| -> Vec<String> {
            op[k].as_array().map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        };
        let (paths, methods, hosts) = (strings("paths"), strings("methods"), strings("hosts"));
        let paths = if paths.is_empty() { vec!["*".to_owned()] } else { paths };
        let hosts: Vec<Option<String>> =
            if hosts.is_empty() { vec![None] } else { hosts.into_iter().map(Some).collect() };
        for p in &paths {
            let Some(mut m) = path(p) else {
                out.dropped(format!("{here}.paths"), format!("{p:?}: suffix and inner wildcards do not translate"));
                continue;
            };
            if !methods.is_empty() {
                m["methods"] = json!(methods.iter().map(|m| m.to_ascii_uppercase()).collect::<Vec<_>>());
            }
            for h in &hosts {
                let mut m = m.clone();
                if let Some(h) = h {
                    m["host"] = json!(h);
                }
                all.push(m);
            }
        }
    }
    all
}

/// Istio path forms: exact, `prefix*`, `*`, and `{*}` / final `{**}` templates.
fn path(p: &str) -> Option<Value> {
    if p == "*" {
        return Some(json!({ "prefix": "/" }));
    }
    if p.contains("{*}") || p.contains("{**}") {
        let mut n = 0;
        let segs: Vec<String> = p
            .split('/')
            .map(|s| match s {
                "{*}" => {
                    n += 1;
                    format!("{{p{n}}}")
                }
                "{**}" => "**".to_owned(),
                s => s.to_owned(),
            })
            .collect();
        let t = segs.join("/");
        return (!t.contains('*') || t.ends_with("/**") && !t[..t.len() - 2].contains('*'))
            .then(|| json!({ "template": t }));
    }
    match p.strip_suffix('*') {
        Some(prefix) if !prefix.contains('*') => Some(json!({ "prefix": prefix })),
        None if !p.contains('*') => Some(json!({ "exact": p })),
        _ => None,
    }
}
