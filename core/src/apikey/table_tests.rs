use super::*;
use crate::apikey::format::generate;
use serde_json::json;

fn rendering() -> Rendering {
    Rendering::default()
}

fn entries(v: serde_json::Value) -> Vec<RawKeyEntry> {
    serde_json::from_value(v).expect("entries parse")
}

fn build(v: serde_json::Value) -> Result<KeyTable, EntryError> {
    KeyTable::build(entries(v), &rendering())
}

#[test]
fn two_keys_of_one_application_both_work_and_carry_its_identity() {
    let (old, new) = (generate([1; 32]), generate([2; 32]));
    let t = build(json!([
        {"digest": old.digest_line(), "client": "reports", "scopes": ["read"], "metadata": {"tenant": "acme", "tier": 2}},
        {"digest": new.digest_line(), "client": "reports", "scopes": ["read"], "metadata": {"tenant": "acme", "tier": 2}},
    ]))
    .expect("valid");
    assert_eq!(t.len(), 2);
    for k in [&old, &new] {
        let app = t.lookup(&k.digest, 0).expect("known");
        assert_eq!(app.client, "reports");
        assert_eq!(
            app.headers,
            vec![
                ("x-jwt-client".to_owned(), "reports".to_owned()),
                ("x-jwt-scope".to_owned(), "read".to_owned()),
                ("x-jwt-meta-tenant".to_owned(), "acme".to_owned()),
                ("x-jwt-meta-tier".to_owned(), "2".to_owned()),
            ]
        );
        assert_eq!(app.claims["client_id"], "reports");
        assert_eq!(app.claims["scope"], "read");
        assert_eq!(app.claims["tier"], 2, "metadata keeps its JSON type for the policy");
    }
    assert_eq!(t.lookup(&generate([3; 32]).digest, 0), Err(Rejected::Unknown));
}

#[test]
fn disabled_and_expired_keys_are_refused() {
    let (a, b) = (generate([1; 32]), generate([2; 32]));
    let t = build(json!([
        {"digest": a.digest_line(), "client": "a", "disabled": true},
        {"digest": b.digest_line(), "client": "b", "expires_at": 1000},
    ]))
    .expect("valid");
    assert_eq!(t.lookup(&a.digest, 0), Err(Rejected::Disabled));
    assert!(t.lookup(&b.digest, 999).is_ok());
    assert_eq!(t.lookup(&b.digest, 1000), Err(Rejected::Expired));
    assert_eq!((t.usable(999), t.usable(1000)), (1, 0));
}

#[test]
fn load_errors_name_the_member() {
    let d = generate([1; 32]).digest_line();
    let cases = [
        (json!([{"client": "a"}]), "keys[0].digest"),
        (json!([{"digest": "sha256:00", "client": "a"}]), "keys[0].digest"),
        (json!([{"digest": d}]), "keys[0].client"),
        (json!([{"digest": d, "client": " a"}]), "keys[0].client"),
        (json!([{"digest": d, "client": "a\u{1}"}]), "keys[0].client"),
        (json!([{"digest": d, "client": "a", "scopes": ["ok", "two words"]}]), "keys[0].scopes[1]"),
        (json!([{"digest": d, "client": "a", "metadata": {"Tenant": "x"}}]), "keys[0].metadata.Tenant"),
        (json!([{"digest": d, "client": "a", "metadata": {"scope": "admin"}}]), "keys[0].metadata.scope"),
        (json!([{"digest": d, "client": "a", "metadata": {"t": {"nested": 1}}}]), "keys[0].metadata.t"),
        (json!([{"digest": d, "client": "a", "metadata": {"t": 1.5}}]), "keys[0].metadata.t"),
        (json!([{"digest": d, "client": "a"}, {"digest": d, "client": "b"}]), "keys[1].digest"),
    ];
    for (v, field) in cases {
        let e = build(v.clone()).expect_err(&v.to_string());
        assert_eq!(e.field, field, "{v}: {}", e.problem);
    }
}

#[test]
fn slots_compare_all_bytes_and_hash_the_prefix() {
    let mut a = [5u8; 32];
    let b = a;
    assert_eq!(Slot(a), Slot(b));
    a[31] ^= 1;
    assert_ne!(Slot(a), Slot(b), "a difference in the last byte counts");
}
