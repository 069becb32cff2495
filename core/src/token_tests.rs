use super::*;

fn seg(json: &str) -> String {
    b64::encode(json.as_bytes())
}

fn tok(header: &str, payload: &str) -> String {
    format!("{}.{}.c2ln", seg(header), seg(payload))
}

#[test]
fn parses_a_well_formed_token() {
    let t = tok(r#"{"alg":"RS256","kid":"k1","typ":"at+jwt"}"#, r#"{"sub":"a"}"#);
    let u = parse(&t, 8192).expect("well-formed");
    assert_eq!(u.header, Header { alg: Alg::RS256, kid: Some("k1".into()), typ: Some("at+jwt".into()) });
    assert_eq!(u.claims["sub"], "a");
}

#[test]
fn refuses_alg_none_in_any_case() {
    for alg in ["none", "None", "NONE", "nOnE"] {
        let t = tok(&format!(r#"{{"alg":"{alg}"}}"#), "{}");
        assert_eq!(parse(&t, 8192).unwrap_err(), AuthError::AlgorithmNotAllowed, "{alg}");
    }
    let unsigned = format!("{}.{}.", seg(r#"{"alg":"none"}"#), seg("{}"));
    assert!(matches!(parse(&unsigned, 8192), Err(AuthError::Malformed(_))));
}

#[test]
fn refuses_crit_cty_and_other_serialisations() {
    for (h, member) in [
        (r#"{"alg":"RS256","crit":[]}"#, "crit"),
        (r#"{"alg":"RS256","crit":["exp"],"exp":1}"#, "crit"),
        (r#"{"alg":"RS256","cty":"JWT"}"#, "cty"),
        (r#"{"alg":"RS256","b64":false}"#, "b64"),
    ] {
        assert_eq!(parse(&tok(h, "{}"), 8192).unwrap_err(), AuthError::UnsupportedHeader(member));
    }
    assert!(matches!(parse("a.b.c.d.e", 8192), Err(AuthError::Malformed(m)) if m.contains("JWE")));
    assert!(matches!(parse(r#"{"payload":"x"}"#, 8192), Err(AuthError::Malformed(_))));
}

#[test]
fn refuses_bad_shapes() {
    for bad in ["", "abc", "abc.def", "a.b.c.d", "....", "null"] {
        assert!(matches!(parse(bad, 8192), Err(AuthError::Malformed(_))), "{bad:?}");
    }
}

#[test]
fn size_is_checked_before_decoding() {
    let big = "a".repeat(8193);
    assert_eq!(parse(&big, 8192).unwrap_err(), AuthError::TokenTooLarge);
    let dots = ".".repeat(100_000);
    assert_eq!(parse(&dots, 8192).unwrap_err(), AuthError::TokenTooLarge);
}

#[test]
fn duplicate_header_members_are_refused() {
    let t = tok(r#"{"alg":"RS256","alg":"HS256"}"#, "{}");
    assert!(matches!(parse(&t, 8192), Err(AuthError::Malformed(m)) if m.contains("duplicate")));
    let t = tok(r#"{"alg":"RS256"}"#, r#"{"sub":"a","sub":"b"}"#);
    assert!(matches!(parse(&t, 8192), Err(AuthError::Malformed(m)) if m.contains("duplicate")));
}

#[test]
fn padded_or_standard_base64_is_refused() {
    let h = seg(r#"{"alg":"RS256"}"#);
    let t = format!("{h}=.{}.c2ln", seg("{}"));
    assert!(matches!(parse(&t, 8192), Err(AuthError::Malformed(_))));
}

#[test]
fn kid_must_be_a_string() {
    let t = tok(r#"{"alg":"RS256","kid":7}"#, "{}");
    assert_eq!(parse(&t, 8192).unwrap_err(), AuthError::Malformed("header `kid` is not a string"));
}

#[test]
fn typ_matching_follows_rfc9068() {
    assert!(typ_matches(Some("at+jwt"), "at+jwt"));
    assert!(typ_matches(Some("application/at+jwt"), "at+jwt"));
    assert!(typ_matches(Some("AT+JWT"), "application/at+jwt"));
    assert!(!typ_matches(Some("JWT"), "at+jwt"));
    assert!(!typ_matches(Some("dpop+jwt"), "at+jwt"));
    assert!(!typ_matches(None, "at+jwt"));
}
