//! Validating a provider of `"kind": "api_keys"`: where its key digests come from
//! (inline `keys` or a `feed`), where keys are read from, and the header its client
//! name is forwarded under. JWT-only fields are refused by name, so a provider cannot
//! half-configure the wrong kind.

use super::defaults;
use super::raw::{RawJwks, RawProvider};
use super::validate::{err, header_name, jwks, sources, R};
use super::*;
use crate::apikey::{KeyTable, Rendering};

/// Fields of a JWT provider, named as the config spells them, and whether `p` sets each.
fn jwt_fields(p: &RawProvider) -> [(&'static str, bool); 17] {
    [
        ("issuer", p.issuer.is_some()),
        ("audiences", p.audiences.is_some()),
        ("jwks", p.jwks.is_some()),
        ("algorithms", p.algorithms.is_some()),
        ("clock_skew_s", p.clock_skew_s.is_some()),
        ("max_lifetime_s", p.max_lifetime_s.is_some()),
        ("max_token_bytes", p.max_token_bytes.is_some()),
        ("token_type", p.token_type.is_some()),
        ("claim_to_headers", !p.claim_to_headers.is_empty()),
        ("forward_token", p.forward_token),
        ("revocation", p.revocation.is_some()),
        ("sender_constraint", p.sender_constraint.is_some()),
        ("validation", p.validation.is_some()),
        ("introspection", p.introspection.is_some()),
        ("issuer_pattern", p.issuer_pattern.is_some()),
        ("tenants", p.tenants.is_some()),
        ("discovery", p.discovery.is_some()),
    ]
}

/// Refuses `keys`, `feed` and `client_header` on a JWT provider.
pub(super) fn refuse_key_fields(name: &str, p: &RawProvider) -> R<()> {
    for (field, set) in
        [("keys", p.keys.is_some()), ("feed", p.feed.is_some()), ("client_header", p.client_header.is_some())]
    {
        if set {
            return err(format!("providers.{name}.{field}"), "only a provider of `\"kind\": \"api_keys\"` takes it");
        }
    }
    Ok(())
}

pub(super) fn provider(name: &str, p: RawProvider) -> R<ProviderConfig> {
    let f = |field: &str| format!("providers.{name}.{field}");
    if let Some((field, _)) = jwt_fields(&p).into_iter().find(|(_, set)| *set) {
        let why = if field == "forward_token" {
            "an API key is never forwarded upstream".to_owned()
        } else {
            format!("`{field}` belongs to a JWT provider, not to `\"kind\": \"api_keys\"`")
        };
        return err(f(field), why);
    }
    let client_header = p.client_header.unwrap_or_else(|| defaults::API_KEY_CLIENT_HEADER.to_owned());
    header_name(&f("client_header"), &client_header)?;
    let rendering = Rendering { client_header: client_header.to_ascii_lowercase(), ..Rendering::default() };
    let keys = match (p.keys, p.feed) {
        (Some(list), None) => KeySource::Inline(
            KeyTable::build(list, &rendering).map_err(|e| ConfigError { field: f(&e.field), problem: e.problem })?,
        ),
        (None, Some(feed)) => KeySource::Feed(feed_source(&f("feed"), feed)?),
        _ => return err(f("keys"), "give exactly one of `keys` (inline digests) or `feed` (fetched digests)"),
    };
    let from = p.from.unwrap_or_else(default_sources);
    let sources = sources(&f("from"), Some(from))?;
    if let Some(i) = sources.iter().position(|s| matches!(s, TokenSource::Cookie(_))) {
        return err(f(&format!("from[{i}]")), "API keys are read from a header or (opt-in) a query parameter");
    }
    Ok(ProviderConfig {
        name: name.to_owned(),
        // Never matched: token selection only offers JWT providers (see `decide.rs`).
        issuer: String::new(),
        audiences: Audiences::Any,
        algorithms: Vec::new(),
        clock_skew_s: 0,
        max_lifetime_s: defaults::MAX_LIFETIME_S,
        max_token_bytes: defaults::MAX_TOKEN_BYTES,
        token_type: None,
        sources,
        claim_headers: Vec::new(),
        forward_token: false,
        jwks: JwksSource::Inline(crate::jwk::KeySetDoc { keys: Vec::new(), skipped: Vec::new() }),
        revocation: None,
        sender_constraint: Default::default(),
        validation: Validation::Jwt,
        introspection: None,
        discovery: None,
        kind: ProviderKind::ApiKeys(Box::new(ApiKeysConfig { keys, rendering })),
        login: None,
    })
}

/// `x-api-key: <key>` and `Authorization: ApiKey <key>`. Never the query by default: a
/// URL ends up in access logs, browser history, `Referer` headers and proxies' caches,
/// so a key sent there should be treated as leaked.
fn default_sources() -> Vec<super::raw::RawSource> {
    let header = |h: &str, prefix: Option<&str>| super::raw::RawSource {
        header: Some(h.to_owned()),
        prefix: prefix.map(str::to_owned),
        query: None,
        cookie: None,
    };
    vec![header("x-api-key", None), header("authorization", Some("ApiKey "))]
}

/// The feed is fetched like a JWKS; it only has no `inline` form and no unknown-kid
/// refetch, and refreshes more often by default (a disabled key stops working within
/// one refresh).
fn feed_source(field: &str, mut j: RawJwks) -> R<RemoteJwks> {
    if j.inline.is_some() {
        return err(format!("{field}.inline"), "inline digests go in the provider's `keys`");
    }
    if j.kid_refetch_cooldown_s.is_some() {
        return err(format!("{field}.kid_refetch_cooldown_s"), "a key feed has no key ids to refetch for");
    }
    j.refresh_interval_s.get_or_insert(defaults::KEY_FEED_REFRESH_INTERVAL_S);
    j.max_stale_s.get_or_insert(defaults::KEY_FEED_MAX_STALE_S);
    match jwks(field, j, &[])? {
        JwksSource::Remote(r) => Ok(r),
        JwksSource::Inline(_) => err(field, "a feed is remote"),
    }
}

/// A source shared by an `api_keys` provider and a JWT provider would make a credential
/// there ambiguous (a key checked as a token, or the reverse): refused at load.
pub(super) fn check_disjoint_sources(providers: &[ProviderConfig]) -> R<()> {
    for k in providers.iter().filter(|p| p.is_api_keys()) {
        for (i, s) in k.sources.iter().enumerate() {
            if let Some(j) = providers.iter().find(|p| !p.is_api_keys() && p.sources.contains(s)) {
                return err(
                    format!("providers.{}.from[{i}]", k.name),
                    format!("provider {:?} reads tokens there too (a credential there would be ambiguous)", j.name),
                );
            }
        }
    }
    Ok(())
}

/// Where a rule may name an `api_keys` provider: `provider`, or `any_of` (a token or a
/// key), at most one of them per rule. `all_of` and `allow_missing` would need a key
/// *and* a token, or let a request through with neither: refused.
pub(super) fn check_rule(field: &str, req: &Requirement, providers: &[ProviderConfig]) -> R<()> {
    let (member, ps) = match req {
        Requirement::Public | Requirement::Provider(_) => return Ok(()),
        Requirement::AnyOf(ps) => ("any_of", ps),
        Requirement::AllOf(ps) => ("all_of", ps),
        Requirement::AllowMissing(ps) => ("allow_missing", ps),
    };
    let keys: Vec<usize> = (0..ps.len()).filter(|i| providers[ps[*i]].is_api_keys()).collect();
    match (member, keys.as_slice()) {
        (_, []) => Ok(()),
        ("any_of", [_]) => Ok(()),
        ("any_of", [_, second, ..]) => {
            err(format!("{field}.any_of[{second}]"), "a rule accepts at most one `api_keys` provider")
        }
        (_, [first, ..]) => err(
            format!("{field}.{member}[{first}]"),
            "an `api_keys` provider goes in `provider` or `any_of` (a key, or a key or a token)",
        ),
    }
}
