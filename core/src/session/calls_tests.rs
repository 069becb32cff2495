use super::*;

#[test]
fn token_answers_parse_and_invalid_grant_is_told_apart() {
    let ok = br#"{"access_token":"a","refresh_token":"r","id_token":"i","token_type":"Bearer","expires_in":60}"#;
    let t = parse(Some(200), ok, 100).expect("tokens");
    assert_eq!((t.access_token.as_str(), t.refresh_token.as_deref(), t.exp_s), ("a", Some("r"), 160));
    assert_eq!(parse(Some(400), br#"{"error":"invalid_grant"}"#, 0), Err(CallError::InvalidGrant));
    assert_eq!(parse(Some(400), br#"{"error":"invalid_client"}"#, 0), Err(CallError::Failed));
    assert_eq!(parse(None, b"", 0), Err(CallError::Failed));
    assert_eq!(parse(Some(200), br#"{"access_token":"a","token_type":"DPoP"}"#, 0), Err(CallError::Failed));
    assert_eq!(parse(Some(200), b"not json", 0), Err(CallError::Failed));
}

#[test]
fn a_grant_is_called_once_and_its_answer_shared() {
    let mut c = Calls::default();
    let form = || vec![("grant_type".to_owned(), "refresh_token".to_owned())];
    assert_eq!(c.lookup("refresh:x", form, 0, 1000), Lookup::Waiting);
    assert!(c.has_unsent());
    assert_eq!(c.lookup("refresh:x", form, 1, 1000), Lookup::Waiting);
    let slot = *c.slots.keys().next().expect("slot");
    assert_eq!(c.slots.len(), 1);
    let ok = br#"{"access_token":"a","token_type":"bearer"}"#;
    assert_eq!(c.on_result(slot, 10, Some(200), ok), TokenEvent::Tokens);
    assert!(matches!(c.lookup("refresh:x", form, 20, 1000), Lookup::Done(t) if t.access_token == "a"));
    // Kept for ANSWER_KEEP_MS, then a new call.
    assert_eq!(c.lookup("refresh:x", form, 10 + ANSWER_KEEP_MS, 1000), Lookup::Waiting);
    assert_eq!(c.on_result(999, 0, Some(200), ok), TokenEvent::Dropped);
}

#[test]
fn a_lost_call_is_sent_again_after_its_timeout() {
    let mut c = Calls::default();
    let form = || vec![("a".to_owned(), "b".to_owned())];
    let _ = c.lookup("code:1", form, 0, 1000);
    c.by_key.values_mut().for_each(|(_, s)| *s = State::Sent { at_ms: 0 });
    assert!(!c.has_unsent());
    let _ = c.lookup("code:1", form, 1500, 1000);
    assert!(!c.has_unsent(), "still within timeout + 1 s");
    let _ = c.lookup("code:1", form, 2500, 1000);
    assert!(c.has_unsent());
}
