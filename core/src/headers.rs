//! Verified claims → request headers for the upstream.

use crate::claims::granted_scopes;
use crate::config::ClaimHeader;
use serde_json::{Map, Value};

/// Longest header value the gate writes; longer claims are left out, not truncated.
const MAX_VALUE: usize = 4096;

/// The headers to set for these verified claims. A claim that is absent, an object, or
/// not safe as a header value produces no header (its stripped copy stays stripped).
pub fn claim_headers(claims: &Map<String, Value>, wanted: &[ClaimHeader]) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(wanted.len());
    for ch in wanted {
        let value = if ch.claim.len() == 1 && ch.claim[0] == "scope" {
            let scopes = granted_scopes(claims);
            (!scopes.is_empty()).then(|| scopes.join(" "))
        } else {
            lookup(claims, &ch.claim).and_then(render)
        };
        if let Some(v) = value.filter(|v| safe(v)) {
            out.push((ch.header.clone(), v));
        }
    }
    out
}

fn lookup<'c>(claims: &'c Map<String, Value>, path: &[String]) -> Option<&'c Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(claims.get(first)?, |v, key| v.as_object()?.get(key))
}

/// Strings as they are, numbers and booleans as JSON, arrays of those joined with `,`.
fn render(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(v.to_string()),
        Value::Array(items) => {
            let parts: Option<Vec<String>> = items
                .iter()
                .map(|i| match i {
                    Value::Array(_) | Value::Object(_) | Value::Null => None,
                    other => render(other),
                })
                .collect();
            parts.map(|p| p.join(","))
        }
        Value::Object(_) | Value::Null => None,
    }
}

/// No control characters (header injection) and a bounded size.
fn safe(v: &str) -> bool {
    v.len() <= MAX_VALUE && !v.chars().any(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ch(claim: &str, header: &str) -> ClaimHeader {
        ClaimHeader { claim: claim.split('.').map(str::to_owned).collect(), header: header.into() }
    }

    fn claims(v: Value) -> Map<String, Value> {
        v.as_object().cloned().expect("object")
    }

    #[test]
    fn renders_strings_numbers_arrays_and_nested_paths() {
        let c = claims(json!({"sub":"u1","n":7,"ok":true,"roles":["a","b"],"realm":{"roles":["x"]}}));
        let got = claim_headers(
            &c,
            &[ch("sub", "x-sub"), ch("n", "x-n"), ch("ok", "x-ok"), ch("roles", "x-r"), ch("realm.roles", "x-rr")],
        );
        let want: Vec<(String, String)> =
            [("x-sub", "u1"), ("x-n", "7"), ("x-ok", "true"), ("x-r", "a,b"), ("x-rr", "x")]
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn scope_comes_from_scope_or_scp() {
        let a = claim_headers(&claims(json!({"scope":"read write"})), &[ch("scope", "x-jwt-scope")]);
        assert_eq!(a, vec![("x-jwt-scope".to_string(), "read write".to_string())]);
        let b = claim_headers(&claims(json!({"scp":["read","write"]})), &[ch("scope", "x-jwt-scope")]);
        assert_eq!(b, a);
    }

    #[test]
    fn unsafe_or_missing_values_produce_no_header() {
        let c = claims(json!({"sub":"a\r\nx-admin: 1","obj":{"a":1},"big":"x".repeat(5000)}));
        assert!(claim_headers(&c, &[ch("sub", "x"), ch("obj", "y"), ch("big", "z"), ch("none", "w")]).is_empty());
    }
}
