use super::*;
use crate::test_support::{as_map, NOW_S};
use serde_json::json;

fn logout(changes: Value) -> Map<String, Value> {
    let mut v = json!({
        "iss": "https://idp", "aud": "bff", "iat": NOW_S, "jti": "j1", "sid": "s1",
        "events": { BACKCHANNEL_EVENT: {} }
    });
    for (k, c) in changes.as_object().expect("object") {
        if c.is_null() {
            v.as_object_mut().expect("object").remove(k);
        } else {
            v[k] = c.clone();
        }
    }
    as_map(v)
}

fn check(c: &Map<String, Value>) -> Result<LogoutOf, &'static str> {
    check_logout_token(c, "https://idp", "bff", NOW_S, 60, 120)
}

#[test]
fn a_valid_logout_token_names_the_session() {
    assert_eq!(check(&logout(json!({}))), Ok(LogoutOf { sid: Some("s1".into()), sub: None }));
    let by_sub = logout(json!({"sid": null, "sub": "alice"}));
    assert_eq!(check(&by_sub), Ok(LogoutOf { sid: None, sub: Some("alice".into()) }));
}

#[test]
fn hostile_logout_tokens_are_refused() {
    let cases = [
        (json!({"events": null}), "event"),
        (json!({"events": {"other": {}}}), "event"),
        (json!({"nonce": "n"}), "nonce"),
        (json!({"aud": "someone-else"}), "not for this client"),
        (json!({"iss": "https://evil"}), "issuer"),
        (json!({"iat": NOW_S - 3600}), "iat"),
        (json!({"iat": null}), "iat"),
        (json!({"jti": null}), "jti"),
        (json!({"sid": null}), "neither"),
        (json!({"exp": NOW_S - 100}), "expired"),
    ];
    for (changes, why) in cases {
        let e = check(&logout(changes.clone())).expect_err("refused");
        assert!(e.contains(why), "{changes}: {e}");
    }
}
