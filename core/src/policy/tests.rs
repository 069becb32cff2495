//! The evaluator: every operator with a right, a wrong and a missing claim and with
//! claims of the wrong JSON type; `all` / `any` / `not`; request values; bounds.
//! Decide-level tests (templates, hosts, report-only, cache) are in `gate_tests.rs`,
//! load-time refusals in `config_tests.rs`.

use super::*;
use crate::error::AuthError;
use crate::route::Template;
use crate::test_support::{as_map, req, Req};
use serde_json::json;

#[path = "gate_tests.rs"]
mod gate;

#[path = "config_tests.rs"]
mod config;

const MET: Result<(), AuthError> = Ok(());
const MISMATCH: Result<(), AuthError> = Err(AuthError::AccessDenied(Unmet::Mismatch));
const MISSING: Result<(), AuthError> = Err(AuthError::AccessDenied(Unmet::ClaimMissing));
const TYPE: Result<(), AuthError> = Err(AuthError::AccessDenied(Unmet::ClaimType));
const NO_VALUE: Result<(), AuthError> = Err(AuthError::AccessDenied(Unmet::RequestValue));

/// Evaluates `require` (on a `/t/{tenant}/**` route) against `claims` and `r`.
fn eval_with(require: Value, claims: Value, r: &Req) -> Result<(), AuthError> {
    let t = Template::parse("/t/{tenant}/**").expect("template");
    let p = compile("require", &require, Some(&t)).expect("policy compiles");
    let path = r.path.clone();
    let captures = t.matches(&path).unwrap_or_default();
    evaluate(&p, &Inputs { claims: &as_map(claims), captures: &captures, request: &r.view() })
}

fn eval(require: Value, claims: Value) -> Result<(), AuthError> {
    eval_with(require, claims, &req("GET", "/t/acme/x", &[]))
}

fn cond(claim: &str, op: &str, value: Value) -> Value {
    json!({"claim": claim, "op": op, "value": value})
}

/// `(claims, expected)` rows against one condition.
fn table(c: Value, rows: &[(Value, Result<(), AuthError>)]) {
    for (claims, want) in rows {
        assert_eq!(&eval(c.clone(), claims.clone()), want, "{c} on {claims}");
    }
}

#[test]
fn eq_and_ne_compare_by_json_type() {
    table(
        cond("tenant", "eq", json!("acme")),
        &[
            (json!({"tenant": "acme"}), MET),
            (json!({"tenant": "other"}), MISMATCH),
            (json!({}), MISSING),
            (json!({"tenant": null}), MISSING),
            (json!({"tenant": ["acme"]}), TYPE),
        ],
    );
    table(
        cond("email_verified", "eq", json!(true)),
        &[
            (json!({"email_verified": true}), MET),
            (json!({"email_verified": false}), MISMATCH),
            (json!({"email_verified": "true"}), TYPE),
            (json!({"email_verified": 1}), TYPE),
            (json!({}), MISSING),
        ],
    );
    table(
        cond("level", "eq", json!(1)),
        &[
            (json!({"level": 1}), MET),
            (json!({"level": 1.0}), MET),
            (json!({"level": 2}), MISMATCH),
            (json!({"level": "1"}), TYPE),
            (json!({"level": true}), TYPE),
        ],
    );
    table(
        cond("tenant", "ne", json!("banned")),
        &[
            (json!({"tenant": "acme"}), MET),
            (json!({"tenant": "banned"}), MISMATCH),
            (json!({}), MISSING),
            (json!({"tenant": 7}), TYPE),
        ],
    );
}

#[test]
fn in_takes_a_scalar_claim_of_the_list_type() {
    table(
        cond("tenant", "in", json!(["acme", "globex"])),
        &[
            (json!({"tenant": "globex"}), MET),
            (json!({"tenant": "initech"}), MISMATCH),
            (json!({}), MISSING),
            (json!({"tenant": ["acme"]}), TYPE),
            (json!({"tenant": 1}), TYPE),
        ],
    );
    table(cond("level", "in", json!([1, 2])), &[(json!({"level": 2}), MET), (json!({"level": "2"}), TYPE)]);
}

#[test]
fn contains_family_needs_an_array_claim() {
    table(
        cond("roles", "contains", json!("admin")),
        &[
            (json!({"roles": ["user", "admin"]}), MET),
            (json!({"roles": ["user"]}), MISMATCH),
            (json!({"roles": []}), MISMATCH),
            (json!({}), MISSING),
            (json!({"roles": "admin"}), TYPE),
            (json!({"roles": {"admin": true}}), TYPE),
        ],
    );
    table(cond("levels", "contains", json!(1)), &[(json!({"levels": ["1"]}), MISMATCH), (json!({"levels": [1]}), MET)]);
    table(
        cond("roles", "contains_any", json!(["admin", "ops"])),
        &[
            (json!({"roles": ["ops"]}), MET),
            (json!({"roles": ["user"]}), MISMATCH),
            (json!({}), MISSING),
            (json!({"roles": "ops"}), TYPE),
        ],
    );
    table(
        cond("roles", "contains_all", json!(["admin", "ops"])),
        &[
            (json!({"roles": ["ops", "user", "admin"]}), MET),
            (json!({"roles": ["ops"]}), MISMATCH),
            (json!({}), MISSING),
            (json!({"roles": 3}), TYPE),
        ],
    );
}

#[test]
fn nested_claim_paths() {
    let c = cond("realm_access.roles", "contains", json!("admin"));
    table(
        c,
        &[
            (json!({"realm_access": {"roles": ["admin"]}}), MET),
            (json!({"realm_access": {"roles": ["user"]}}), MISMATCH),
            (json!({"realm_access": {}}), MISSING),
            (json!({"realm_access": ["roles"]}), MISSING),
            (json!({"realm_access.roles": ["admin"]}), MISSING),
        ],
    );
}

#[test]
fn exists_and_absent() {
    let exists = json!({"claim": "tenant", "op": "exists"});
    table(
        exists,
        &[
            (json!({"tenant": "x"}), MET),
            (json!({"tenant": false}), MET),
            (json!({}), MISSING),
            (json!({"tenant": null}), MISSING),
        ],
    );
    let absent = json!({"claim": "act", "op": "absent"});
    table(absent, &[(json!({}), MET), (json!({"act": null}), MET), (json!({"act": {"sub": "x"}}), MISMATCH)]);
}

#[test]
fn matches_is_anchored_and_string_only() {
    table(
        cond("email", "matches", json!("[a-z]+@example\\.com")),
        &[
            (json!({"email": "ann@example.com"}), MET),
            (json!({"email": "ann@example.com.evil"}), MISMATCH),
            (json!({"email": "x-ann@example.com"}), MISMATCH),
            (json!({}), MISSING),
            (json!({"email": ["ann@example.com"]}), TYPE),
        ],
    );
    table(
        cond("role", "matches", json!("admin|ops")),
        &[(json!({"role": "ops"}), MET), (json!({"role": "admins"}), MISMATCH)],
    );
}

#[test]
fn numeric_comparisons() {
    for (op, three, five, seven) in [
        ("gt", MISMATCH, MISMATCH, MET),
        ("ge", MISMATCH, MET, MET),
        ("lt", MET, MISMATCH, MISMATCH),
        ("le", MET, MET, MISMATCH),
    ] {
        table(
            cond("level", op, json!(5)),
            &[
                (json!({"level": 3}), three),
                (json!({"level": 5}), five),
                (json!({"level": 7}), seven),
                (json!({}), MISSING),
                (json!({"level": "7"}), TYPE),
                (json!({"level": true}), TYPE),
            ],
        );
    }
    table(cond("level", "gt", json!(1.5)), &[(json!({"level": 2}), MET), (json!({"level": -1}), MISMATCH)]);
    table(cond("level", "lt", json!(0)), &[(json!({"level": -9_223_372_036_854_775_807i64}), MET)]);
    table(cond("big", "gt", json!(u64::MAX - 1)), &[(json!({"big": u64::MAX}), MET), (json!({"big": -1}), MISMATCH)]);
}

#[test]
fn all_any_not() {
    let tree = json!({"all": [
        {"claim": "email_verified", "op": "eq", "value": true},
        {"any": [cond("roles", "contains", json!("admin")), cond("level", "ge", json!(3))]},
        {"not": cond("roles", "contains", json!("suspended"))}
    ]});
    table(
        tree,
        &[
            (json!({"email_verified": true, "roles": ["admin"]}), MET),
            (json!({"email_verified": true, "roles": [], "level": 3}), MET),
            (json!({"email_verified": true, "roles": ["user"], "level": 1}), MISMATCH),
            (json!({"email_verified": true, "level": 1}), MISSING),
            (json!({"email_verified": true, "roles": ["admin", "suspended"]}), MISMATCH),
            (json!({"email_verified": "true", "roles": ["admin"]}), TYPE),
        ],
    );
}

#[test]
fn not_flips_mismatch_and_missing_but_never_a_wrong_type() {
    let not_suspended = json!({"not": cond("suspended", "eq", json!(true))});
    table(
        not_suspended,
        &[
            (json!({"suspended": false}), MET),
            (json!({}), MET),
            (json!({"suspended": true}), MISMATCH),
            (json!({"suspended": "true"}), TYPE),
        ],
    );
}

#[test]
fn request_values_are_strings_from_the_path_or_one_header() {
    let by_path = json!({"claim": "tenant", "op": "eq", "from": "path.tenant"});
    assert_eq!(eval(by_path.clone(), json!({"tenant": "acme"})), MET);
    assert_eq!(eval(by_path.clone(), json!({"tenant": "globex"})), MISMATCH);
    assert_eq!(eval(by_path.clone(), json!({})), MISSING);
    let numeric = req("GET", "/t/7/x", &[]);
    assert_eq!(eval_with(by_path, json!({"tenant": 7}), &numeric), TYPE, "7 ≠ \"7\"");
    let by_header = json!({"claim": "tenant", "op": "eq", "from": "header.x-tenant"});
    let one = req("GET", "/t/acme", &[("X-Tenant", "acme")]);
    assert_eq!(eval_with(by_header.clone(), json!({"tenant": "acme"}), &one), MET);
    let none = req("GET", "/t/acme", &[]);
    assert_eq!(eval_with(by_header.clone(), json!({"tenant": "acme"}), &none), NO_VALUE);
    let two = req("GET", "/t/acme", &[("x-tenant", "acme"), ("x-tenant", "acme")]);
    assert_eq!(eval_with(by_header.clone(), json!({"tenant": "acme"}), &two), NO_VALUE);
    let negated = json!({"not": by_header});
    assert_eq!(eval_with(negated, json!({"tenant": "acme"}), &none), NO_VALUE, "no value is never flipped");
    let member = json!({"claim": "tenants", "op": "contains", "from": "path.tenant"});
    assert_eq!(eval(member.clone(), json!({"tenants": ["globex", "acme"]})), MET);
    assert_eq!(eval(member, json!({"tenants": ["globex"]})), MISMATCH);
}

#[test]
fn huge_array_claims_refuse_the_token_instead_of_being_scanned() {
    let many: Vec<Value> = (0..=MAX_CLAIM_ITEMS).map(|i| json!(format!("r{i}"))).collect();
    let got = eval(cond("roles", "contains", json!("admin")), json!({"roles": many}));
    assert_eq!(got, Err(AuthError::ClaimTooLarge("roles".into())));
    assert_eq!(AuthError::ClaimTooLarge("roles".into()).status(), 401);
    // Under `not` too: a refusal is not a failed condition to flip.
    let got = eval(json!({"not": cond("roles", "contains_any", json!(["x"]))}), json!({"roles": many}));
    assert_eq!(got, Err(AuthError::ClaimTooLarge("roles".into())));
    let ok: Vec<Value> = (0..MAX_CLAIM_ITEMS).map(|_| json!("r")).collect();
    assert_eq!(eval(cond("roles", "contains", json!("r")), json!({"roles": ok})), MET);
}

#[test]
fn reasons_are_stable_codes() {
    let codes: Vec<&str> = [Unmet::Mismatch, Unmet::ClaimMissing, Unmet::ClaimType, Unmet::RequestValue]
        .iter()
        .map(|u| AuthError::AccessDenied(*u).metric_reason())
        .collect();
    assert_eq!(codes, ["condition_failed", "claim_missing", "claim_type", "request_value_missing"]);
    let d = AuthError::AccessDenied(Unmet::ClaimType);
    assert_eq!((d.status(), d.bearer_error(), d.body_error()), (403, None, "access_denied"));
}
