//! Istio `RequestAuthentication` + `AuthorizationPolicy` (security.istio.io v1 / v1beta1)
//! for one workload. Istio's order: CUSTOM, then DENY, then ALLOW; with no ALLOW policy a
//! request is allowed, and a request without a token is always *authenticated* (it just
//! has no principal) unless a policy asks for one. jwtgate rules are first-match with
//! deny by default, so the translation puts token requirements first and states the
//! implicit "no token is fine" as an explicit `allow_missing` rule.

use super::source::{default_sources, duration_ms, inline_jwks, split_uri, DEFAULT_SOURCES_NOTE};
use super::Import;
use serde_json::{json, Map, Value};

mod policy;

const JWT_RULE_FIELDS: &[&str] = &[
    "issuer",
    "audiences",
    "jwksUri",
    "jwks",
    "fromHeaders",
    "fromParams",
    "fromCookies",
    "outputPayloadToHeader",
    "forwardOriginalToken",
    "outputClaimToHeaders",
    "timeout",
    "spaceDelimitedClaims",
];

pub fn translate(docs: &[(String, Value)]) -> Import {
    let mut out = Import::default();
    let mut policies = Vec::new();
    for (at, doc) in docs {
        out.unknown_fields(doc, at, &["apiVersion", "kind", "metadata", "spec"]);
        let spec = &doc["spec"];
        workload(&mut out, at, spec);
        match doc["kind"].as_str() {
            Some("RequestAuthentication") => {
                out.unknown_fields(spec, &format!("{at}.spec"), &["selector", "targetRef", "targetRefs", "jwtRules"]);
                for (i, r) in spec["jwtRules"].as_array().map(Vec::as_slice).unwrap_or_default().iter().enumerate() {
                    jwt_rule(&mut out, &format!("{at}.spec.jwtRules[{i}]"), r);
                }
            }
            Some("AuthorizationPolicy") => policies.push((at.as_str(), spec)),
            other => {
                out.dropped(at.clone(), format!("kind {other:?} is not RequestAuthentication or AuthorizationPolicy"))
            }
        }
    }
    policy::translate(&mut out, &policies);
    out
}

/// The importer produces one gate's config: a selector says which workload it is for.
fn workload(out: &mut Import, at: &str, spec: &Value) {
    for field in ["selector", "targetRef", "targetRefs"] {
        if spec.get(field).is_some() {
            out.implicit(format!("{at}.spec.{field}"), "the output is the config of the gate in front of this workload; documents for other workloads must be imported separately");
        }
    }
}

/// Istio names the provider by its issuer; jwtgate wants a name: the issuer's host.
fn provider_name(out: &Import, issuer: &str) -> String {
    let host = split_uri(issuer).map_or(issuer, |(a, _)| a);
    let base: String =
        host.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' }).collect();
    let mut name = base.clone();
    let mut n = 2;
    while out.providers.contains_key(&name) {
        name = format!("{base}_{n}");
        n += 1;
    }
    name
}

fn jwt_rule(out: &mut Import, at: &str, r: &Value) {
    out.unknown_fields(r, at, JWT_RULE_FIELDS);
    let Some(issuer) = r["issuer"].as_str() else {
        out.dropped(format!("{at}.issuer"), "required");
        return;
    };
    let mut g = Map::new();
    g.insert("issuer".into(), json!(issuer));
    match r["audiences"].as_array().filter(|a| !a.is_empty()) {
        Some(a) => drop(g.insert("audiences".into(), json!(a))),
        None => {
            out.implicit(format!("{at}.audiences"), "no audiences: Istio then does not check `aud` (its docs: \"the service name will be accepted\"); made explicit as \"*\" (set the service's audience)");
            g.insert("audiences".into(), json!("*"));
        }
    }
    if !jwks(out, at, r, &mut g) {
        return;
    }
    sources(out, at, r, &mut g);
    out.implicit(
        format!("{at}.clock_skew"),
        "Istio programs Envoy jwt_authn without clock_skew_seconds: 60 s of skew; made explicit as clock_skew_s: 60",
    );
    g.insert("clock_skew_s".into(), json!(60));
    let claims = r["outputClaimToHeaders"].as_array().map(Vec::as_slice).unwrap_or_default();
    if !claims.is_empty() {
        let list: Vec<Value> = claims.iter().map(|c| json!({ "claim": c["claim"], "header": c["header"] })).collect();
        g.insert("claim_to_headers".into(), Value::Array(list));
    }
    let forward = r["forwardOriginalToken"] == true;
    if !forward {
        out.implicit(
            format!("{at}.forwardOriginalToken"),
            "false: Istio removes the token before the upstream (forward_token: false)",
        );
    }
    g.insert("forward_token".into(), json!(forward));
    if r.get("outputPayloadToHeader").is_some() {
        out.dropped(format!("{at}.outputPayloadToHeader"), "the whole payload as a header has no jwtgate equivalent: list the claims the upstream needs in claim_to_headers");
    }
    if r.get("spaceDelimitedClaims").is_some() {
        out.dropped(
            format!("{at}.spaceDelimitedClaims"),
            "jwtgate splits only `scope`; compare other space-delimited claims with `matches`",
        );
    }
    out.implicit(format!("{at}.exp"), "Istio accepts a token without `exp`; jwtgate always requires it and bounds its lifetime by max_lifetime_s (default 86400)");
    let name = provider_name(out, issuer);
    out.providers.insert(name, Value::Object(g));
}

/// `jwks` (inline) wins over `jwksUri`, as in Istio. Without either Istio discovers the
/// keys from the issuer (OpenID discovery), which jwtgate does not do.
fn jwks(out: &mut Import, at: &str, r: &Value, g: &mut Map<String, Value>) -> bool {
    if let Some(text) = r["jwks"].as_str() {
        return match inline_jwks(text) {
            Ok(doc) => {
                g.insert("jwks".into(), json!({ "inline": doc }));
                true
            }
            Err(e) => {
                out.dropped(format!("{at}.jwks"), e);
                false
            }
        };
    }
    let Some(uri) = r["jwksUri"].as_str() else {
        out.dropped(
            format!("{at}.jwksUri"),
            "not set: Istio finds the JWKS by OpenID discovery on the issuer; jwtgate needs jwks.uri (or inline keys)",
        );
        return false;
    };
    let Some((authority, path)) = split_uri(uri) else {
        out.dropped(format!("{at}.jwksUri"), "not an http(s) URL");
        return false;
    };
    let host = authority.split(':').next().unwrap_or(authority);
    let port = authority.split_once(':').map_or(if uri.starts_with("https") { "443" } else { "80" }, |(_, p)| p);
    let cluster = format!("outbound|{port}||{host}");
    out.implicit(format!("{at}.jwksUri"), format!("in a mesh the filter reaches the IdP through Istio's cluster {cluster:?} (a ServiceEntry for an external IdP); istiod refetches keys every 20 minutes (PILOT_JWT_PUB_KEY_REFRESH_INTERVAL): refresh_interval_s: 1200"));
    let mut j =
        json!({ "uri": uri, "cluster": cluster, "authority": authority, "path": path, "refresh_interval_s": 1200 });
    if let Some(ms) = r.get("timeout").and_then(duration_ms) {
        j["timeout_ms"] = json!(ms.max(1));
    }
    g.insert("jwks".into(), j);
    true
}

fn sources(out: &mut Import, at: &str, r: &Value, g: &mut Map<String, Value>) {
    let mut from = Vec::new();
    for h in r["fromHeaders"].as_array().map(Vec::as_slice).unwrap_or_default() {
        let name = h["name"].as_str().unwrap_or_default().to_ascii_lowercase();
        from.push(json!({ "header": name, "prefix": h["prefix"].as_str().unwrap_or("") }));
    }
    for q in r["fromParams"].as_array().map(Vec::as_slice).unwrap_or_default() {
        from.push(json!({ "query": q }));
    }
    for c in r["fromCookies"].as_array().map(Vec::as_slice).unwrap_or_default() {
        from.push(json!({ "cookie": c }));
    }
    if from.is_empty() {
        out.implicit(format!("{at}.fromHeaders"), DEFAULT_SOURCES_NOTE);
        g.insert("from".into(), default_sources());
    } else {
        g.insert("from".into(), Value::Array(from));
    }
}
