//! Envoy `jwt_authn` (`envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication`):
//! providers and first-match rules, as written in an Envoy bootstrap (the filter entry
//! with its `typed_config`, or the message alone), in proto field names (snake_case).

use super::source::{default_sources, duration_ms, inline_jwks, split_uri, DEFAULT_SOURCES_NOTE};
use super::Import;
use serde_json::{json, Map, Value};

const PROVIDER_FIELDS: &[&str] = &[
    "issuer",
    "audiences",
    "remote_jwks",
    "local_jwks",
    "forward",
    "from_headers",
    "from_params",
    "from_cookies",
    "claim_to_headers",
    "clock_skew_seconds",
    "max_lifetime",
    "require_expiration",
    "jwt_cache_config",
    // Read below, each with its own note.
    "forward_payload_header",
    "pad_forward_payload_header",
    "payload_in_metadata",
    "subjects",
    "header_in_metadata",
    "failed_status_in_metadata",
    "normalize_payload_in_metadata",
];

pub fn translate(docs: &[(String, Value)]) -> Import {
    let mut out = Import::default();
    for (at, doc) in docs {
        let doc = &snake_case(doc, false);
        let filter = if doc["typed_config"].is_object() { &doc["typed_config"] } else { doc };
        let at = if filter == doc { at.clone() } else { format!("{at}.typed_config") };
        out.unknown_fields(filter, &at, &["@type", "providers", "rules", "strip_failure_response"]);
        if filter["strip_failure_response"] == true {
            out.implicit(
                format!("{at}.strip_failure_response"),
                "jwtgate's 401 carries RFC 6750 WWW-Authenticate and a short fixed-text body, never token content",
            );
        }
        if let Some(providers) = filter["providers"].as_object() {
            for (name, p) in providers {
                provider(&mut out, &format!("{at}.providers.{name}"), name, p);
            }
        }
        let rules = filter["rules"].as_array().map(Vec::as_slice).unwrap_or_default();
        for (i, r) in rules.iter().enumerate() {
            rule(&mut out, &format!("{at}.rules[{i}]"), r);
        }
    }
    // A request no rule matches is not checked at all by jwt_authn; unless the last
    // rule already catches everything, say so with an explicit public rule.
    let catch_all = out.rules.last().is_some_and(|r| r["match"] == json!({ "prefix": "/" }));
    if !catch_all {
        out.implicit(
            "rules",
            "jwt_authn lets a request that no rule matches through without a token: made explicit as a last public rule on \"/\" (remove it to deny by default, as jwtgate does)",
        );
        out.rules.push(json!({ "name": "unmatched_passthrough", "match": { "prefix": "/" }, "public": true }));
    }
    out
}

fn provider(out: &mut Import, at: &str, name: &str, p: &Value) {
    out.unknown_fields(p, at, PROVIDER_FIELDS);
    let mut g = Map::new();
    match p["issuer"].as_str().filter(|s| !s.is_empty()) {
        Some(iss) => drop(g.insert("issuer".into(), json!(iss))),
        None => out.dropped(
            format!("{at}.issuer"),
            "no issuer: jwt_authn then accepts any `iss`; jwtgate binds every provider to one issuer",
        ),
    }
    match p["audiences"].as_array().filter(|a| !a.is_empty()) {
        Some(a) => drop(g.insert("audiences".into(), json!(a))),
        None => {
            out.implicit(
                format!("{at}.audiences"),
                "no audiences: jwt_authn does not check `aud`; made explicit as \"*\" (set the API's audience)",
            );
            g.insert("audiences".into(), json!("*"));
        }
    }
    jwks(out, at, p, &mut g);
    sources(out, at, p, &mut g);
    let skew = p["clock_skew_seconds"].as_u64();
    if skew.is_none() {
        out.implicit(
            format!("{at}.clock_skew_seconds"),
            "not set: jwt_authn allows 60 s of clock skew; made explicit as clock_skew_s: 60",
        );
    }
    g.insert("clock_skew_s".into(), json!(skew.unwrap_or(60)));
    match p.get("max_lifetime").and_then(duration_ms) {
        Some(ms) => drop(g.insert("max_lifetime_s".into(), json!(ms / 1000))),
        None => out.implicit(format!("{at}.max_lifetime"), "not set: jwt_authn puts no bound on a token's lifetime; jwtgate refuses tokens valid longer than max_lifetime_s (default 86400)"),
    }
    if p["require_expiration"] != true {
        out.implicit(
            format!("{at}.require_expiration"),
            "false: jwt_authn accepts a token without `exp`; jwtgate always requires it (stricter)",
        );
    }
    let headers = p["claim_to_headers"].as_array().map(Vec::as_slice).unwrap_or_default();
    let claims: Vec<Value> =
        headers.iter().map(|c| json!({ "claim": c["claim_name"], "header": c["header_name"] })).collect();
    if !claims.is_empty() {
        g.insert("claim_to_headers".into(), Value::Array(claims));
    }
    g.insert("forward_token".into(), json!(p["forward"] == true));
    if p["forward"] != true {
        out.implicit(
            format!("{at}.forward"),
            "false: the token is removed before the upstream (forward_token: false, as in jwtgate)",
        );
    }
    for (field, why) in [
        ("forward_payload_header", "the whole payload as a header has no jwtgate equivalent: list the claims the upstream needs in claim_to_headers"),
        ("payload_in_metadata", "dynamic metadata for later filters (e.g. RBAC on claims): express the conditions as a rule's `require` instead"),
        ("subjects", "a subject matcher: express it as a rule's `require` on `sub`"),
        ("header_in_metadata", "no dynamic metadata in jwtgate"),
        ("failed_status_in_metadata", "no dynamic metadata in jwtgate"),
        ("normalize_payload_in_metadata", "no dynamic metadata in jwtgate"),
        ("pad_forward_payload_header", "goes with forward_payload_header"),
    ] {
        if p.get(field).is_some() {
            out.dropped(format!("{at}.{field}"), why);
        }
    }
    out.providers.insert(name.to_owned(), Value::Object(g));
}

fn jwks(out: &mut Import, at: &str, p: &Value, g: &mut Map<String, Value>) {
    if let Some(inline) = p["local_jwks"]["inline_string"].as_str() {
        match inline_jwks(inline) {
            Ok(doc) => drop(g.insert("jwks".into(), json!({ "inline": doc }))),
            Err(e) => out.dropped(format!("{at}.local_jwks.inline_string"), e),
        }
        return;
    }
    if p["local_jwks"].is_object() {
        out.dropped(format!("{at}.local_jwks"), "a JWKS file or bytes: paste the set as jwks.inline");
        return;
    }
    let remote = &p["remote_jwks"];
    out.unknown_fields(
        remote,
        &format!("{at}.remote_jwks"),
        &["http_uri", "cache_duration", "async_fetch", "retry_policy"],
    );
    let Some(uri) = remote["http_uri"]["uri"].as_str() else {
        out.dropped(format!("{at}.remote_jwks"), "no http_uri.uri");
        return;
    };
    let mut j = json!({ "uri": uri, "cluster": remote["http_uri"]["cluster"] });
    if let Some((authority, path)) = split_uri(uri) {
        j["authority"] = json!(authority);
        j["path"] = json!(path);
    }
    if let Some(ms) = remote["http_uri"].get("timeout").and_then(duration_ms) {
        j["timeout_ms"] = json!(ms.max(1));
    }
    let refresh = remote.get("cache_duration").and_then(duration_ms).map(|ms| ms / 1000);
    if refresh.is_none() {
        out.implicit(
            format!("{at}.remote_jwks.cache_duration"),
            "not set: jwt_authn keeps a JWKS 10 minutes; made explicit as refresh_interval_s: 600",
        );
    }
    j["refresh_interval_s"] = json!(refresh.unwrap_or(600).max(1));
    if remote.get("async_fetch").is_some() {
        out.implicit(
            format!("{at}.remote_jwks.async_fetch"),
            "jwtgate always fetches ahead in the background and holds early requests up to startup_hold_ms",
        );
    }
    if remote.get("retry_policy").is_some() {
        out.implicit(format!("{at}.remote_jwks.retry_policy"), "jwtgate retries failed fetches on its own schedule (min_refresh_interval_s) and keeps the last good set up to max_stale_s");
    }
    g.insert("jwks".into(), j);
}

fn sources(out: &mut Import, at: &str, p: &Value, g: &mut Map<String, Value>) {
    let mut from = Vec::new();
    for h in p["from_headers"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = h["name"].as_str().unwrap_or_default().to_ascii_lowercase();
        from.push(json!({ "header": name, "prefix": h["value_prefix"].as_str().unwrap_or("") }));
    }
    for q in p["from_params"].as_array().map(Vec::as_slice).unwrap_or_default() {
        from.push(json!({ "query": q }));
    }
    for c in p["from_cookies"].as_array().map(Vec::as_slice).unwrap_or_default() {
        from.push(json!({ "cookie": c }));
    }
    if from.is_empty() {
        out.implicit(format!("{at}.from_headers"), DEFAULT_SOURCES_NOTE);
        g.insert("from".into(), default_sources());
    } else {
        g.insert("from".into(), Value::Array(from));
    }
}

fn rule(out: &mut Import, at: &str, r: &Value) {
    out.unknown_fields(r, at, &["match", "requires"]);
    let m = &r["match"];
    out.unknown_fields(
        m,
        &format!("{at}.match"),
        &["prefix", "path", "path_separated_prefix", "headers", "case_sensitive", "safe_regex", "path_match_policy"],
    );
    let mut matches = Vec::new();
    if let Some(p) = m["prefix"].as_str() {
        matches.push(json!({ "prefix": p }));
    } else if let Some(p) = m["path"].as_str() {
        matches.push(json!({ "exact": p }));
    } else if let Some(p) = m["path_separated_prefix"].as_str() {
        // `/api` matches `/api` and `/api/…`, never `/apix`.
        matches.push(json!({ "exact": p }));
        matches.push(json!({ "prefix": format!("{}/", p.trim_end_matches('/')) }));
    } else {
        out.dropped(
            format!("{at}.match"),
            "only prefix, path and path_separated_prefix translate (safe_regex and path_match_policy do not)",
        );
        return;
    }
    if m["case_sensitive"] == false {
        out.dropped(
            format!("{at}.match.case_sensitive"),
            "jwtgate paths match case-sensitively: the rule now covers fewer paths",
        );
    }
    let methods = methods(out, at, m);
    let requires = requirement(out, &format!("{at}.requires"), r.get("requires"));
    for mut mm in matches {
        if !methods.is_empty() {
            mm["methods"] = json!(methods);
        }
        let rule = match &requires {
            Requires::Public => json!({ "match": mm, "public": true }),
            Requires::Some(req) => json!({ "match": mm, "requires": req }),
            Requires::DenyAll => out.deny_rule(mm, "untranslated"),
        };
        out.rules.push(rule);
    }
}

/// A `:method` exact header matcher becomes `methods`; other header matchers do not translate.
fn methods(out: &mut Import, at: &str, m: &Value) -> Vec<String> {
    let mut methods = Vec::new();
    for (i, h) in m["headers"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
        let exact = h["string_match"]["exact"].as_str().or_else(|| h["exact_match"].as_str());
        match (h["name"].as_str(), exact) {
            (Some(":method"), Some(method)) => methods.push(method.to_ascii_uppercase()),
            _ => out.dropped(
                format!("{at}.match.headers[{i}]"),
                "only an exact `:method` header matcher translates (as methods)",
            ),
        }
    }
    methods
}

/// What a rule's `requires` becomes.
enum Requires {
    Public,
    Some(Value),
    /// No faithful translation: the rule refuses every request (see `Import::deny_rule`).
    DenyAll,
}

fn requirement(out: &mut Import, at: &str, req: Option<&Value>) -> Requires {
    let Some(req) = req.filter(|r| r.as_object().is_some_and(|o| !o.is_empty())) else {
        return Requires::Public;
    };
    let all: Vec<String> = out.providers.keys().cloned().collect();
    if let Some(p) = req["provider_name"].as_str() {
        return Requires::Some(json!({ "provider": p }));
    }
    if req.get("allow_missing").is_some() {
        // Missing is fine; a token present is checked by whichever provider it names.
        return Requires::Some(json!({ "allow_missing": all }));
    }
    if req.get("allow_missing_or_failed").is_some() {
        out.dropped(at, "allow_missing_or_failed lets an invalid token through, which jwtgate never does: translated more strictly as allow_missing of every provider");
        return Requires::Some(json!({ "allow_missing": all }));
    }
    for (key, kind) in [("requires_any", "any_of"), ("requires_all", "all_of")] {
        let Some(list) = req[key]["requirements"].as_array() else { continue };
        let names: Vec<&str> = list.iter().filter_map(|r| r["provider_name"].as_str()).collect();
        let optional = list.iter().any(|r| r.get("allow_missing").is_some());
        let others = list.len() - names.len() - usize::from(optional);
        return match (kind, optional, others) {
            ("any_of", false, 0) => Requires::Some(json!({ "any_of": names })),
            ("any_of", true, 0) => Requires::Some(json!({ "allow_missing": names })),
            ("all_of", false, 0) => Requires::Some(json!({ "all_of": names })),
            _ => {
                out.dropped(at, "nested requirement trees translate only as one any_of / all_of / allow_missing list of providers: the rule now refuses every request");
                Requires::DenyAll
            }
        };
    }
    out.dropped(at, "provider_and_audiences and requirement_name do not translate (define a provider per audience set): the rule now refuses every request");
    Requires::DenyAll
}

/// Proto3 JSON lets a field be written in lowerCamelCase (`fromHeaders`) as well as its
/// proto name (`from_headers`); Envoy reads both. Field names become proto names here;
/// the names of map entries (`providers`, `requirement_map`) are kept as written.
fn snake_case(v: &Value, keep_keys: bool) -> Value {
    match v {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, val)| {
                    let key = if keep_keys || k.starts_with('@') { k.clone() } else { to_snake(k) };
                    let is_map = key == "providers" || key == "requirement_map";
                    let val = snake_case(val, is_map);
                    (key, val)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|i| snake_case(i, false)).collect()),
        other => other.clone(),
    }
}

fn to_snake(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
