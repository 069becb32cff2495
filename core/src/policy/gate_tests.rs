//! `Gate::decide` with policy rules: templates and captures, hosts, first match, the
//! 403 answer, cache hits, report-only and the decision labels.

use crate::error::AuthError;
use crate::policy::{Mode, Outcome, Unmet, Verdict};
use crate::test_support::*;
use serde_json::{json, Value};

/// The test world with `rules` put before its own.
fn world_with_rules(rules: Value, top: Value) -> World {
    world_with(|c| {
        let own = c["rules"].as_array().cloned().unwrap_or_default();
        let mut all = rules.as_array().cloned().expect("rules is a list");
        all.extend(own);
        c["rules"] = Value::Array(all);
        for (k, v) in top.as_object().expect("object") {
            c[k] = v.clone();
        }
    })
}

fn tenants() -> Value {
    json!([{
        "name": "tenants",
        "match": {"template": "/t/{tenant}/**"},
        "requires": {"provider": "a"},
        "require": {"claim": "tenant", "op": "eq", "from": "path.tenant"}
    }])
}

fn token(w: &World, claims: Value) -> String {
    es256_token(&w.ec_a, &payload(claims))
}

#[test]
fn a_tenant_template_opens_only_the_token_tenants_paths() {
    let mut w = world_with_rules(tenants(), json!({}));
    let acme = token(&w, json!({"tenant": "acme"}));
    let a = allowed(decide(&mut w, &bearer("/t/acme/orders/7", &acme)));
    assert_eq!(set(&a, "x-jwt-sub"), Some("user-1"));
    assert_eq!(a.verdict, Some(Verdict::allow("tenants", Mode::Enforce)));
    let d = denied(decide(&mut w, &bearer("/t/globex/orders/7", &acme)));
    assert_eq!((d.status, &d.reason), (403, &AuthError::AccessDenied(Unmet::Mismatch)));
    assert_eq!(d.www_authenticate, None, "a policy denial is a plain 403");
    let body: Value = serde_json::from_str(&d.body).expect("json");
    assert_eq!(body["error"], "access_denied");
    assert!(body.get("reason").is_none(), "reasons stay out of the body unless configured");
    assert!(!d.body.contains("acme") && !d.body.contains("globex") && !d.body.contains(&acme));
    assert!(d.log_line().contains("reason=condition_failed") && d.log_line().contains("rule=tenants"));
    let none = token(&w, json!({}));
    let d = denied(decide(&mut w, &bearer("/t/acme/x", &none)));
    assert_eq!(d.reason, AuthError::AccessDenied(Unmet::ClaimMissing));
    let d = denied(decide(&mut w, &req("GET", "/t/acme/x", &[])));
    assert_eq!((d.status, d.reason), (401, AuthError::MissingToken), "no token is still 401");
}

#[test]
fn a_cache_hit_is_authorized_again_for_each_request() {
    let mut w = world_with_rules(tenants(), json!({}));
    let acme = token(&w, json!({"tenant": "acme", "bulky": "x".repeat(500)}));
    allowed(decide(&mut w, &bearer("/t/acme/a", &acme)));
    assert_eq!(w.gate.cached_tokens(), 1);
    let d = denied(decide(&mut w, &bearer("/t/globex/a", &acme)));
    assert_eq!(d.reason, AuthError::AccessDenied(Unmet::Mismatch));
    allowed(decide(&mut w, &bearer("/t/acme/b", &acme)));
    // The cache keeps only the claims a tree reads.
    assert_eq!(w.gate.config().policy_claims, vec!["tenant".to_string()]);
}

#[test]
fn captures_are_segments_of_the_normalised_path() {
    let mut w = world_with_rules(tenants(), json!({}));
    let acme = token(&w, json!({"tenant": "acme"}));
    allowed(decide(&mut w, &bearer("/t/%61cme/x", &acme)));
    allowed(decide(&mut w, &bearer("/t/globex/../acme/x", &acme)));
    let d = denied(decide(&mut w, &bearer("/t/acme/../globex/x", &acme)));
    assert_eq!(d.reason, AuthError::AccessDenied(Unmet::Mismatch));
}

#[test]
fn scopes_stay_a_403_insufficient_scope() {
    let mut w = world();
    let t = token(&w, json!({"scope": "read"}));
    let d = denied(decide(&mut w, &bearer("/admin/x", &t)));
    assert_eq!((d.status, d.reason.metric_reason()), (403, "scope"));
    assert!(d.www_authenticate.as_deref().is_some_and(|h| h.contains("insufficient_scope")));
}

#[test]
fn hosts_match_case_insensitively_without_port_and_first_match_wins() {
    let rules = json!([
        {"name": "strict_host", "match": {"prefix": "/api/", "host": "admin.example.com"}, "requires": {"provider": "a"}, "scopes": ["admin"]},
        {"name": "wild_host", "match": {"prefix": "/api/", "host": "*.example.com"}, "public": true}
    ]);
    let mut w = world_with_rules(rules, json!({}));
    let read = token(&w, json!({"scope": "read"}));
    let on = |host: &str| req("GET", "/api/x", &[(":authority", host), ("authorization", &format!("Bearer {read}"))]);
    for host in ["admin.example.com", "ADMIN.Example.com:8443", "admin.example.com."] {
        let d = denied(decide(&mut w, &on(host)));
        assert_eq!(d.verdict.as_ref().map(|v| v.rule.as_str()), Some("strict_host"), "{host}");
    }
    let a = allowed(decide(&mut w, &on("shop.example.com")));
    assert_eq!(a.verdict.map(|v| v.rule), Some("wild_host".into()));
    // Neither host rule: the world's own `/api/` rule (any token of a or b).
    let a = allowed(decide(&mut w, &on("example.com")));
    assert_eq!(a.verdict.map(|v| v.rule), Some("rule_4".into()));
    let by_host_header = req("GET", "/api/x", &[("host", "admin.example.com")]);
    assert_eq!(denied(decide(&mut w, &by_host_header)).reason, AuthError::MissingToken);
}

#[test]
fn an_ambiguous_host_is_refused_not_matched_by_a_laxer_rule() {
    let rules = json!([{"match": {"prefix": "/api/", "host": "admin.example.com"}, "requires": {"provider": "a"}, "scopes": ["admin"]}]);
    let mut w = world_with_rules(rules, json!({"mode": "report_only"}));
    let r = req("GET", "/api/x", &[("host", "admin.example.com"), ("host", "other.example.com")]);
    let d = denied(decide(&mut w, &r));
    assert_eq!((d.status, d.reason), (400, AuthError::AmbiguousHost), "never passed through, even report-only");
}

#[test]
fn report_only_rule_passes_a_would_be_denial_with_the_verdict() {
    let mut rules = tenants();
    rules[0]["mode"] = json!("report_only");
    let mut w = world_with_rules(rules, json!({"report_header": "x-jwtgate-report"}));
    let acme = token(&w, json!({"tenant": "acme"}));
    let mut r = bearer("/t/globex/x", &acme);
    r.headers.push(("x-jwt-sub".into(), "spoofed".into()));
    r.headers.push(("x-jwtgate-report".into(), "spoofed".into()));
    let a = allowed(decide(&mut w, &r));
    assert_eq!(set(&a, "x-jwt-sub"), Some("user-1"), "a valid token's claim headers are set");
    assert!(a.remove.iter().any(|h| h == "x-jwt-sub") && a.remove.iter().any(|h| h == "x-jwtgate-report"));
    let v = a.verdict.clone().expect("verdict");
    assert_eq!((v.outcome, v.reason, v.status, v.mode), (Outcome::Deny, "condition_failed", 403, Mode::ReportOnly));
    assert_eq!(v.stat_name(), "decisions.tenants.deny.condition_failed.report_only");
    let header =
        ("x-jwtgate-report".to_string(), "deny; status=403; reason=condition_failed; rule=tenants".to_string());
    assert_eq!(a.response_headers, vec![header]);
    assert!(!a.set.iter().any(|(h, _)| h == "x-jwtgate-report"), "never sent upstream");

    // An invalid token: through, without claim headers, 401 recorded.
    let expired = token(&w, json!({"tenant": "acme", "iat": NOW_S - 4000, "exp": NOW_S - 3600}));
    let a = allowed(decide(&mut w, &bearer("/t/acme/x", &expired)));
    assert!(a.set.iter().all(|(h, _)| !h.starts_with("x-jwt-")), "{:?}", a.set);
    assert!(a.remove.iter().any(|h| h == "authorization"), "a failed token is not forwarded either");
    assert_eq!(a.verdict.map(|v| (v.reason, v.status)), Some(("expired", 401)));
    // No token at all.
    let a = allowed(decide(&mut w, &req("GET", "/t/acme/x", &[])));
    assert_eq!(a.verdict.map(|v| (v.outcome, v.reason)), Some((Outcome::Deny, "missing")));
    // A would-be allow is reported as one.
    let a = allowed(decide(&mut w, &bearer("/t/acme/x", &acme)));
    assert_eq!(a.response_headers[0].1, "allow; reason=ok; rule=tenants");
    // Other rules still enforce.
    denied(decide(&mut w, &req("GET", "/api/x", &[])));
}

#[test]
fn report_only_removes_a_failed_token_from_the_query_too() {
    let mut w = world_with(|c| {
        c["providers"]["a"]["from"] = json!([{"query": "access_token"}]);
        c["rules"] = json!([{"match": {"prefix": "/q/"}, "requires": {"provider": "a"}, "mode": "report_only"}]);
    });
    let expired = token(&w, json!({"iat": NOW_S - 4000, "exp": NOW_S - 3600}));
    let a = allowed(decide(&mut w, &req("GET", &format!("/q/x?access_token={expired}&k=1"), &[])));
    assert_eq!(set(&a, ":path"), Some("/q/x?k=1"));
    assert_eq!(a.verdict.map(|v| v.reason), Some("expired"));
}

#[test]
fn report_only_gate_covers_every_rule_and_unmatched_requests_without_a_header_by_default() {
    let mut w = world_with_rules(json!([]), json!({"mode": "report_only"}));
    let a = allowed(decide(&mut w, &req("GET", "/nowhere", &[])));
    assert_eq!(a.verdict.clone().map(|v| v.stat_name()), Some("decisions.unmatched.deny.no_rule.report_only".into()));
    assert!(a.response_headers.is_empty(), "the header is off by default");
    let read = token(&w, json!({"scope": "read"}));
    let a = allowed(decide(&mut w, &bearer("/admin/x", &read)));
    assert_eq!(a.verdict.map(|v| v.reason), Some("scope"));
    assert!(a.remove.iter().any(|h| h == "authorization"), "the token is handled as for an allowed request");
    assert_eq!(denied(decide(&mut w, &req("GET", "/a/%2f", &[]))).status, 400, "a bad path is never passed");
}

#[test]
fn a_rule_can_enforce_inside_a_report_only_gate() {
    let mut rules = tenants();
    rules[0]["mode"] = json!("enforce");
    let mut w = world_with_rules(rules, json!({"mode": "report_only"}));
    let acme = token(&w, json!({"tenant": "acme"}));
    denied(decide(&mut w, &bearer("/t/globex/x", &acme)));
}

#[test]
fn reason_in_body_when_configured() {
    let mut w = world_with_rules(tenants(), json!({"reason_in_body": true}));
    let acme = token(&w, json!({"tenant": 7}));
    let d = denied(decide(&mut w, &bearer("/t/7/x", &acme)));
    let body: Value = serde_json::from_str(&d.body).expect("json");
    assert_eq!((body["error"].as_str(), body["reason"].as_str()), (Some("access_denied"), Some("claim_type")));
    let d = denied(decide(&mut w, &req("GET", "/t/7/x", &[])));
    assert!(d.body.contains(r#""reason":"missing""#), "{}", d.body);
}

#[test]
fn every_decision_is_labelled_for_the_metric() {
    let mut w = world();
    let d = denied(decide(&mut w, &req("GET", "/nowhere", &[])));
    assert_eq!(d.verdict.map(|v| v.stat_name()), Some("decisions.unmatched.deny.no_rule.enforce".into()));
    let a = allowed(decide(&mut w, &req("GET", "/public/x", &[])));
    assert_eq!(a.verdict.map(|v| v.stat_name()), Some("decisions.rule_0.allow.ok.enforce".into()));
}

#[test]
fn a_deeply_nested_claim_a_tree_reads_refuses_the_token() {
    let rules = json!([{"match": {"prefix": "/deep/"}, "requires": {"provider": "a"},
        "require": {"claim": "realm.roles", "op": "contains", "value": "admin"}}]);
    let mut w = world_with_rules(rules, json!({}));
    let deep = (0..20).fold(json!("admin"), |v, _| json!([v]));
    let t = token(&w, json!({"realm": {"roles": deep}}));
    let d = denied(decide(&mut w, &bearer("/deep/x", &t)));
    assert_eq!((d.status, d.reason), (401, AuthError::ClaimTooDeep("realm".into())));
    assert_eq!(w.gate.cached_tokens(), 0, "a refused token is not cached");
    let shallow = token(&w, json!({"realm": {"roles": ["admin"]}}));
    allowed(decide(&mut w, &bearer("/deep/x", &shallow)));
}
