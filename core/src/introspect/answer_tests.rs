use super::*;

#[test]
fn active_must_be_a_boolean_and_the_body_a_capped_object() {
    assert_eq!(parse(Some(200), br#"{"active":false,"sub":"x"}"#, 100), Ok(Answer::Inactive));
    match parse(Some(200), br#"{"active":true,"sub":"x"}"#, 100) {
        Ok(Answer::Active(m)) => assert_eq!((m.get("sub"), m.contains_key("active")), (Some(&"x".into()), false)),
        other => panic!("{other:?}"),
    }
    for bad in [&br#"{"active":"true"}"#[..], br#"{"sub":"x"}"#, br#"[true]"#, br#"{"active":true,"active":false}"#] {
        assert!(
            matches!(parse(Some(200), bad, 100), Err(CallFailure::Malformed(_))),
            "{}",
            String::from_utf8_lossy(bad)
        );
    }
    assert_eq!(parse(Some(200), br#"{"active":true}"#, 10), Err(CallFailure::TooLarge { cap: 10 }));
    assert_eq!(parse(Some(503), b"", 10), Err(CallFailure::Status(503)));
    assert_eq!(parse(None, b"", 10), Err(CallFailure::NoResponse));
}
