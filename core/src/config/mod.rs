//! Loading and validating the one JSON config shared by both hosts.
//!
//! Validation happens once, at load: every error names the field (as a dotted path) so
//! an operator can fix it, and a config that loads has no silent gaps (audiences are
//! required, HMAC needs an explicit inline secret, every rule names real providers).

mod api_keys;
pub mod defaults;
pub mod discovery;
mod introspection;
pub(crate) mod login;
mod raw;
mod revocation;
mod rule;
mod sender;
mod tenants;
mod validate;

use crate::alg::Alg;
use crate::jwk::KeySetDoc;
use crate::policy::{Mode, Policy};
use crate::route::{HostMatch, Template};
use crate::sender::{DpopConfig, SenderConstraint};
use crate::strip::StripPolicy;
use std::collections::HashMap;
use std::fmt;

pub use introspection::{AssertionKey, ClientAuth, IntrospectionConfig, Validation};
pub use login::LoginConfig;
pub use revocation::{OnStale, RevocationConfig, StatusListConfig};

/// A config error: the dotted path of the offending field and what is wrong with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    pub field: String,
    pub problem: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid config at `{}`: {}", self.field, self.problem)
    }
}

impl std::error::Error for ConfigError {}

/// The validated configuration.
#[derive(Clone, Debug)]
pub struct GateConfig {
    pub realm: String,
    pub providers: Vec<ProviderConfig>,
    pub rules: Vec<Rule>,
    /// Every header the gate can write (lower case) plus the configured `strip_headers`
    /// and method-override headers: stripped from every request, in any spelling.
    pub strip_headers: Vec<String>,
    /// `strip_headers` plus the `x-jwt-` namespace, compared in canonical form.
    pub strip: StripPolicy,
    pub startup_hold_ms: u64,
    pub token_cache_size: usize,
    /// Use a host-native signature verifier when the host offers one.
    pub prefer_native: bool,
    /// The mode of rules that do not set their own.
    pub mode: Mode,
    /// The report-only response header (lower case), if configured.
    pub report_header: Option<String>,
    /// Denial bodies carry the stable reason code.
    pub reason_in_body: bool,
    /// Top-level claims any `require` tree reads: what the token cache keeps.
    pub policy_claims: Vec<String>,
    /// DPoP proof checking (`dpop`, `dpop_nonce`).
    pub dpop: DpopConfig,
    /// Provider indices by issuer, in config order (selection by `iss` in O(1)).
    pub issuers: HashMap<String, Vec<usize>>,
}

impl GateConfig {
    /// Parses and validates a JSON config document.
    pub fn from_json(text: &str) -> Result<GateConfig, ConfigError> {
        use crate::json::{parse_object, JsonError};
        // serde keeps the last of two same-named members (a provider defined twice would
        // silently replace the first): the strict parser refuses duplicates first.
        let doc = parse_object(text.as_bytes()).map_err(|e| {
            let problem = match e {
                JsonError::Duplicate => "the document has a duplicate member (e.g. a provider defined twice)".into(),
                JsonError::NotAnObject => "the config must be a JSON object".into(),
                // serde_json's own message says where (line and column).
                JsonError::NotUtf8 | JsonError::Syntax => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
                    Err(e) => format!("the config is not valid JSON: {e}"),
                    Ok(_) => "the config is not valid JSON".into(),
                },
            };
            ConfigError { field: DOCUMENT.into(), problem }
        })?;
        // From a parsed value, serde's messages carry no "at line L column C" suffix and
        // `serde_path_to_error` names the field, so nothing here reads message text.
        let raw: raw::RawConfig = serde_path_to_error::deserialize(serde_json::Value::Object(doc)).map_err(|e| {
            let field = e.path().to_string();
            ConfigError { field: if field == "." { DOCUMENT.into() } else { field }, problem: e.inner().to_string() }
        })?;
        validate::validate(raw)
    }
}

impl GateConfig {
    /// Settings that weaken a guarantee on purpose, for hosts to log at start.
    pub fn warnings(&self) -> Vec<String> {
        self.providers
            .iter()
            .filter(|p| p.revocation.as_ref().is_some_and(|r| r.feed.is_some() && r.on_stale == OnStale::Allow))
            .map(|p| {
                format!(
                    "provider {}: revocation.on_stale is \"allow\": past max_staleness_s its tokens are allowed \
                     against the last good revocation list (weakened guarantee: revocations may go unenforced)",
                    p.name
                )
            })
            .collect()
    }

    /// The first of `ps` whose issuer is `iss`: one map lookup, then a scan of the few
    /// providers sharing that issuer (never of every provider).
    pub fn provider_for_issuer(&self, iss: &str, ps: &[usize]) -> Option<usize> {
        self.issuers.get(iss)?.iter().copied().find(|p| ps.contains(p))
    }

    /// The token sources of `providers`, each once, in order.
    pub fn sources_of(&self, providers: &[usize]) -> Vec<&TokenSource> {
        let mut out: Vec<&TokenSource> = Vec::new();
        for s in providers.iter().flat_map(|p| &self.providers[*p].sources) {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        out
    }
}

impl GateConfig {
    /// The sender constraint in force for each (rule, provider) pair a token may be
    /// checked under.
    fn constraints(&self) -> impl Iterator<Item = SenderConstraint> + '_ {
        self.rules.iter().flat_map(move |r| {
            let ps: &[usize] = match &r.requirement {
                Requirement::Public => &[],
                Requirement::Provider(p) => std::slice::from_ref(p),
                Requirement::AnyOf(ps) | Requirement::AllOf(ps) | Requirement::AllowMissing(ps) => ps,
            };
            ps.iter().map(move |p| r.sender_constraint.unwrap_or(self.providers[*p].sender_constraint))
        })
    }

    /// Whether any route checks DPoP proofs (a host sets up its replay store then).
    pub fn uses_dpop(&self) -> bool {
        self.constraints().any(SenderConstraint::accepts_dpop)
    }

    /// Whether any route checks certificate-bound tokens (a host reads the client
    /// certificate only then: it costs a host call per request).
    pub fn uses_client_certs(&self) -> bool {
        self.constraints().any(|c| matches!(c, SenderConstraint::Mtls | SenderConstraint::DpopOrMtls))
    }

    /// Some provider runs the browser login flow (and so may receive back-channel logouts).
    pub fn uses_login(&self) -> bool {
        self.providers.iter().any(|p| p.login.is_some())
    }
}

/// The `field` of errors about the document as a whole.
const DOCUMENT: &str = "(document)";

#[derive(Clone, Debug)]
pub struct ProviderConfig {
    pub name: String,
    pub issuer: String,
    pub audiences: Audiences,
    pub algorithms: Vec<Alg>,
    pub clock_skew_s: u64,
    pub max_lifetime_s: u64,
    pub max_token_bytes: usize,
    pub token_type: Option<String>,
    pub sources: Vec<TokenSource>,
    pub claim_headers: Vec<ClaimHeader>,
    pub forward_token: bool,
    pub jwks: JwksSource,
    /// How tokens of this provider must be presented, unless a rule says otherwise.
    pub sender_constraint: SenderConstraint,
    /// Denylist entries and/or a feed; `None`: tokens of this provider are never
    /// checked for revocation.
    pub revocation: Option<RevocationConfig>,
    pub kind: ProviderKind,
    pub validation: Validation,
    pub introspection: Option<IntrospectionConfig>,
    /// Where the JWKS location is discovered (OIDC discovery / RFC 8414).
    pub discovery: Option<Discovery>,
    /// Browser sessions: the OIDC client the gate is for this provider (`None`: none).
    pub login: Option<Box<LoginConfig>>,
}

/// A provider's discovery document and the mix-up defence for what it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Discovery {
    /// How to fetch the document: the JWKS block's cluster and timings, with the
    /// document's path, authority and URL.
    pub remote: RemoteJwks,
    /// Hosts (without port) the discovered `jwks_uri` may be on.
    pub allowed_hosts: Vec<String>,
}

impl ProviderConfig {
    /// Whether a token found at `source` may be this provider's: one of its `from`
    /// places, or its own session cookie when it has a `login` block.
    pub fn reads(&self, source: &TokenSource) -> bool {
        match source {
            TokenSource::Session => self.login.is_some(),
            other => self.sources.contains(other),
        }
    }

    /// A provider of `"kind": "api_keys"`.
    pub fn is_api_keys(&self) -> bool {
        matches!(self.kind, ProviderKind::ApiKeys(_))
    }

    /// The API-key settings, for a provider of that kind.
    pub fn api_keys(&self) -> Option<&ApiKeysConfig> {
        match &self.kind {
            ProviderKind::ApiKeys(k) => Some(k),
            ProviderKind::Jwt => None,
        }
    }
}

/// What a provider authenticates. A JWT provider uses the fields above; an `api_keys`
/// provider only `name` and `sources` (its JWT fields hold inert values: its issuer
/// is empty and token selection never offers it a token).
#[derive(Clone, Debug)]
pub enum ProviderKind {
    Jwt,
    ApiKeys(Box<ApiKeysConfig>),
}

#[derive(Clone, Debug)]
pub struct ApiKeysConfig {
    pub keys: KeySource,
    /// The header names an application's identity is forwarded under.
    pub rendering: crate::apikey::Rendering,
}

/// Where an `api_keys` provider's digests come from.
#[derive(Clone, Debug)]
pub enum KeySource {
    Inline(crate::apikey::KeyTable),
    Feed(RemoteJwks),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Audiences {
    /// `"*"`: the operator explicitly disabled the audience check.
    Any,
    OneOf(Vec<String>),
}

#[derive(Clone, Debug)]
pub enum JwksSource {
    Inline(KeySetDoc),
    Remote(RemoteJwks),
}

/// Where and how often to fetch a remote JWKS, and how long its keys stay usable.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteJwks {
    pub cluster: Option<String>,
    pub uri: Option<String>,
    pub path: String,
    pub authority: String,
    pub refresh_interval_s: u64,
    pub min_refresh_interval_s: u64,
    pub timeout_ms: u64,
    pub max_stale_s: u64,
    pub kid_refetch_cooldown_s: u64,
    pub max_body_bytes: usize,
}

/// Where a token may be read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TokenSource {
    /// A header (lower-case name) whose value starts with `prefix` (compared
    /// case-insensitively, since HTTP auth schemes are case-insensitive).
    Header {
        name: String,
        prefix: String,
    },
    Query(String),
    Cookie(String),
    /// The access token of the gate's own sealed session cookie (`login`, rules with
    /// `browser: true`); never read by extraction, only handed to the checks.
    Session,
}

impl TokenSource {
    /// The `Authorization: DPoP …` source every DPoP-accepting provider reads.
    pub fn dpop_scheme() -> TokenSource {
        TokenSource::Header { name: "authorization".into(), prefix: "DPoP ".into() }
    }

    /// Whether a token found here was presented with the `DPoP` scheme.
    pub fn is_dpop_scheme(&self) -> bool {
        matches!(self, TokenSource::Header { name, prefix } if name == "authorization" && prefix.trim_end().eq_ignore_ascii_case("dpop"))
    }
}

/// Copy a (possibly nested, dotted) claim into a request header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimHeader {
    pub claim: Vec<String>,
    pub header: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The label in metrics and logs.
    pub name: String,
    pub path: PathMatch,
    /// Matches any host when `None`.
    pub host: Option<HostMatch>,
    /// Upper-case methods; empty means any.
    pub methods: Vec<String>,
    pub requirement: Requirement,
    /// Scopes the token must all grant (403 `insufficient_scope` otherwise).
    pub scopes: Vec<String>,
    /// Claim conditions the token must meet (403 `access_denied` otherwise).
    pub require: Option<Policy>,
    /// `None`: the gate's mode.
    pub mode: Option<Mode>,
    /// `None`: the verifying provider's `sender_constraint`.
    pub sender_constraint: Option<SenderConstraint>,
    /// Introspect the token even when it is a locally valid JWT (revocable routes).
    pub introspect: bool,
    /// `browser: true`: the provider (index) whose `login` block serves page loads and
    /// whose session cookie stands in for a bearer token.
    pub browser: Option<usize>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PathMatch {
    Exact(String),
    Prefix(String),
    Template(Template),
}

/// Providers are referred to by index into `GateConfig::providers`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Requirement {
    Public,
    Provider(usize),
    AnyOf(Vec<usize>),
    AllOf(Vec<usize>),
    /// A token is optional; if one is sent it must be valid for one of these.
    AllowMissing(Vec<usize>),
}

impl Requirement {
    /// Every provider the requirement names.
    pub fn providers(&self) -> &[usize] {
        match self {
            Requirement::Public => &[],
            Requirement::Provider(p) => std::slice::from_ref(p),
            Requirement::AnyOf(ps) | Requirement::AllOf(ps) | Requirement::AllowMissing(ps) => ps,
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
