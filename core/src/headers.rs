//! Verified claims → request headers for the upstream.
//!
//! A header value must have one reading. Rendering is refused (the token gets 401
//! `invalid_token`, naming the claim) rather than made ambiguous when a value:
//! - has leading or trailing whitespace (HTTP strips it: `" admin"` would arrive as
//!   `admin`);
//! - holds a control character (header injection) or is longer than 4096 bytes;
//! - is an array item containing `,` or edge whitespace (`["a,b"]` would read as
//!   `["a","b"]`);
//! - is a scope containing a space (`scp: ["read write"]` would read as two scopes).
//!
//! Claims that are absent, `null`, objects, or arrays holding those produce no header
//! (the client's copy stays stripped): that is a config choice, not a token problem.

use crate::claims::granted_scopes;
use crate::config::ClaimHeader;
use crate::error::AuthError;
use serde_json::{Map, Value};

/// Longest header value the gate writes.
const MAX_VALUE: usize = 4096;

/// The headers to set for these verified claims, or the claim that cannot be rendered
/// without ambiguity.
pub fn claim_headers(claims: &Map<String, Value>, wanted: &[ClaimHeader]) -> Result<Vec<(String, String)>, AuthError> {
    let mut out = Vec::with_capacity(wanted.len());
    for ch in wanted {
        let refuse = || AuthError::UnrenderableClaim(ch.claim.join("."));
        let value = if ch.claim.len() == 1 && ch.claim[0] == "scope" {
            let scopes = granted_scopes(claims);
            if scopes.iter().any(|s| s.contains(|c: char| c.is_whitespace())) {
                return Err(refuse());
            }
            (!scopes.is_empty()).then(|| scopes.join(" "))
        } else {
            match lookup(claims, &ch.claim).map(render) {
                None | Some(Rendered::Absent) => None,
                Some(Rendered::Ambiguous) => return Err(refuse()),
                Some(Rendered::Text(t)) => Some(t),
            }
        };
        match value {
            Some(v) if !safe(&v) => return Err(refuse()),
            Some(v) => out.push((ch.header.clone(), v)),
            None => {}
        }
    }
    Ok(out)
}

fn lookup<'c>(claims: &'c Map<String, Value>, path: &[String]) -> Option<&'c Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(claims.get(first)?, |v, key| v.as_object()?.get(key))
}

enum Rendered {
    Text(String),
    /// Not a scalar or an array of scalars: no header.
    Absent,
    /// A header value would not have one reading.
    Ambiguous,
}

/// Strings as they are, numbers and booleans as JSON, arrays of those joined with `,`.
fn render(v: &Value) -> Rendered {
    match v {
        Value::String(s) if s.trim() != s => Rendered::Ambiguous,
        Value::String(s) => Rendered::Text(s.clone()),
        Value::Number(_) | Value::Bool(_) => Rendered::Text(v.to_string()),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(s) if s.contains(',') => return Rendered::Ambiguous,
                    Value::Array(_) | Value::Object(_) | Value::Null => return Rendered::Absent,
                    scalar => match render(scalar) {
                        Rendered::Text(t) => parts.push(t),
                        other => return other,
                    },
                }
            }
            Rendered::Text(parts.join(","))
        }
        Value::Object(_) | Value::Null => Rendered::Absent,
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
        )
        .expect("renderable");
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
        assert_eq!(a, Ok(vec![("x-jwt-scope".to_string(), "read write".to_string())]));
        let b = claim_headers(&claims(json!({"scp":["read","write"]})), &[ch("scope", "x-jwt-scope")]);
        assert_eq!(b, a);
    }

    #[test]
    fn missing_objects_and_nested_values_produce_no_header() {
        let c = claims(json!({"obj":{"a":1},"nested":[["a"]],"null":null,"objs":[{"a":1}]}));
        let wanted = [ch("obj", "y"), ch("none", "w"), ch("nested", "n"), ch("null", "u"), ch("objs", "o")];
        assert_eq!(claim_headers(&c, &wanted), Ok(vec![]));
    }

    #[test]
    fn values_without_one_reading_refuse_the_token_naming_the_claim() {
        let cases = [
            (json!({"sub":"a\r\nx-admin: 1"}), "sub"),
            (json!({"sub":"x".repeat(5000)}), "sub"),
            (json!({"sub":" admin"}), "sub"),
            (json!({"sub":"admin\t"}), "sub"),
            (json!({"roles":["a,b"]}), "roles"),
            (json!({"roles":["a"," b"]}), "roles"),
            (json!({"realm":{"roles":["x,y"]}}), "realm.roles"),
            (json!({"scp":["read write"]}), "scope"),
            (json!({"scope":"read\twrite"}), "scope"),
        ];
        let wanted = [ch("sub", "x-sub"), ch("roles", "x-r"), ch("realm.roles", "x-rr"), ch("scope", "x-jwt-scope")];
        for (c, claim) in cases {
            assert_eq!(
                claim_headers(&claims(c.clone()), &wanted),
                Err(AuthError::UnrenderableClaim(claim.into())),
                "{c}"
            );
        }
    }
}
