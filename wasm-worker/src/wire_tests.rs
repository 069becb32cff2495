use super::*;
use jwtgate_core::{AuthError, Denial, Mode, Verdict};

#[test]
fn pairs_drop_a_dangling_name() {
    let p = pairs(vec!["a".into(), "1".into(), "b".into()]);
    assert_eq!(p, vec![("a".to_string(), "1".to_string())]);
}

#[test]
fn deny_carries_status_headers_and_body() {
    let d = Decision::Deny(Denial::new(AuthError::MissingToken, "jwtgate", None));
    let v: Value = serde_json::from_str(&decision(&d)).expect("json");
    assert_eq!(v["kind"], "deny");
    assert_eq!(v["status"], 401);
    assert!(v["headers"]
        .as_array()
        .expect("array")
        .iter()
        .any(|h| h[0] == "www-authenticate" && h[1] == "Bearer realm=\"jwtgate\""));
}

#[test]
fn a_report_only_allow_carries_its_verdict_response_header_and_log_line() {
    let verdict = Verdict::deny("tenants", &AuthError::MissingToken, Mode::ReportOnly);
    let a = jwtgate_core::Allowed {
        response_headers: vec![("x-jwtgate-report".into(), verdict.header_value())],
        verdict: Some(verdict),
        ..Default::default()
    };
    let v: Value = serde_json::from_str(&decision(&Decision::Allow(a))).expect("json");
    assert_eq!(v["response_headers"][0][0], "x-jwtgate-report");
    assert_eq!(v["response_headers"][0][1], "deny; status=401; reason=missing; rule=tenants");
    assert_eq!(v["verdict"]["stat"], "decisions.tenants.deny.missing.report_only");
    assert!(v["log"].as_str().is_some_and(|l| l.contains("report_only rule=tenants would=deny")));
    let plain: Value = serde_json::from_str(&decision(&Decision::Allow(Default::default()))).expect("json");
    assert!(plain["log"].is_null() && plain["verdict"].is_null());
}
