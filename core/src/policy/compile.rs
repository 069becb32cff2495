//! `require` as written in the config → a [`Policy`], refused at load (naming the field)
//! when an operator is unknown, an operand has the wrong shape, a `from` names a capture
//! the rule's template lacks, a pattern is over its bound, or a list is empty.

use super::*;
use crate::config::ConfigError;
use crate::route::Template;
use serde_json::Map;

type R<T> = Result<T, ConfigError>;

fn err<T>(field: &str, problem: impl Into<String>) -> R<T> {
    Err(ConfigError { field: field.to_owned(), problem: problem.into() })
}

const OPERATORS: &str = "eq, ne, in, contains, contains_any, contains_all, exists, absent, matches, gt, ge, lt, le";

/// Compiles the `require` member at `field`; `template` is the rule's path template.
pub fn compile(field: &str, v: &Value, template: Option<&Template>) -> R<Policy> {
    let mut conditions = 0;
    node(field, v, template, 1, &mut conditions)
}

fn node(field: &str, v: &Value, t: Option<&Template>, depth: usize, count: &mut usize) -> R<Policy> {
    let Some(obj) = v.as_object() else {
        return err(field, "must be an object: `all`, `any`, `not`, or a condition `{claim, op, value | from}`");
    };
    if depth > MAX_TREE_DEPTH {
        return err(field, format!("`all`/`any`/`not` nest at most {MAX_TREE_DEPTH} deep"));
    }
    let branch = ["all", "any", "not"].iter().find(|k| obj.contains_key(**k));
    match branch {
        Some(k) if obj.len() != 1 => err(field, format!("`{k}` stands alone in its object")),
        Some(&"not") => Ok(Policy::Not(Box::new(node(&format!("{field}.not"), &obj["not"], t, depth + 1, count)?))),
        Some(k) => {
            let f = format!("{field}.{k}");
            let Some(items) = obj[*k].as_array().filter(|a| !a.is_empty()) else {
                return err(&f, "must be a non-empty list (an empty one would be always true or always false)");
            };
            let kids = items
                .iter()
                .enumerate()
                .map(|(i, item)| node(&format!("{f}[{i}]"), item, t, depth + 1, count))
                .collect::<R<Vec<_>>>()?;
            Ok(if *k == "all" { Policy::All(kids) } else { Policy::Any(kids) })
        }
        None => {
            *count += 1;
            if *count > MAX_CONDITIONS {
                return err(field, format!("a rule has at most {MAX_CONDITIONS} conditions"));
            }
            condition(field, obj, t).map(Policy::Cond)
        }
    }
}

fn condition(field: &str, obj: &Map<String, Value>, t: Option<&Template>) -> R<Condition> {
    if let Some(k) = obj.keys().find(|k| !["claim", "op", "value", "from"].contains(&k.as_str())) {
        return err(&format!("{field}.{k}"), "unknown member (a condition has `claim`, `op`, `value` or `from`)");
    }
    let claim = match obj.get("claim").and_then(Value::as_str) {
        Some(c) if !c.is_empty() && !c.split('.').any(str::is_empty) => c,
        _ => {
            return err(
                &format!("{field}.claim"),
                "a claim name or a dotted path like `realm_access.roles` is required",
            )
        }
    };
    let claim: Vec<String> = claim.split('.').map(str::to_owned).collect();
    if claim.len() > MAX_PATH_SEGMENTS {
        return err(&format!("{field}.claim"), format!("at most {MAX_PATH_SEGMENTS} path segments"));
    }
    let op_field = format!("{field}.op");
    let Some(op_name) = obj.get("op").and_then(Value::as_str) else {
        return err(&op_field, format!("an operator is required: one of {OPERATORS}"));
    };
    let value = obj.get("value");
    let from = obj.get("from");
    let vf = format!("{field}.value");
    let ff = format!("{field}.from");
    let op = match op_name {
        "eq" => Op::Eq(operand(field, value, from, t)?),
        "ne" => Op::Ne(operand(field, value, from, t)?),
        "contains" => Op::Contains(operand(field, value, from, t)?),
        "in" | "contains_any" | "contains_all" => {
            no_from(&ff, from)?;
            let list = list(&vf, value)?;
            match op_name {
                "in" => Op::In(list),
                "contains_any" => Op::ContainsAny(list),
                _ => Op::ContainsAll(list),
            }
        }
        "exists" | "absent" => {
            no_from(&ff, from)?;
            if value.is_some() {
                return err(&vf, format!("`{op_name}` takes no value"));
            }
            if op_name == "exists" {
                Op::Exists
            } else {
                Op::Absent
            }
        }
        "matches" => {
            no_from(&ff, from)?;
            Op::Matches(pattern(&vf, value)?)
        }
        "gt" | "ge" | "lt" | "le" => {
            no_from(&ff, from)?;
            let Some(Value::Number(n)) = value else { return err(&vf, format!("`{op_name}` compares with a number")) };
            let cmp = match op_name {
                "gt" => Cmp::Gt,
                "ge" => Cmp::Ge,
                "lt" => Cmp::Lt,
                _ => Cmp::Le,
            };
            Op::Compare(cmp, n.clone())
        }
        other => return err(&op_field, format!("unknown operator {other:?}: use one of {OPERATORS}")),
    };
    Ok(Condition { claim, op })
}

fn no_from(field: &str, from: Option<&Value>) -> R<()> {
    match from {
        Some(_) => err(field, "only `eq`, `ne` and `contains` compare with a request value"),
        None => Ok(()),
    }
}

/// Exactly one of a scalar `value` or a `from` naming a request value.
fn operand(field: &str, value: Option<&Value>, from: Option<&Value>, t: Option<&Template>) -> R<Operand> {
    match (value, from) {
        (Some(v), None) if is_scalar(v) => Ok(Operand::Literal(v.clone())),
        (Some(_), None) => err(&format!("{field}.value"), "must be a string, a number or a boolean"),
        (None, Some(Value::String(f))) => request_value(&format!("{field}.from"), f, t),
        (None, Some(_)) => err(&format!("{field}.from"), "must be a string: `path.<capture>` or `header.<name>`"),
        _ => err(field, "give exactly one of `value` or `from`"),
    }
}

fn request_value(field: &str, from: &str, t: Option<&Template>) -> R<Operand> {
    if let Some(name) = from.strip_prefix("path.") {
        let Some(t) = t else {
            return err(field, format!("`path.{name}` needs a `match.template` that captures `{{{name}}}`"));
        };
        return match t.capture_index(name) {
            Some(i) => Ok(Operand::Capture(i)),
            None => err(field, format!("the template {:?} has no capture `{{{name}}}`", t.source())),
        };
    }
    if let Some(name) = from.strip_prefix("header.") {
        let ok = !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
        return match ok {
            true => Ok(Operand::Header(name.to_ascii_lowercase())),
            false => err(field, format!("{name:?} is not a header name")),
        };
    }
    err(field, "must be `path.<capture>` or `header.<name>`")
}

fn is_scalar(v: &Value) -> bool {
    matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_))
}

/// A non-empty list of scalars of one JSON type: a mixed list would make the type of a
/// claim that matches one member a guess.
fn list(field: &str, value: Option<&Value>) -> R<Vec<Value>> {
    let Some(items) = value.and_then(Value::as_array).filter(|a| !a.is_empty()) else {
        return err(field, "must be a non-empty list");
    };
    if items.len() > MAX_LIST_ITEMS {
        return err(field, format!("at most {MAX_LIST_ITEMS} items"));
    }
    let kind = |v: &Value| std::mem::discriminant(v);
    for (i, item) in items.iter().enumerate() {
        if !is_scalar(item) || kind(item) != kind(&items[0]) {
            return err(&format!("{field}[{i}]"), "list items are strings, numbers or booleans, all of one type");
        }
    }
    Ok(items.clone())
}

fn pattern(field: &str, value: Option<&Value>) -> R<Pattern> {
    let Some(source) = value.and_then(Value::as_str) else { return err(field, "`matches` takes a pattern string") };
    if source.chars().count() > MAX_PATTERN_CHARS {
        return err(field, format!("the pattern is longer than {MAX_PATTERN_CHARS} characters"));
    }
    // Anchored: `admin` must not match `not-admin-really`.
    let regex = regex_lite::RegexBuilder::new(&format!("^(?:{source})$"))
        .size_limit(MAX_PATTERN_BYTES)
        .nest_limit(32)
        .build()
        .map_err(|e| ConfigError { field: field.to_owned(), problem: format!("invalid or too large pattern: {e}") })?;
    Ok(Pattern { source: source.to_owned(), regex })
}
