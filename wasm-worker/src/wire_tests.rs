use super::*;
use jwtgate_core::{AuthError, Gate, HostKind, RequestView, Verifier};

#[test]
fn pairs_drop_a_dangling_name() {
    let p = pairs(vec!["a".into(), "1".into(), "b".into()]);
    assert_eq!(p, vec![("a".to_string(), "1".to_string())]);
}

#[test]
fn deny_carries_status_headers_body_and_log() {
    let mut d = EdgeDecision::from(Decision::Deny(Denial::new(AuthError::MissingToken, "jwtgate", None)));
    assert_eq!(d.kind(), Some(DecisionKind::Deny));
    assert!(d.allow().is_none() && d.job().is_none(), "other variants are not there");
    let denial = d.deny().expect("a denial");
    assert_eq!(d.kind(), None, "taken out");
    assert_eq!(denial.status(), 401);
    let headers = denial.headers();
    assert!(headers.chunks(2).any(|h| h == ["www-authenticate", "Bearer realm=\"jwtgate\""]), "{headers:?}");
    assert!(denial.body().contains("missing_token"));
    assert!(denial.log_line().contains("reason=missing"));
}

#[test]
fn host_failures_come_from_the_core() {
    let d = EdgeDenial::unconfigured();
    assert_eq!(d.status(), 503);
    assert!(d.headers().chunks(2).any(|h| h == ["retry-after", "5"]));
    assert!(d.body().contains("jwtgate is not configured"));
    let d = EdgeDenial::internal_error();
    assert_eq!(d.status(), 500);
    assert!(d.body().contains("server_error"));
}

fn gate(verifier: Verifier) -> Gate {
    let config = serde_json::json!({
        "providers": {"idp": {"issuer": "https://idp.example", "audiences": ["api"],
                              "jwks": {"uri": "https://idp.example/jwks"}}},
        "rules": [
            {"match": {"prefix": "/api/py/"}, "public": true},
            {"match": {"prefix": "/api/node/"}, "requires": {"provider": "idp"}}
        ]
    });
    let config = HostKind::Edge.load_config(&config.to_string()).expect("valid for the edge");
    Gate::new(config, verifier, 1)
}

#[test]
fn allow_carries_the_normalised_path_for_the_origin_choice() {
    let mut g = gate(Verifier::Software);
    let headers = vec![("x-keep".to_owned(), "1".to_owned())];
    let view =
        RequestView { method: "GET", path: "/api/node/../py/x?q=1", headers: &headers, conn: Default::default() };
    let mut d = EdgeDecision::from(g.decide(&view, 0, 0));
    assert_eq!(d.kind(), Some(DecisionKind::Allow));
    let a = d.allow().expect("allowed");
    assert_eq!((a.path(), a.target()), ("/api/py/x".to_owned(), "/api/py/x?q=1".to_owned()));
    assert!(!a.set().contains(&":path".to_owned()), "the target is its own field: {:?}", a.set());
    assert_eq!((a.token_hash(), a.stale_keys()), (None, false));
    assert!(a.log_line().contains("path=/api/py/x"));
}

#[test]
fn a_cold_remote_provider_asks_for_a_fetch_by_uri() {
    let mut g = gate(Verifier::Async);
    let headers = vec![("authorization".to_owned(), "Bearer a.b.c".to_owned())];
    let view = RequestView { method: "GET", path: "/api/node/x", headers: &headers, conn: Default::default() };
    // A malformed token is refused before any key is needed.
    assert_eq!(EdgeDecision::from(g.decide(&view, 0, 0)).kind(), Some(DecisionKind::Deny));
    let fetches = fetches(&g.poll_fetches(0), |p| g.fetch_body_cap(p));
    assert_eq!(fetches.len(), 1);
    assert_eq!((fetches[0].provider, fetches[0].uri.as_deref()), (0, Some("https://idp.example/jwks")));
    assert!(fetches[0].timeout_ms > 0.0 && fetches[0].max_body_bytes > 0.0);
    assert_eq!(fetches[0].doc(), DocId::jwks(0));
    assert_eq!((fetches[0].method.as_str(), fetches[0].body.is_empty()), ("GET", true));
    assert_eq!(fetches[0].accept, "application/json, application/jwk-set+json");
}

#[test]
fn a_report_only_allow_carries_its_response_header_stat_and_log_line() {
    let verdict = Verdict::deny("tenants", &AuthError::MissingToken, Mode::ReportOnly);
    let a = Allowed {
        response_headers: vec![("x-jwtgate-report".into(), verdict.header_value())],
        verdict: Some(verdict),
        ..Default::default()
    };
    let allow = EdgeDecision::from(Decision::Allow(a)).allow().expect("an allow");
    assert_eq!(allow.response_headers(), ["x-jwtgate-report", "deny; status=401; reason=missing; rule=tenants"]);
    assert_eq!(allow.stat().as_deref(), Some("decisions.tenants.deny.missing.report_only"));
    assert!(allow.report_line().is_some_and(|l| l.contains("report_only rule=tenants would=deny")));
    let plain = EdgeDecision::from(Decision::Allow(Allowed::default())).allow().expect("an allow");
    assert!(plain.report_line().is_none() && plain.stat().is_none() && plain.response_headers().is_empty());
}

#[test]
fn a_login_response_keeps_every_set_cookie() {
    let r = jwtgate_core::Response::redirect("https://idp/auth".into(), vec!["a=1".into(), "b=2".into()], "login");
    let mut d = EdgeDecision::from(jwtgate_core::Decision::Respond(Box::new(r)));
    assert_eq!(d.kind(), Some(DecisionKind::Respond));
    let resp = d.respond().expect("a response");
    assert_eq!(resp.status(), 302);
    let h = resp.headers();
    let cookies: Vec<&String> = h.chunks(2).filter(|kv| kv[0] == "set-cookie").map(|kv| &kv[1]).collect();
    assert_eq!(cookies, ["a=1", "b=2"]);
    assert!(d.kind().is_none(), "taken out");
    let nb = EdgeDecision::from(jwtgate_core::Decision::NeedBody { max_bytes: 16 });
    assert_eq!((nb.kind(), nb.body_limit()), (Some(DecisionKind::NeedBody), Some(16)));
}
