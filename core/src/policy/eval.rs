//! Evaluating a [`Policy`] against verified claims and the request.
//!
//! Three outcomes per node: met, unmet with a reason ([`Unmet`]), or an error that
//! refuses the token whatever the tree says (an array claim over [`MAX_CLAIM_ITEMS`]).
//! `not` flips met and `Mismatch`/`ClaimMissing`, but never `ClaimType` or
//! `RequestValue`: `not {suspended eq true}` must not let `"suspended": "true"` through.

use super::*;
use crate::error::AuthError;
use crate::request::RequestView;
use serde_json::Map;
use std::cmp::Ordering;

/// What a tree is evaluated against.
pub struct Inputs<'a> {
    /// Verified claims (for a cached token, the members the config's trees read).
    pub claims: &'a Map<String, Value>,
    /// Template captures, in template order.
    pub captures: &'a [&'a str],
    pub request: &'a RequestView<'a>,
}

type Eval = Result<Result<(), Unmet>, AuthError>;

/// `Ok` when the tree is met; `AccessDenied` with the reason, or a token refusal.
pub fn evaluate(p: &Policy, inputs: &Inputs<'_>) -> Result<(), AuthError> {
    match eval(p, inputs)? {
        Ok(()) => Ok(()),
        Err(why) => Err(AuthError::AccessDenied(why)),
    }
}

fn eval(p: &Policy, inputs: &Inputs<'_>) -> Eval {
    match p {
        Policy::All(ps) => {
            for p in ps {
                if let Err(why) = eval(p, inputs)? {
                    return Ok(Err(why));
                }
            }
            Ok(Ok(()))
        }
        Policy::Any(ps) => {
            let mut first = None;
            for p in ps {
                match eval(p, inputs)? {
                    Ok(()) => return Ok(Ok(())),
                    Err(why) => first = first.or(Some(why)),
                }
            }
            Ok(Err(first.unwrap_or(Unmet::Mismatch)))
        }
        Policy::Not(p) => Ok(match eval(p, inputs)? {
            Ok(()) => Err(Unmet::Mismatch),
            Err(Unmet::Mismatch | Unmet::ClaimMissing) => Ok(()),
            Err(why) => Err(why),
        }),
        Policy::Cond(c) => condition(c, inputs),
    }
}

fn lookup<'c>(claims: &'c Map<String, Value>, path: &[String]) -> Option<&'c Value> {
    let (first, rest) = path.split_first()?;
    let v = rest.iter().try_fold(claims.get(first)?, |v, key| v.as_object()?.get(key))?;
    (!v.is_null()).then_some(v)
}

/// A value to compare a claim with: from the config, or a string from the request.
#[derive(Clone, Copy)]
enum Want<'a> {
    Json(&'a Value),
    Text(&'a str),
}

fn condition(c: &Condition, inputs: &Inputs<'_>) -> Eval {
    let claim = lookup(inputs.claims, &c.claim);
    let Some(v) = claim else {
        return Ok(match c.op {
            Op::Absent => Ok(()),
            _ => Err(Unmet::ClaimMissing),
        });
    };
    let too_large = || AuthError::ClaimTooLarge(c.claim.join("."));
    let met = |yes: bool| if yes { Ok(()) } else { Err(Unmet::Mismatch) };
    Ok(match &c.op {
        Op::Exists => Ok(()),
        Op::Absent => Err(Unmet::Mismatch),
        Op::Eq(o) | Op::Ne(o) => match want(o, inputs) {
            Err(why) => Err(why),
            Ok(w) => match equal(v, w) {
                None => Err(Unmet::ClaimType),
                Some(same) => met(same == matches!(c.op, Op::Eq(_))),
            },
        },
        Op::In(list) => match list.first().and_then(|l| equal(v, Want::Json(l))) {
            None => Err(Unmet::ClaimType),
            Some(_) => met(list.iter().any(|l| equal(v, Want::Json(l)) == Some(true))),
        },
        Op::Contains(o) => {
            let items = array(v).ok_or(()).map_err(|()| Unmet::ClaimType);
            match (items, want(o, inputs)) {
                (Err(why), _) | (_, Err(why)) => Err(why),
                (Ok(items), Ok(w)) => met(holds(bounded(items, too_large)?, w)),
            }
        }
        Op::ContainsAny(list) | Op::ContainsAll(list) => match array(v) {
            None => Err(Unmet::ClaimType),
            Some(items) => {
                let items = bounded(items, too_large)?;
                let held = |l: &Value| holds(items, Want::Json(l));
                met(if matches!(c.op, Op::ContainsAny(_)) { list.iter().any(held) } else { list.iter().all(held) })
            }
        },
        Op::Matches(p) => match v {
            Value::String(s) => met(p.regex.is_match(s)),
            _ => Err(Unmet::ClaimType),
        },
        Op::Compare(cmp, n) => match v {
            Value::Number(x) => met(compare(x, n).is_some_and(|o| match cmp {
                Cmp::Gt => o == Ordering::Greater,
                Cmp::Ge => o != Ordering::Less,
                Cmp::Lt => o == Ordering::Less,
                Cmp::Le => o != Ordering::Greater,
            })),
            _ => Err(Unmet::ClaimType),
        },
    })
}

fn want<'a>(o: &'a Operand, inputs: &Inputs<'a>) -> Result<Want<'a>, Unmet> {
    match o {
        Operand::Literal(v) => Ok(Want::Json(v)),
        Operand::Capture(i) => inputs.captures.get(*i).map(|s| Want::Text(s)).ok_or(Unmet::RequestValue),
        Operand::Header(name) => {
            let mut values = inputs.request.headers(name);
            match (values.next(), values.next()) {
                (Some(v), None) => Ok(Want::Text(v)),
                _ => Err(Unmet::RequestValue),
            }
        }
    }
}

fn array(v: &Value) -> Option<&[Value]> {
    v.as_array().map(Vec::as_slice)
}

fn bounded(items: &[Value], too_large: impl Fn() -> AuthError) -> Result<&[Value], AuthError> {
    if items.len() > MAX_CLAIM_ITEMS {
        return Err(too_large());
    }
    Ok(items)
}

/// An array holds the value (items of other JSON types never equal it).
fn holds(items: &[Value], w: Want<'_>) -> bool {
    items.iter().any(|item| equal(item, w) == Some(true))
}

/// Equality of a claim with a wanted scalar; `None` when their JSON types differ.
fn equal(claim: &Value, w: Want<'_>) -> Option<bool> {
    match (claim, w) {
        (Value::String(a), Want::Text(b)) => Some(a == b),
        (Value::String(a), Want::Json(Value::String(b))) => Some(a == b),
        (Value::Bool(a), Want::Json(Value::Bool(b))) => Some(a == b),
        (Value::Number(a), Want::Json(Value::Number(b))) => Some(compare(a, b) == Some(Ordering::Equal)),
        _ => None,
    }
}

/// Numbers by value (`1` = `1.0`), exactly for integers.
fn compare(a: &Number, b: &Number) -> Option<Ordering> {
    if let (Some(x), Some(y)) = (a.as_i64(), b.as_i64()) {
        return Some(x.cmp(&y));
    }
    if let (Some(x), Some(y)) = (a.as_u64(), b.as_u64()) {
        return Some(x.cmp(&y));
    }
    a.as_f64()?.partial_cmp(&b.as_f64()?)
}
