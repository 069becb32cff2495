use super::*;
use crate::test_support::req;

const K1: [u8; 32] = [1; 32];
const K2: [u8; 32] = [2; 32];

#[test]
fn a_sealed_value_opens_only_for_its_purpose_cookie_and_provider() {
    let s = seal(&K1, [5; 12], Purpose::Session, "c", "web", b"hello");
    assert_eq!(open(&[K1], Purpose::Session, "c", "web", &s).as_deref(), Some(&b"hello"[..]));
    assert_eq!(open(&[K1], Purpose::Login, "c", "web", &s), None, "another purpose");
    assert_eq!(open(&[K1], Purpose::Session, "d", "web", &s), None, "another cookie");
    assert_eq!(open(&[K1], Purpose::Session, "c", "other", &s), None, "another provider");
    assert_eq!(open(&[K2], Purpose::Session, "c", "web", &s), None, "another key");
    assert!(!s.contains("hello") && !crate::b64::decode(&s).expect("b64").windows(5).any(|w| w == b"hello"));
}

#[test]
fn every_flipped_bit_and_truncation_is_refused() {
    let s = seal(&K1, [5; 12], Purpose::Session, "c", "web", b"payload");
    let bytes = crate::b64::decode(&s).expect("b64");
    for i in 0..bytes.len() {
        let mut t = bytes.clone();
        t[i] ^= 1;
        assert_eq!(open(&[K1], Purpose::Session, "c", "web", &crate::b64::encode(&t)), None, "bit in byte {i}");
    }
    assert_eq!(open(&[K1], Purpose::Session, "c", "web", &crate::b64::encode(&bytes[..27])), None);
    assert_eq!(open(&[K1], Purpose::Session, "c", "web", "not base64!"), None);
}

#[test]
fn rotation_opens_with_the_previous_key() {
    let old = seal(&K2, [6; 12], Purpose::Session, "c", "web", b"x");
    assert_eq!(open(&[K1, K2], Purpose::Session, "c", "web", &old).as_deref(), Some(&b"x"[..]));
}

#[test]
fn long_values_split_and_join_and_oversize_is_refused() {
    let long = "a".repeat(9000);
    let parts = split(&long, 12_000).expect("fits");
    assert_eq!(parts.len(), 3);
    assert!(parts[0].starts_with("3~") && parts.iter().all(|p| p.len() <= COOKIE_CHUNK_BYTES));
    let header = format!("x=1; c={}; c.1={}; c.2={}", parts[0], parts[1], parts[2]);
    let r = req("GET", "/", &[("cookie", &header)]);
    assert_eq!(join(&r.view(), "c"), Some((long.clone(), 3)));
    assert_eq!(split(&long, 8999), None);
    // A missing chunk or a silly count: no value.
    let r = req("GET", "/", &[("cookie", &format!("c={}; c.1={}", parts[0], parts[1]))]);
    assert_eq!(join(&r.view(), "c"), None);
    let r = req("GET", "/", &[("cookie", "c=99~abc")]);
    assert_eq!(join(&r.view(), "c"), None);
}

#[test]
fn set_cookie_flags_and_clearing_stale_chunks() {
    let set = set_headers("c", &["v".into()], 60, 3);
    assert_eq!(set[0], "c=v; Path=/; Max-Age=60; HttpOnly; Secure; SameSite=Lax");
    assert_eq!(
        set[1..],
        [
            "c.1=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax",
            "c.2=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
        ]
    );
}

#[test]
fn the_upstream_never_sees_the_gate_cookies() {
    let r = req("GET", "/", &[("cookie", "a=1; c=s; c.1=t; c-login=l; c.x=keep"), ("cookie", "b=2")]);
    assert_eq!(without_gate_cookies(&r.view(), "c").as_deref(), Some("a=1; c.x=keep; b=2"));
    let r = req("GET", "/", &[("cookie", "c=s")]);
    assert_eq!(without_gate_cookies(&r.view(), "c"), None);
}
