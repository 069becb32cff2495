use super::*;
use jwtgate_core::{AuthError, Denial};

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
