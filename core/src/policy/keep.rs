//! The claims a verified token keeps for policy: the top-level members the config's
//! trees read, checked once (at verification, not per cache hit) for nesting depth.
//! A member nested deeper than [`MAX_CLAIM_DEPTH`] refuses the token
//! (`claim_too_deep`): the cache never holds, and evaluation never meets, one.

use super::MAX_CLAIM_DEPTH;
use crate::error::AuthError;
use serde_json::{Map, Value};
use std::rc::Rc;

/// `None` when no tree reads claims; otherwise the members named in `wanted`.
pub fn keep(all: &Map<String, Value>, wanted: &[String]) -> Result<Option<Rc<Map<String, Value>>>, AuthError> {
    if wanted.is_empty() {
        return Ok(None);
    }
    let mut kept = Map::new();
    for name in wanted {
        if let Some(v) = all.get(name) {
            if depth_exceeds(v, MAX_CLAIM_DEPTH) {
                return Err(AuthError::ClaimTooDeep(name.clone()));
            }
            kept.insert(name.clone(), v.clone());
        }
    }
    Ok(Some(Rc::new(kept)))
}

/// Whether `v` nests containers more than `limit` deep (a scalar is depth 0); stops
/// at the first path past the limit, without recursion.
fn depth_exceeds(v: &Value, limit: usize) -> bool {
    let mut stack: Vec<(&Value, usize)> = vec![(v, 0)];
    while let Some((v, d)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match v {
            Value::Array(a) => Box::new(a.iter()),
            Value::Object(o) => Box::new(o.values()),
            _ => continue,
        };
        if d + 1 > limit {
            return true;
        }
        stack.extend(children.map(|c| (c, d + 1)));
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn nested(levels: usize) -> Value {
        (0..levels).fold(json!("x"), |v, _| json!([v]))
    }

    #[test]
    fn keeps_only_the_members_trees_read() {
        let all = json!({"tenant": "acme", "roles": ["a"], "bulky": "x"}).as_object().cloned().unwrap_or_default();
        let kept = keep(&all, &["tenant".into(), "roles".into(), "absent".into()]).expect("shallow");
        assert_eq!(kept.map(|m| m.keys().cloned().collect::<Vec<_>>()), Some(vec!["roles".into(), "tenant".into()]));
        assert_eq!(keep(&all, &[]), Ok(None));
    }

    #[test]
    fn a_claim_nested_past_the_limit_refuses_the_token() {
        let ok = json!({"realm": {"roles": nested(MAX_CLAIM_DEPTH - 1)}});
        assert!(keep(ok.as_object().expect("object"), &["realm".into()]).is_ok());
        let deep = json!({"realm": {"roles": nested(MAX_CLAIM_DEPTH)}, "other": nested(100)});
        let deep = deep.as_object().expect("object");
        assert_eq!(keep(deep, &["realm".into()]), Err(AuthError::ClaimTooDeep("realm".into())));
        assert!(keep(deep, &["tenant".into()]).is_ok(), "claims no tree reads are not walked");
        let e = AuthError::ClaimTooDeep("realm".into());
        assert_eq!((e.status(), e.metric_reason()), (401, "claim_too_deep"));
    }
}
