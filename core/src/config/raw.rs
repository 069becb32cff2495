//! The JSON document exactly as users write it. Field names follow Envoy `jwt_authn`
//! and Istio `JWTRule` where those exist. Unknown fields are errors: a typo such as
//! `audience` must fail at load, not silently disable a check.

use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawConfig {
    #[serde(default)]
    pub realm: Option<String>,
    // Required fields are `Option`s so `validate` reports a missing one by its own
    // path (serde would name only the parent).
    #[serde(default)]
    pub providers: Option<BTreeMap<String, RawProvider>>,
    #[serde(default)]
    pub rules: Option<Vec<RawRule>>,
    /// Extra request headers to strip on every request (e.g. other identity headers).
    #[serde(default)]
    pub strip_headers: Vec<String>,
    /// How long a request may wait for the first key set (or an unknown-kid refetch).
    #[serde(default)]
    pub startup_hold_ms: Option<u64>,
    /// How many verified tokens to remember (0 disables the cache).
    #[serde(default)]
    pub token_cache_size: Option<usize>,
    /// Strip `x-http-method-override` and its siblings (default true).
    #[serde(default)]
    pub strip_method_override_headers: Option<bool>,
    /// `"auto"` (the host's native verifier where it has one) or `"software"`.
    #[serde(default)]
    pub verifier: Option<String>,
    /// `"enforce"` (default) or `"report_only"` for every rule without its own `mode`.
    #[serde(default)]
    pub mode: Option<String>,
    /// A response header that tells the client a report-only decision (off by default).
    #[serde(default)]
    pub report_header: Option<String>,
    /// Put each denial's stable reason code in its JSON body as `reason`.
    #[serde(default)]
    pub reason_in_body: bool,
    /// DPoP proof checking (RFC 9449) for routes whose `sender_constraint` accepts it.
    #[serde(default)]
    pub dpop: Option<RawDpop>,
    /// Server-issued DPoP nonces (stateless HMAC over a time window).
    #[serde(default)]
    pub dpop_nonce: Option<RawDpopNonce>,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RawDpop {
    pub algorithms: Option<Vec<String>>,
    pub max_age_s: Option<u64>,
    pub clock_skew_s: Option<u64>,
    pub max_proof_bytes: Option<usize>,
    pub replay_cache_size: Option<usize>,
    /// `x-forwarded-proto` and/or `x-forwarded-host`: set by a trusted proxy in front.
    #[serde(default)]
    pub trusted_forwarded_headers: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawDpopNonce {
    pub key: Option<String>,
    pub window_s: Option<u64>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawProvider {
    #[serde(default)]
    pub issuer: Option<String>,
    #[serde(default)]
    pub audiences: Option<RawAudiences>,
    #[serde(default)]
    pub jwks: Option<RawJwks>,
    #[serde(default)]
    pub algorithms: Option<Vec<String>>,
    #[serde(default)]
    pub clock_skew_s: Option<u64>,
    #[serde(default)]
    pub max_lifetime_s: Option<u64>,
    #[serde(default)]
    pub max_token_bytes: Option<usize>,
    #[serde(default)]
    pub token_type: Option<String>,
    #[serde(default)]
    pub from: Option<Vec<RawSource>>,
    #[serde(default)]
    pub claim_to_headers: Vec<RawClaimToHeader>,
    #[serde(default)]
    pub forward_token: bool,
    /// `none` (default), `dpop_optional`, `dpop_required`, `mtls` or `dpop_or_mtls`.
    #[serde(default)]
    pub sender_constraint: Option<String>,
    /// `"jwt"` (default) or `"api_keys"`.
    #[serde(default)]
    pub kind: Option<String>,
    /// `api_keys`: inline key entries (digests, never keys).
    #[serde(default)]
    pub keys: Option<Vec<crate::apikey::RawKeyEntry>>,
    /// `api_keys`: a feed of key entries, fetched like a JWKS.
    #[serde(default)]
    pub feed: Option<RawJwks>,
    /// `api_keys`: the header the application's name is forwarded under.
    #[serde(default)]
    pub client_header: Option<String>,
    /// Denylist entries and/or a revocation feed (`config/revocation.rs`).
    #[serde(default)]
    pub revocation: Option<RawRevocation>,
    /// `"jwt"` (default), `"introspection"` or `"hybrid"`.
    #[serde(default)]
    pub validation: Option<String>,
    /// The RFC 7662 endpoint and client credentials (needed by `introspection`/`hybrid`
    /// and by rules with `introspect: true`).
    #[serde(default)]
    pub introspection: Option<RawIntrospection>,
    /// Browser sessions (OIDC authorization code + PKCE) for rules with `browser: true`.
    #[serde(default)]
    pub login: Option<super::login::RawLogin>,
    /// Instead of `issuer`: an issuer with a `{tenant}` placeholder, expanded for each
    /// of `tenants` into a provider of its own (`<name>.<tenant>`).
    #[serde(default)]
    pub issuer_pattern: Option<String>,
    #[serde(default)]
    pub tenants: Option<Vec<String>>,
    /// OIDC discovery: `true` (`<issuer>/.well-known/openid-configuration`) or the
    /// document's URL; the JWKS location (`jwks_uri`) then comes from it.
    #[serde(default)]
    pub discovery: Option<serde_json::Value>,
    /// Hosts discovered endpoints may be on (default: the issuer's host).
    #[serde(default)]
    pub endpoint_hosts: Option<Vec<String>>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawRevocation {
    /// Entries as in the feed document (parsed by `revocation::Entry`, which names
    /// each member itself).
    #[serde(default)]
    pub inline: Vec<serde_json::Value>,
    #[serde(default)]
    pub feed: Option<RawFeed>,
    /// `"deny"` (default: 503 past the bound) or `"allow"`.
    #[serde(default)]
    pub on_stale: Option<String>,
    /// Token Status List: where the lists tokens name may be fetched from.
    #[serde(default)]
    pub status_list: Option<RawStatusList>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawStatusList {
    pub uri_prefix: Option<String>,
    pub cluster: Option<String>,
    pub authority: Option<String>,
    pub refresh_interval_s: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_staleness_s: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub max_lists: Option<usize>,
}

/// Where the revocation feed is fetched from: the JWKS's fields, with the bound named
/// for what it promises.
#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawFeed {
    pub cluster: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    pub uri: Option<String>,
    pub refresh_interval_s: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_staleness_s: Option<u64>,
    pub max_body_bytes: Option<usize>,
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawIntrospection {
    /// Envoy: the cluster that reaches the IdP.
    pub cluster: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    /// Edge worker: the full endpoint URL.
    pub uri: Option<String>,
    pub timeout_ms: Option<u64>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    /// `client_secret_basic` (default), `client_secret_post` or `private_key_jwt`.
    pub auth_method: Option<String>,
    /// `private_key_jwt`: the gate's own private key, a P-256 JWK with `d`.
    pub private_key: Option<serde_json::Value>,
    /// `private_key_jwt`: the assertion's `aud` (default: the endpoint URL).
    pub assertion_audience: Option<String>,
    pub max_ttl_s: Option<u64>,
    pub negative_ttl_s: Option<u64>,
    pub stale_if_error_s: Option<u64>,
    pub max_body_bytes: Option<usize>,
    pub cache_size: Option<usize>,
    /// Envoy: answers shared by the VMs of a process (slots in shared data; 0: per VM).
    pub shared_cache_size: Option<usize>,
}

/// `"*"` (explicitly no audience check) or a non-empty list (any-of).
#[derive(Deserialize, Debug, Clone)]
#[serde(untagged)]
pub enum RawAudiences {
    Any(String),
    List(Vec<String>),
}

#[derive(Deserialize, Debug, Default, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawJwks {
    /// Envoy: the cluster that reaches the IdP.
    pub cluster: Option<String>,
    pub path: Option<String>,
    pub authority: Option<String>,
    /// Edge worker: the full JWKS URL (Envoy ignores it; it routes by cluster).
    pub uri: Option<String>,
    pub refresh_interval_s: Option<u64>,
    pub min_refresh_interval_s: Option<u64>,
    pub timeout_ms: Option<u64>,
    pub max_stale_s: Option<u64>,
    pub kid_refetch_cooldown_s: Option<u64>,
    pub max_body_bytes: Option<usize>,
    /// A JWKS document (`{"keys": [...]}`) given in the config.
    pub inline: Option<serde_json::Value>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawSource {
    pub header: Option<String>,
    pub prefix: Option<String>,
    pub query: Option<String>,
    pub cookie: Option<String>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RawClaimToHeader {
    #[serde(default)]
    pub claim: Option<String>,
    #[serde(default)]
    pub header: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawRule {
    #[serde(rename = "match", default)]
    pub matcher: Option<RawMatch>,
    pub requires: Option<RawRequires>,
    #[serde(default)]
    pub public: bool,
    #[serde(default)]
    pub scopes: Vec<String>,
    /// The rule's label in metrics and logs (default `rule_<index>`).
    #[serde(default)]
    pub name: Option<String>,
    /// `"enforce"` or `"report_only"`; default: the gate's `mode`.
    #[serde(default)]
    pub mode: Option<String>,
    /// Introspect the token (RFC 7662) even when it is a locally valid JWT.
    #[serde(default)]
    pub introspect: bool,
    /// Unauthenticated page loads go to the provider's `login` flow; the session cookie
    /// stands in for a bearer token.
    #[serde(default)]
    pub browser: bool,
    /// The `all` / `any` / `not` tree of claim conditions (parsed by `policy::compile`,
    /// which names each nested field itself).
    #[serde(default)]
    pub require: Option<serde_json::Value>,
    /// Overrides the providers' `sender_constraint` on this route.
    #[serde(default)]
    pub sender_constraint: Option<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawMatch {
    pub exact: Option<String>,
    pub prefix: Option<String>,
    /// `/tenants/{tenant}/orders/**`.
    pub template: Option<String>,
    /// `api.example.com` or `*.example.com`.
    pub host: Option<String>,
    #[serde(default)]
    pub methods: Vec<String>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RawRequires {
    pub provider: Option<String>,
    pub any_of: Option<Vec<String>>,
    pub all_of: Option<Vec<String>>,
    pub allow_missing: Option<Vec<String>>,
}
