//! A provider's discovery document (OIDC Discovery 1.0 §3, RFC 8414 §2): another
//! [`Document`] on the fetch machine, so it is cached, refreshed and kept through IdP
//! failures like the JWKS. It is parsed with the mix-up defence of RFC 8414 §3.3 and
//! RFC 9207's reasoning: the `issuer` must be the configured one exactly, and the
//! `jwks_uri` must be `https` (plain `http` only on loopback) on an allowed host.

use super::{Document, Summary};
use crate::config::discovery::host_of;
use crate::config::RemoteJwks;
use crate::json::parse_object;
use std::fmt;

/// What is checked while parsing.
#[derive(Clone, Debug)]
pub struct DiscoveryCheck {
    pub issuer: String,
    pub allowed_hosts: Vec<String>,
}

/// The parts of the document the gate uses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryDoc {
    pub jwks_uri: String,
    /// `(authority, path)` of `jwks_uri`.
    pub jwks_target: (String, String),
    /// `introspection_endpoint` (RFC 8414 / RFC 7662 §4), checked like `jwks_uri`, with
    /// its `(authority, path)`.
    pub introspection: Option<(String, (String, String))>,
}

/// What loading a discovery document reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DiscoveryLoaded {
    pub jwks_uri: String,
    /// The `jwks_uri` held before, when this load changed it (logged: a changed key
    /// location is worth an operator's look).
    pub changed_from: Option<String>,
}

impl fmt::Display for DiscoveryLoaded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.changed_from {
            None => write!(f, "discovery loaded: jwks_uri {}", self.jwks_uri),
            Some(old) => write!(f, "discovery loaded: jwks_uri CHANGED from {old} to {}", self.jwks_uri),
        }
    }
}

impl Summary for DiscoveryLoaded {
    const DOCUMENT: &'static str = "discovery document";
    const CONTENT: &'static str = "endpoints";
}

impl Document for DiscoveryDoc {
    type Context = DiscoveryCheck;
    type Summary = DiscoveryLoaded;

    fn parse(body: &[u8], cx: &DiscoveryCheck) -> Result<DiscoveryDoc, String> {
        let doc = parse_object(body).map_err(|_| "not a JSON object (or duplicate members)".to_owned())?;
        let issuer = doc.get("issuer").and_then(|v| v.as_str()).ok_or("no `issuer`")?;
        if issuer != cx.issuer {
            return Err(format!("`issuer` {issuer:?} is not the configured {:?} (mix-up defence)", cx.issuer));
        }
        let jwks_uri = doc.get("jwks_uri").and_then(|v| v.as_str()).ok_or("no `jwks_uri`")?;
        let jwks_target = endpoint(jwks_uri, &cx.allowed_hosts).map_err(|e| format!("`jwks_uri`: {e}"))?;
        let introspection = match doc.get("introspection_endpoint").and_then(|v| v.as_str()) {
            None => None,
            Some(u) => {
                let target = endpoint(u, &cx.allowed_hosts).map_err(|e| format!("`introspection_endpoint`: {e}"))?;
                Some((u.to_owned(), target))
            }
        };
        Ok(DiscoveryDoc { jwks_uri: jwks_uri.to_owned(), jwks_target, introspection })
    }

    fn summary(&self) -> DiscoveryLoaded {
        DiscoveryLoaded { jwks_uri: self.jwks_uri.clone(), changed_from: None }
    }
}

/// `(authority, path)` of an endpoint URL that passes the mix-up defence.
fn endpoint(url: &str, allowed_hosts: &[String]) -> Result<(String, String), String> {
    let (https, rest) = match (url.strip_prefix("https://"), url.strip_prefix("http://")) {
        (Some(r), _) => (true, r),
        (None, Some(r)) => (false, r),
        _ => return Err("not an absolute http(s) URL".into()),
    };
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = host_of(authority).to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return Err("no host, or credentials in the URL".into());
    }
    if !https && !["127.0.0.1", "localhost", "::1"].contains(&host.as_str()) {
        return Err("must be https (plain http only on loopback)".into());
    }
    if !allowed_hosts.contains(&host) {
        return Err(format!("host {host:?} is not in endpoint_hosts {allowed_hosts:?}"));
    }
    let path = if path.is_empty() { "/" } else { path };
    Ok((authority.to_owned(), path.to_owned()))
}

impl DiscoveryDoc {
    /// The JWKS fetch target this document names, on `base`'s cluster and timings.
    pub fn jwks_remote(&self, base: &RemoteJwks) -> RemoteJwks {
        let (authority, path) = self.jwks_target.clone();
        RemoteJwks { uri: Some(self.jwks_uri.clone()), path, authority, ..base.clone() }
    }
}

#[cfg(test)]
#[path = "discovery_tests.rs"]
mod tests;
