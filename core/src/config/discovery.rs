//! Validating `discovery` (OIDC Discovery 1.0 / RFC 8414): where the provider's metadata
//! document is, how it is fetched (the `jwks` block's cluster and timings), and which
//! hosts the endpoints it names may be on.

use super::validate::{err, split_uri, R};
use super::{ConfigError, Discovery, RemoteJwks};
use serde_json::Value;

/// The document's path under the issuer for `discovery: true`.
pub const OPENID_CONFIGURATION: &str = "/.well-known/openid-configuration";

pub(super) fn discovery(
    field: &str,
    v: Value,
    issuer: &str,
    jwks: &RemoteJwks,
    hosts: Option<Vec<String>>,
) -> R<Discovery> {
    let url = match v {
        Value::Bool(true) => format!("{}{OPENID_CONFIGURATION}", issuer.trim_end_matches('/')),
        Value::String(u) => u,
        _ => {
            return err(field, "must be `true` (the issuer's /.well-known/openid-configuration) or the document's URL")
        }
    };
    let (Some(authority), Some(path)) = split_uri(&url).unwrap_or((None, None)) else {
        return err(field, "the discovery URL must be an absolute http(s) URL");
    };
    let issuer_host = split_uri(issuer).and_then(|(a, _)| a).map(|a| host_of(&a).to_owned());
    let allowed_hosts = match hosts {
        Some(h) if h.is_empty() || h.iter().any(String::is_empty) => {
            return Err(ConfigError {
                field: field.replace("discovery", "endpoint_hosts"),
                problem: "must list at least one non-empty host".into(),
            })
        }
        Some(h) => h.into_iter().map(|h| h.to_ascii_lowercase()).collect(),
        None => match issuer_host {
            Some(h) => vec![h.to_ascii_lowercase()],
            None => return err(field, "the issuer is not a URL: give `endpoint_hosts`"),
        },
    };
    let remote = RemoteJwks { uri: Some(url), path, authority, ..jwks.clone() };
    Ok(Discovery { remote, allowed_hosts })
}

/// The host of an authority (`host:port`, `[v6]:port`).
pub fn host_of(authority: &str) -> &str {
    if let Some(rest) = authority.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    authority.rsplit_once(':').map_or(authority, |(h, _)| h)
}
