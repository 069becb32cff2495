use super::*;

#[test]
fn cache_control_max_age_is_parsed() {
    assert_eq!(parse_max_age("max-age=600"), Some(600));
    assert_eq!(parse_max_age("public, MAX-AGE=60, must-revalidate"), Some(60));
    assert_eq!(parse_max_age("no-store"), Some(0));
    assert_eq!(parse_max_age("max-age=600, no-cache"), Some(0));
    assert_eq!(parse_max_age("s-maxage=100"), None);
    assert_eq!(parse_max_age("max-age=soon"), None);
    assert_eq!(parse_max_age("max-age=-5"), None);
    assert_eq!(parse_max_age(""), None);
}

fn remote(authority: &str) -> RemoteJwks {
    RemoteJwks {
        cluster: Some("idp".into()),
        uri: Some(format!("https://{authority}/jwks.json")),
        path: "/jwks.json".into(),
        authority: authority.into(),
        refresh_interval_s: 300,
        min_refresh_interval_s: 30,
        timeout_ms: 2000,
        max_stale_s: 3600,
        kid_refetch_cooldown_s: 30,
        max_body_bytes: 16 * 1024,
    }
}

#[test]
fn fetch_identity_covers_every_field_that_decides_the_bytes_and_the_issuer() {
    let base = FetchIdentity::of(DocKind::Jwks, &remote("tenant-a.idp.example"), "https://iss");
    assert_eq!(base, FetchIdentity::of(DocKind::Jwks, &remote("tenant-a.idp.example"), "https://iss"), "stable");
    let variants = [
        FetchIdentity::of(DocKind::Jwks, &remote("tenant-b.idp.example"), "https://iss"),
        FetchIdentity::of(DocKind::Jwks, &remote("tenant-a.idp.example"), "https://other-iss"),
        FetchIdentity::of(
            DocKind::Jwks,
            &RemoteJwks { cluster: Some("idp2".into()), ..remote("tenant-a.idp.example") },
            "https://iss",
        ),
        FetchIdentity::of(
            DocKind::Jwks,
            &RemoteJwks { path: "/other".into(), ..remote("tenant-a.idp.example") },
            "https://iss",
        ),
        FetchIdentity::of(DocKind::Jwks, &RemoteJwks { uri: None, ..remote("tenant-a.idp.example") }, "https://iss"),
        FetchIdentity::of(
            DocKind::Jwks,
            &RemoteJwks { max_body_bytes: 1, ..remote("tenant-a.idp.example") },
            "https://iss",
        ),
    ];
    for v in &variants {
        assert_ne!(v, &base);
        assert_ne!(v.key(), base.key(), "{} vs {}", v.as_str(), base.as_str());
    }
    assert_eq!(base.key().len(), 24);
    // Field boundaries cannot be shifted to forge a collision.
    let a = FetchIdentity::of(DocKind::Jwks, &RemoteJwks { path: "/a\",\"b".into(), ..remote("x") }, "i");
    let b = FetchIdentity::of(DocKind::Jwks, &RemoteJwks { path: "/a".into(), ..remote("x") }, "b\",\"i");
    assert_ne!(a, b);
}

#[test]
fn validators_are_empty_only_without_both() {
    assert!(Validators::default().is_empty());
    assert!(!Validators { etag: Some("\"x\""), last_modified: None }.is_empty());
    assert!(!Validators { etag: None, last_modified: Some("Tue, 01 Dec 2026 10:00:00 GMT") }.is_empty());
}

#[test]
fn identity_separates_document_kinds_by_label() {
    let id = FetchIdentity::of(DocKind::Jwks, &remote("tenant-a.idp.example"), "https://iss");
    assert!(id.as_str().starts_with("[\"jwks\","), "{}", id.as_str());
    assert_eq!(DocKind::Jwks.label(), "jwks");
}
