use super::*;

#[test]
fn return_paths_must_stay_on_this_origin() {
    for ok in ["/", "/app/x?y=1", "/a//b"] {
        assert!(safe_return_path(ok), "{ok}");
    }
    for bad in ["//evil.example/", "/\\evil.example", "https://evil.example/", "", "evil", "/a\r\nb", "/a\\b"] {
        assert!(!safe_return_path(bad), "{bad:?}");
    }
}

#[test]
fn pkce_is_s256_of_the_verifier() {
    // Expected value computed independently (Python: urlsafe_b64encode(sha256(v)) without `=`).
    assert_eq!(
        pkce_challenge("dBjftJeZ4CVP-mJ92K9rfdkPoVsSOd_xNBtwOuVKP1vz"),
        "dUsFfX_0WCpplntH8foKmhcgUtCOae053cPErVH46sg"
    );
}

#[test]
fn comparisons_and_randomness() {
    assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
    let (a, b) = (random_token().expect("rng"), random_token().expect("rng"));
    assert_ne!(a, b);
    assert_eq!(a.len(), 43);
}

#[test]
fn a_spent_state_is_remembered_until_its_cookie_would_expire() {
    let mut l = Login::default();
    assert!(!l.used("s", 0));
    l.mark_used("s", 1000);
    assert!(l.used("s", 999) && !l.used("s", 1000) && !l.used("t", 0));
}
