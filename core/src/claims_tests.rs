use super::*;
use crate::alg::Alg;
use crate::config::JwksSource;
use crate::jwk::KeySetDoc;
use crate::test_support::*;
use serde_json::json;

const SKEW: u64 = 60;
const MAX_LIFETIME: u64 = 3600;

fn provider(audiences: Audiences) -> ProviderConfig {
    ProviderConfig {
        name: "idp".into(),
        issuer: ISS_A.into(),
        audiences,
        algorithms: vec![Alg::ES256],
        clock_skew_s: SKEW,
        max_lifetime_s: MAX_LIFETIME,
        max_token_bytes: 8192,
        token_type: None,
        sources: vec![],
        claim_headers: vec![],
        forward_token: false,
        kind: crate::config::ProviderKind::Jwt,
        jwks: JwksSource::Inline(KeySetDoc::default()),
        revocation: None,
        sender_constraint: Default::default(),
        validation: crate::config::Validation::Jwt,
        introspection: None,
        discovery: None,
        login: None,
    }
}

fn strict() -> ProviderConfig {
    provider(Audiences::OneOf(vec![AUD.into(), "api://other".into()]))
}

/// Validates the default test payload with `changes` applied, at `now`.
fn check_at(changes: Value, now: u64) -> Result<(), AuthError> {
    validate(&as_map(payload(changes)), &strict(), now)
}

fn check(changes: Value) -> Result<(), AuthError> {
    check_at(changes, NOW_S)
}

#[test]
fn valid_claims_pass() {
    assert_eq!(check(json!({})), Ok(()));
}

#[test]
fn exp_is_required() {
    assert_eq!(check(json!({"exp": null})), Err(AuthError::MissingExpiry));
}

#[test]
fn expired_beyond_skew_is_refused() {
    let exp = NOW_S - SKEW;
    assert_eq!(check(json!({"exp": exp, "iat": exp - 100})), Err(AuthError::Expired));
    assert_eq!(check(json!({"exp": exp - 1000, "iat": exp - 1100})), Err(AuthError::Expired));
}

#[test]
fn expired_within_skew_is_accepted() {
    let exp = NOW_S - SKEW + 1;
    assert_eq!(check(json!({"exp": exp, "iat": exp - 100})), Ok(()));
}

#[test]
fn nbf_in_the_future_beyond_skew_is_refused() {
    assert_eq!(check(json!({"nbf": NOW_S + SKEW + 1})), Err(AuthError::NotYetValid));
    assert_eq!(check(json!({"nbf": NOW_S + SKEW})), Ok(()), "within skew");
}

#[test]
fn iat_in_the_future_beyond_skew_is_refused() {
    assert_eq!(check(json!({"iat": NOW_S + SKEW + 1})), Err(AuthError::IssuedInFuture));
    assert_eq!(check(json!({"iat": NOW_S + SKEW})), Ok(()), "within skew");
}

#[test]
fn lifetime_over_the_maximum_is_refused() {
    let iat = NOW_S - 10;
    assert_eq!(check(json!({"iat": iat, "exp": iat + MAX_LIFETIME})), Ok(()));
    assert_eq!(check(json!({"iat": iat, "exp": iat + MAX_LIFETIME + 1})), Err(AuthError::LifetimeTooLong));
    // Without iat the lifetime counts from nbf, and without both from now.
    assert_eq!(check(json!({"iat": null, "nbf": iat, "exp": iat + MAX_LIFETIME + 1})), Err(AuthError::LifetimeTooLong));
    assert_eq!(check(json!({"iat": null, "exp": NOW_S + MAX_LIFETIME + 1})), Err(AuthError::LifetimeTooLong));
    assert_eq!(check(json!({"iat": null, "exp": NOW_S + MAX_LIFETIME})), Ok(()));
}

#[test]
fn exp_far_in_the_future_is_a_lifetime_violation_not_forever() {
    assert_eq!(check(json!({"exp": 1u64 << 53})), Err(AuthError::LifetimeTooLong));
}

#[test]
fn time_claims_must_be_non_negative_integers() {
    for bad in
        [json!(1.5), json!(NOW_S as f64 + 600.5), json!("1700000600"), json!(-1), json!(1e300), json!(true), json!([1])]
    {
        assert_eq!(check(json!({"exp": bad})), Err(AuthError::BadClaim("exp")), "exp={bad}");
        assert_eq!(check(json!({"nbf": bad})), Err(AuthError::BadClaim("nbf")), "nbf={bad}");
        assert_eq!(check(json!({"iat": bad})), Err(AuthError::BadClaim("iat")), "iat={bad}");
    }
    assert_eq!(check(json!({"exp": (1u64 << 53) + 1})), Err(AuthError::BadClaim("exp")), "past 2^53");
    assert_eq!(check(json!({"exp": u64::MAX})), Err(AuthError::BadClaim("exp")));
}

#[test]
fn issuer_must_match_exactly() {
    assert_eq!(check(json!({"iss": ISS_B})), Err(AuthError::WrongIssuer));
    assert_eq!(check(json!({"iss": format!("{ISS_A}/")})), Err(AuthError::WrongIssuer));
    assert_eq!(check(json!({"iss": null})), Err(AuthError::WrongIssuer));
    assert_eq!(check(json!({"iss": [ISS_A]})), Err(AuthError::WrongIssuer));
}

#[test]
fn audience_string_must_be_accepted() {
    assert_eq!(check(json!({"aud": "api://other"})), Ok(()));
    assert_eq!(check(json!({"aud": "api://evil"})), Err(AuthError::WrongAudience));
    assert_eq!(check(json!({"aud": ""})), Err(AuthError::WrongAudience));
}

#[test]
fn audience_array_needs_one_accepted_entry() {
    assert_eq!(check(json!({"aud": ["api://evil", AUD]})), Ok(()));
    assert_eq!(check(json!({"aud": ["api://evil", "api://worse"]})), Err(AuthError::WrongAudience));
    assert_eq!(check(json!({"aud": []})), Err(AuthError::WrongAudience));
}

#[test]
fn missing_audience_is_refused() {
    assert_eq!(check(json!({"aud": null})), Err(AuthError::WrongAudience));
}

#[test]
fn non_string_audience_entries_are_bad_claims() {
    assert_eq!(check(json!({"aud": [AUD, 7]})), Err(AuthError::BadClaim("aud")));
    assert_eq!(check(json!({"aud": [AUD, null]})), Err(AuthError::BadClaim("aud")));
    assert_eq!(check(json!({"aud": 7})), Err(AuthError::BadClaim("aud")));
    assert_eq!(check(json!({"aud": {"v": AUD}})), Err(AuthError::BadClaim("aud")));
}

#[test]
fn audience_any_skips_only_the_audience_check() {
    let any = provider(Audiences::Any);
    assert_eq!(validate(&as_map(payload(json!({"aud": null}))), &any, NOW_S), Ok(()));
    assert_eq!(validate(&as_map(payload(json!({"aud": "whatever"}))), &any, NOW_S), Ok(()));
    assert_eq!(validate(&as_map(payload(json!({"iss": ISS_B}))), &any, NOW_S), Err(AuthError::WrongIssuer));
    assert_eq!(validate(&as_map(payload(json!({"exp": null}))), &any, NOW_S), Err(AuthError::MissingExpiry));
}

#[test]
fn subject_must_be_a_string_when_present() {
    assert_eq!(check(json!({"sub": null})), Ok(()));
    assert_eq!(check(json!({"sub": 42})), Err(AuthError::BadClaim("sub")));
    assert_eq!(check(json!({"sub": ["a"]})), Err(AuthError::BadClaim("sub")));
}

#[test]
fn issuer_helper_reads_only_strings() {
    assert_eq!(issuer(&as_map(json!({"iss": ISS_A}))), Some(ISS_A));
    assert_eq!(issuer(&as_map(json!({"iss": 1}))), None);
    assert_eq!(issuer(&as_map(json!({}))), None);
}

#[test]
fn granted_scopes_from_scope_or_scp() {
    let g = |v: Value| granted_scopes(&as_map(v)).into_iter().map(str::to_owned).collect::<Vec<_>>();
    assert_eq!(g(json!({"scope": "read  write admin"})), ["read", "write", "admin"]);
    assert_eq!(g(json!({"scp": ["read", 7, "write"]})), ["read", "write"]);
    assert_eq!(g(json!({"scp": "read write"})), ["read", "write"]);
    assert_eq!(g(json!({"scope": "read", "scp": ["admin"]})), ["read"], "scope wins over scp");
    assert!(g(json!({})).is_empty());
    assert!(g(json!({"scope": ""})).is_empty());
    assert_eq!(g(json!({"scope": ["read", "write"]})), ["read", "write"], "an array-valued scope is read as a list");
    assert!(g(json!({"scope": 7})).is_empty());
}
