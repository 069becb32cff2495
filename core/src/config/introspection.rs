//! Validating a provider's `validation` mode and its `introspection` block (RFC 7662):
//! where the endpoint is, how the gate authenticates to it, and how long answers are
//! kept. Errors name the field, like every other config error.

use super::defaults;
use super::raw::RawIntrospection;
use super::validate::{err, required, split_uri, R};
use super::ConfigError;

/// How a provider checks a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Locally: signature from the JWKS, then claims (the default).
    Jwt,
    /// Every token is sent to the introspection endpoint; nothing is checked locally.
    Introspection,
    /// JWTs are checked locally; opaque tokens (no `.`) are introspected.
    Hybrid,
}

impl Validation {
    fn parse(field: &str, v: Option<&str>) -> R<Validation> {
        match v {
            None | Some("jwt") => Ok(Validation::Jwt),
            Some("introspection") => Ok(Validation::Introspection),
            Some("hybrid") => Ok(Validation::Hybrid),
            Some(_) => err(field, "must be \"jwt\", \"introspection\" or \"hybrid\""),
        }
    }

    /// Whether a JWKS is needed.
    pub fn verifies_locally(self) -> bool {
        self != Validation::Introspection
    }
}

/// How the gate authenticates to the introspection endpoint (RFC 7662 §2.1 leaves it to
/// the IdP; these are the methods of RFC 6749 §2.3.1 and RFC 7523 §2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// `Authorization: Basic` with the form-encoded id and secret.
    SecretBasic { secret: String },
    /// `client_id` and `client_secret` in the form body.
    SecretPost { secret: String },
    /// A short-lived ES256 client assertion signed with the gate's own P-256 key.
    PrivateKeyJwt { key: AssertionKey, audience: String },
}

/// The gate's P-256 private scalar (from the JWK's `d`) and its `kid`, validated at load.
#[derive(Clone, PartialEq, Eq)]
pub struct AssertionKey {
    pub d: Vec<u8>,
    pub kid: Option<String>,
}

impl std::fmt::Debug for AssertionKey {
    /// Never prints the private scalar.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AssertionKey").field("kid", &self.kid).finish_non_exhaustive()
    }
}

/// A validated `introspection` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntrospectionConfig {
    /// The endpoint comes from the provider's discovery document; no call is made until
    /// one has been loaded.
    pub from_discovery: bool,
    pub cluster: Option<String>,
    pub uri: Option<String>,
    pub path: String,
    pub authority: String,
    pub timeout_ms: u64,
    pub client_id: String,
    pub auth: ClientAuth,
    /// Longest time an `active: true` answer is reused (capped further by `exp`).
    pub max_ttl_s: u64,
    /// How long `active: false` (or a refused answer) is reused.
    pub negative_ttl_s: u64,
    /// How long past its TTL a positive answer may serve while the IdP fails (0: never).
    pub stale_if_error_s: u64,
    pub max_body_bytes: usize,
    /// Answers remembered per VM/isolate (FIFO eviction).
    pub cache_size: usize,
    /// Envoy: slots of the answer table the VMs of a process share (direct-mapped by
    /// the token's hash, so a full table evicts by replacement); 0: answers per VM.
    pub shared_cache_size: usize,
}

impl IntrospectionConfig {
    /// The endpoint as an absolute URL, for the assertion audience and logs.
    pub fn endpoint(&self) -> String {
        self.uri.clone().unwrap_or_else(|| format!("https://{}{}", self.authority, self.path))
    }
}

pub(super) fn validation(field: &str, v: Option<&str>) -> R<Validation> {
    Validation::parse(field, v)
}

/// `discovered`: the provider has `discovery`, so the endpoint may be left out and taken
/// from the metadata document's `introspection_endpoint`.
pub(super) fn introspection(field: &str, mut r: RawIntrospection, discovered: bool) -> R<IntrospectionConfig> {
    let f = |name: &str| format!("{field}.{name}");
    let from_discovery = discovered && r.cluster.is_none() && r.uri.is_none() && r.path.is_none();
    if from_discovery {
        // A placeholder until the document names the endpoint (no call goes out before).
        r.uri = Some("https://discovery.invalid/".into());
    }
    let (uri_authority, uri_path) = match &r.uri {
        Some(u) => split_uri(u)
            .ok_or_else(|| ConfigError { field: f("uri"), problem: "must be an absolute http(s) URL".into() })?,
        None => (None, None),
    };
    if r.cluster.is_none() && r.uri.is_none() {
        return err(field, "needs `cluster` with `path` (Envoy) and/or `uri` (edge worker)");
    }
    let path = required(&f("path"), r.path.or(uri_path))?;
    if !path.starts_with('/') {
        return err(f("path"), "must start with `/`");
    }
    let authority = r.authority.or(uri_authority).or_else(|| r.cluster.clone()).unwrap_or_default();
    let timeout_ms = r.timeout_ms.unwrap_or(defaults::INTROSPECTION_TIMEOUT_MS);
    let range = defaults::FETCH_TIMEOUT_RANGE_MS;
    if !range.contains(&timeout_ms) {
        return err(f("timeout_ms"), format!("must be between {} and {}", range.start(), range.end()));
    }
    let client_id = required(&f("client_id"), r.client_id)?;
    if client_id.is_empty() {
        return err(f("client_id"), "must not be empty");
    }
    let auth = client_auth(field, r.auth_method.as_deref(), r.client_secret, r.private_key, r.assertion_audience)?;
    let max_ttl_s = r.max_ttl_s.unwrap_or(defaults::INTROSPECTION_MAX_TTL_S);
    if max_ttl_s == 0 || max_ttl_s > defaults::INTROSPECTION_TTL_CAP_S {
        return err(f("max_ttl_s"), format!("must be between 1 and {}", defaults::INTROSPECTION_TTL_CAP_S));
    }
    let negative_ttl_s = r.negative_ttl_s.unwrap_or(defaults::INTROSPECTION_NEGATIVE_TTL_S);
    if negative_ttl_s > max_ttl_s {
        return err(f("negative_ttl_s"), "must be at most `max_ttl_s`");
    }
    let stale_if_error_s = r.stale_if_error_s.unwrap_or(0);
    if stale_if_error_s > defaults::INTROSPECTION_TTL_CAP_S {
        return err(f("stale_if_error_s"), format!("must be at most {}", defaults::INTROSPECTION_TTL_CAP_S));
    }
    let max_body_bytes = r.max_body_bytes.unwrap_or(defaults::INTROSPECTION_MAX_BODY_BYTES);
    if max_body_bytes < defaults::MIN_MAX_BODY_BYTES {
        return err(f("max_body_bytes"), format!("must be at least {}", defaults::MIN_MAX_BODY_BYTES));
    }
    let cache_size = r.cache_size.unwrap_or(defaults::INTROSPECTION_CACHE_SIZE);
    // At least 1: the entry of a call in flight is what makes it single-flight.
    if cache_size == 0 || cache_size > defaults::MAX_TOKEN_CACHE_SIZE {
        return err(f("cache_size"), format!("must be between 1 and {}", defaults::MAX_TOKEN_CACHE_SIZE));
    }
    let shared_cache_size = r.shared_cache_size.unwrap_or(defaults::INTROSPECTION_SHARED_CACHE_SIZE);
    if shared_cache_size > defaults::MAX_INTROSPECTION_SHARED_CACHE_SIZE {
        let max = defaults::MAX_INTROSPECTION_SHARED_CACHE_SIZE;
        return err(f("shared_cache_size"), format!("must be between 0 and {max}"));
    }
    let mut cfg = IntrospectionConfig {
        from_discovery,
        cluster: r.cluster,
        uri: r.uri,
        path,
        authority,
        timeout_ms,
        client_id,
        auth,
        max_ttl_s,
        negative_ttl_s,
        stale_if_error_s,
        max_body_bytes,
        cache_size,
        shared_cache_size,
    };
    let endpoint = cfg.endpoint();
    if let ClientAuth::PrivateKeyJwt { audience, .. } = &mut cfg.auth {
        if audience.is_empty() {
            *audience = endpoint;
        }
    }
    Ok(cfg)
}

fn client_auth(
    field: &str,
    method: Option<&str>,
    secret: Option<String>,
    key: Option<serde_json::Value>,
    audience: Option<String>,
) -> R<ClientAuth> {
    let f = |name: &str| format!("{field}.{name}");
    let method = method.unwrap_or("client_secret_basic");
    let secret_only = |secret: Option<String>| -> R<String> {
        if key.is_some() {
            return err(f("private_key"), "only `private_key_jwt` uses a private key");
        }
        let s = required(&f("client_secret"), secret)?;
        if s.is_empty() {
            return err(f("client_secret"), "must not be empty");
        }
        Ok(s)
    };
    match method {
        "client_secret_basic" => Ok(ClientAuth::SecretBasic { secret: secret_only(secret)? }),
        "client_secret_post" => Ok(ClientAuth::SecretPost { secret: secret_only(secret)? }),
        "private_key_jwt" => {
            if secret.is_some() {
                return err(f("client_secret"), "`private_key_jwt` signs an assertion instead of sending a secret");
            }
            let key = assertion_key(&f("private_key"), required(&f("private_key"), key)?)?;
            Ok(ClientAuth::PrivateKeyJwt { key, audience: audience.unwrap_or_default() })
        }
        _ => err(f("auth_method"), "must be \"client_secret_basic\", \"client_secret_post\" or \"private_key_jwt\""),
    }
}

/// A P-256 private JWK (`kty: EC`, `crv: P-256`, `d`); the scalar must be a valid key.
fn assertion_key(field: &str, jwk: serde_json::Value) -> R<AssertionKey> {
    let member = |name: &str| jwk.get(name).and_then(serde_json::Value::as_str);
    if member("kty") != Some("EC") || member("crv") != Some("P-256") {
        return err(field, "must be a P-256 JWK (`\"kty\": \"EC\"`, `\"crv\": \"P-256\"`); the assertion is ES256");
    }
    let d = member("d").and_then(crate::b64::decode);
    let Some(d) = d.filter(|d| d.len() == 32 && p256::ecdsa::SigningKey::from_slice(d).is_ok()) else {
        return err(format!("{field}.d"), "must be the base64url private scalar of a P-256 key (32 bytes)");
    };
    Ok(AssertionKey { d, kid: member("kid").map(str::to_owned) })
}

#[cfg(test)]
#[path = "introspection_tests.rs"]
mod tests;
