//! Pieces both importers translate the same way: durations, JWKS locations, the
//! default token places of Envoy `jwt_authn` and Istio (which inherits them).

use serde_json::{json, Value};

/// A protobuf `Duration` as YAML/JSON writes it (`"1.5s"`, or `{seconds, nanos}`), in ms.
pub fn duration_ms(v: &Value) -> Option<u64> {
    if let Some(s) = v.as_str() {
        let secs: f64 = s.strip_suffix('s')?.parse().ok()?;
        return (secs >= 0.0).then_some((secs * 1000.0).round() as u64);
    }
    let seconds = v["seconds"].as_u64().or_else(|| v["seconds"].as_str()?.parse().ok()).unwrap_or(0);
    let nanos = v["nanos"].as_u64().unwrap_or(0);
    v.is_object().then_some(seconds * 1000 + nanos / 1_000_000)
}

/// `https://idp.example:8443/keys` → (authority, path).
pub fn split_uri(uri: &str) -> Option<(&str, &str)> {
    let rest = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"))?;
    let slash = rest.find('/').unwrap_or(rest.len());
    let (authority, path) = rest.split_at(slash);
    Some((authority, if path.is_empty() { "/" } else { path }))
}

/// The places Envoy `jwt_authn` (and so Istio) reads a token from when none is configured:
/// `Authorization: Bearer`, then the `access_token` query parameter.
pub fn default_sources() -> Value {
    json!([{ "header": "authorization", "prefix": "Bearer " }, { "query": "access_token" }])
}

pub const DEFAULT_SOURCES_NOTE: &str = "no token place configured: Envoy reads `Authorization: Bearer` and the `access_token` query parameter by default; both are now listed in `from` (drop the query one unless clients need it: RFC 6750 §2.3)";

/// An inline JWKS given as a string (Istio `jwks`, Envoy `local_jwks.inline_string`).
pub fn inline_jwks(text: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("the inline JWKS is not JSON: {e}"))?;
    if v["keys"].is_array() {
        Ok(v)
    } else {
        Err("the inline JWKS has no `keys` array".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_in_both_spellings() {
        assert_eq!(duration_ms(&json!("1.5s")), Some(1500));
        assert_eq!(duration_ms(&json!("300s")), Some(300_000));
        assert_eq!(duration_ms(&json!({ "seconds": 5, "nanos": 250_000_000 })), Some(5250));
        assert_eq!(duration_ms(&json!({ "seconds": "60" })), Some(60_000));
        assert_eq!(duration_ms(&json!("5m")), None);
        assert_eq!(duration_ms(&json!(-1)), None);
    }

    #[test]
    fn uris_split_into_authority_and_path() {
        assert_eq!(split_uri("https://idp.example:8443/keys"), Some(("idp.example:8443", "/keys")));
        assert_eq!(split_uri("http://idp"), Some(("idp", "/")));
        assert_eq!(split_uri("ftp://x/y"), None);
    }
}
