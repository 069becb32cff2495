//! Importer unit tests on small inline documents; the realistic fixtures and their golden
//! outputs are in `cli/tests/` (see `golden.rs`).

use super::*;

fn yaml(text: &str) -> Vec<(String, Value)> {
    serde_norway::Deserializer::from_str(text)
        .enumerate()
        .map(|(i, d)| (format!("doc{}", i + 1), <Value as serde::Deserialize>::deserialize(d).unwrap()))
        .collect()
}

fn loads(i: &Import) -> jwtgate_core::GateConfig {
    jwtgate_core::GateConfig::from_json(&i.config().to_string()).expect("the translation loads")
}

fn implicit_at(i: &Import, at: &str) -> bool {
    i.notes.iter().any(|n| matches!(n, Note::Implicit { at: a, .. } if a.ends_with(at)))
}

fn dropped_at(i: &Import, at: &str) -> bool {
    i.notes.iter().any(|n| matches!(n, Note::Dropped { at: a, .. } if a.ends_with(at)))
}

const RA: &str = "
apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: {name: a}
spec:
  jwtRules:
  - issuer: https://idp.example
    audiences: [api]
    jwksUri: https://idp.example/jwks
";

#[test]
fn istio_without_a_policy_allows_a_missing_token_explicitly() {
    let i = istio::translate(&yaml(RA));
    let c = loads(&i);
    assert!(implicit_at(&i, "AuthorizationPolicy"));
    assert_eq!(c.rules.len(), 1);
    assert_eq!(c.rules[0].requirement, jwtgate_core::Requirement::AllowMissing(vec![0]));
    assert_eq!(i.config()["providers"]["idp_example"]["clock_skew_s"], 60);
    assert_eq!(i.config()["providers"]["idp_example"]["from"], source::default_sources());
    assert_eq!(i.config()["providers"]["idp_example"]["jwks"]["cluster"], "outbound|443||idp.example");
}

#[test]
fn istio_allow_with_principals_requires_a_token_and_denies_the_rest() {
    let text = format!(
        "{RA}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: p}}
spec:
  rules:
  - from: [{{source: {{requestPrincipals: ['*']}}}}]
    to: [{{operation: {{paths: ['/api/*'], methods: [GET]}}}}]
"
    );
    let i = istio::translate(&yaml(&text));
    let c = loads(&i);
    assert_eq!(c.rules.len(), 1, "no catch-all: an ALLOW policy exists");
    assert_eq!(c.rules[0].requirement, jwtgate_core::Requirement::AnyOf(vec![0]));
    assert_eq!(c.rules[0].methods, vec!["GET".to_owned()]);
}

#[test]
fn istio_parts_without_a_translation_are_listed() {
    let text = format!(
        "{RA}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: p}}
spec:
  action: AUDIT
  rules: [{{}}]
"
    );
    let i = istio::translate(&yaml(&text));
    assert!(dropped_at(&i, "spec.action"));
}

const ENVOY: &str = "
providers:
  p:
    issuer: https://idp.example
    remote_jwks: {http_uri: {uri: 'https://idp.example/jwks', cluster: idp, timeout: 1s}}
rules:
- match: {prefix: /health}
- match: {prefix: /api/}
  requires: {provider_name: p}
";

#[test]
fn envoy_defaults_become_explicit() {
    let i = envoy::translate(&yaml(ENVOY));
    let c = loads(&i);
    let p = &i.config()["providers"]["p"];
    assert_eq!(p["clock_skew_s"], 60);
    assert_eq!(p["audiences"], "*");
    assert_eq!(p["jwks"]["refresh_interval_s"], 600);
    assert_eq!(p["jwks"]["timeout_ms"], 1000);
    for at in ["clock_skew_seconds", "audiences", "cache_duration", "from_headers", "require_expiration"] {
        assert!(implicit_at(&i, at), "{at}");
    }
    assert_eq!(c.rules.len(), 3, "the unmatched pass-through is an explicit last rule");
    assert_eq!(c.rules[2].requirement, jwtgate_core::Requirement::Public);
}

#[test]
fn envoy_failed_token_passthrough_is_never_translated() {
    let text = ENVOY.replace("requires: {provider_name: p}", "requires: {allow_missing_or_failed: {}}");
    let i = envoy::translate(&yaml(&text));
    assert!(dropped_at(&i, "rules[1].requires"));
    assert!(i.has_dropped());
}

#[test]
fn an_untranslatable_requirement_refuses_its_paths_instead_of_opening_them() {
    let text = ENVOY.replace(
        "requires: {provider_name: p}",
        "requires: {provider_and_audiences: {provider_name: p, audiences: [x]}}",
    );
    let i = envoy::translate(&yaml(&text));
    assert!(dropped_at(&i, "rules[1].requires"));
    let c = loads(&i);
    let rule = &i.config()["rules"][1];
    assert_eq!(rule["match"]["prefix"], "/api/");
    assert_eq!(rule["require"]["claim"], UNTRANSLATED_CLAIM);
    assert_eq!(c.rules[1].requirement, jwtgate_core::Requirement::AnyOf(vec![0]));
}

#[test]
fn an_istio_deny_that_does_not_translate_refuses_its_paths() {
    let text = format!(
        "{RA}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {{name: d}}
spec:
  action: DENY
  rules:
  - to: [{{operation: {{paths: ['/admin/*']}}}}]
    when: [{{key: 'request.auth.claims[role]', values: [guest]}}]
"
    );
    let i = istio::translate(&yaml(&text));
    loads(&i);
    let rules = i.config()["rules"].clone();
    assert_eq!(rules[0]["match"]["prefix"], "/admin/");
    assert_eq!(rules[0]["require"]["claim"], UNTRANSLATED_CLAIM);
    assert_eq!(rules[1]["name"], "istio_no_token_allowed");
}

#[test]
fn envoy_camel_case_fields_read_as_their_proto_names() {
    let text = "
providers:
  myIdp:
    issuer: https://idp.example
    audiences: [api]
    clockSkewSeconds: 5
    remoteJwks: {httpUri: {uri: 'https://idp.example/jwks', cluster: idp, timeout: 1s}, cacheDuration: 60s}
    fromHeaders: [{name: X-Token, valuePrefix: 'Token '}]
rules:
- match: {pathSeparatedPrefix: /api}
  requires: {providerName: myIdp}
";
    let i = envoy::translate(&yaml(text));
    assert!(!i.has_dropped(), "{:?}", i.notes);
    loads(&i);
    let p = &i.config()["providers"]["myIdp"];
    assert_eq!(p["clock_skew_s"], 5);
    assert_eq!(p["jwks"]["refresh_interval_s"], 60);
    assert_eq!(p["from"], json!([{ "header": "x-token", "prefix": "Token " }]));
    assert_eq!(i.config()["rules"][1]["requires"], json!({ "provider": "myIdp" }));
}
