//! Turns the raw document into a [`GateConfig`], applying defaults and refusing
//! anything ambiguous. Each check names the field it is about.

use super::defaults;
use super::raw::*;
use super::*;
use crate::jwk::{parse_jwks, JwksOrigin, KeySetDoc};
use crate::strip::{StripPolicy, METHOD_OVERRIDE_HEADERS};

pub(super) type R<T> = Result<T, ConfigError>;

pub(super) fn err<T>(field: impl Into<String>, problem: impl Into<String>) -> R<T> {
    Err(ConfigError { field: field.into(), problem: problem.into() })
}

/// A required field's value, or the error naming it.
pub(crate) fn required<T>(field: &str, value: Option<T>) -> R<T> {
    let name = field.rsplit('.').next().unwrap_or(field);
    value.ok_or_else(|| ConfigError { field: field.into(), problem: format!("`{name}` is required") })
}

pub fn validate(raw: RawConfig) -> R<GateConfig> {
    let realm = raw.realm.unwrap_or_else(|| defaults::REALM.to_owned());
    if realm.is_empty() || realm.contains('"') || realm.contains('\\') {
        return err("realm", "must be non-empty and contain no quote or backslash");
    }
    let raw_providers = required("providers", raw.providers)?;
    let raw_rules = required("rules", raw.rules)?;
    let expanded = super::tenants::expand(raw_providers)?;
    let mut providers = Vec::new();
    for (name, p) in expanded.providers {
        providers.push(match p.kind.as_deref() {
            None | Some("jwt") => {
                super::api_keys::refuse_key_fields(&name, &p)?;
                provider(&name, p)?
            }
            Some("api_keys") => super::api_keys::provider(&name, p)?,
            Some(_) => return err(format!("providers.{name}.kind"), "must be \"jwt\" or \"api_keys\""),
        });
    }
    super::api_keys::check_disjoint_sources(&providers)?;
    if raw_rules.is_empty() {
        return err("rules", "at least one rule is required (requests matching no rule are denied)");
    }
    let rules = super::rule::rules(raw_rules, &expanded.groups)?;
    for (i, r) in rules.iter().enumerate() {
        super::api_keys::check_rule(&format!("rules[{i}].requires"), &r.requirement, &providers)?;
        if r.introspect && r.requirement.providers().iter().any(|p| providers[*p].introspection.is_none()) {
            return err(format!("rules[{i}].introspect"), "every provider of the rule needs an `introspection` block");
        }
        if r.browser.is_some_and(|p| providers[p].login.is_none()) {
            return err(format!("rules[{i}].browser"), "the rule's provider needs a `login` block");
        }
    }
    super::sender::add_dpop_sources(&mut providers, &rules);
    let dpop = super::sender::dpop(raw.dpop, raw.dpop_nonce)?;
    let issuers = issuer_index(&providers);
    // Identity headers the gate writes, plus `x-envoy-original-path`: a client-sent copy
    // must never reach a backend that trusts it (CVE-2023-27487).
    let mut strip_headers: Vec<String> = defaults::CLAIM_HEADERS.iter().map(|(_, h)| (*h).to_owned()).collect();
    strip_headers.push("x-envoy-original-path".to_owned());
    let report_header = match raw.report_header {
        Some(h) => {
            header_name("report_header", &h)?;
            Some(h.to_ascii_lowercase())
        }
        None => None,
    };
    let mode = match raw.mode.as_deref().map(crate::policy::Mode::parse) {
        None => crate::policy::Mode::Enforce,
        Some(Some(m)) => m,
        Some(None) => return err("mode", "must be \"enforce\" or \"report_only\""),
    };
    // A client-sent copy of the report header never reaches the upstream either.
    let key_clients = providers.iter().filter_map(|p| p.api_keys().map(|k| k.rendering.client_header.clone()));
    let written = providers
        .iter()
        .flat_map(|p| p.claim_headers.iter().map(|c| c.header.clone()))
        .chain(key_clients)
        .chain(report_header.clone());
    for (i, h) in raw.strip_headers.iter().enumerate() {
        header_name(&format!("strip_headers[{i}]"), h)?;
    }
    for h in written.chain(raw.strip_headers.iter().map(|h| h.to_ascii_lowercase())) {
        if !strip_headers.contains(&h) {
            strip_headers.push(h);
        }
    }
    if raw.strip_method_override_headers.unwrap_or(defaults::STRIP_METHOD_OVERRIDE_HEADERS) {
        for h in METHOD_OVERRIDE_HEADERS {
            if !strip_headers.iter().any(|s| s == h) {
                strip_headers.push(h.to_owned());
            }
        }
    }
    let strip = StripPolicy::new(strip_headers.iter().map(String::as_str));
    let startup_hold_ms = raw.startup_hold_ms.unwrap_or(defaults::STARTUP_HOLD_MS);
    if startup_hold_ms > defaults::MAX_STARTUP_HOLD_MS {
        return err("startup_hold_ms", format!("must be at most {}", defaults::MAX_STARTUP_HOLD_MS));
    }
    let token_cache_size = raw.token_cache_size.unwrap_or(defaults::TOKEN_CACHE_SIZE);
    if token_cache_size > defaults::MAX_TOKEN_CACHE_SIZE {
        return err("token_cache_size", format!("must be at most {}", defaults::MAX_TOKEN_CACHE_SIZE));
    }
    let prefer_native = match raw.verifier.as_deref() {
        None | Some("auto") => true,
        Some("software") => false,
        Some(_) => return err("verifier", "must be \"auto\" or \"software\""),
    };
    let mut roots = Vec::new();
    rules.iter().filter_map(|r| r.require.as_ref()).for_each(|p| p.claim_roots(&mut roots));
    let policy_claims = roots.into_iter().map(str::to_owned).collect();
    Ok(GateConfig {
        realm,
        providers,
        rules,
        strip_headers,
        strip,
        startup_hold_ms,
        token_cache_size,
        prefer_native,
        mode,
        report_header,
        reason_in_body: raw.reason_in_body,
        policy_claims,
        dpop,
        issuers,
    })
}

fn provider(name: &str, p: RawProvider) -> R<ProviderConfig> {
    let f = |field: &str| format!("providers.{name}.{field}");
    let issuer = required(&f("issuer"), p.issuer)?;
    if issuer.is_empty() {
        return err(f("issuer"), "must not be empty");
    }
    let issuer_for_entries = issuer.clone();
    let has_revocation = p.revocation.is_some();
    let audiences = match required(&f("audiences"), p.audiences)? {
        RawAudiences::Any(s) if s == "*" => Audiences::Any,
        RawAudiences::Any(_) => {
            return err(f("audiences"), "must be a list of audiences, or \"*\" to disable the check")
        }
        RawAudiences::List(l) if l.is_empty() || l.iter().any(String::is_empty) => {
            return err(f("audiences"), "must list at least one non-empty audience")
        }
        RawAudiences::List(l) => Audiences::OneOf(l),
    };
    let algorithms = algorithms(&f("algorithms"), p.algorithms.as_deref())?;
    let hmac = algorithms.iter().any(|a| a.is_symmetric());
    let validation = super::introspection::validation(&f("validation"), p.validation.as_deref())?;
    let introspection = match p.introspection {
        Some(raw) => Some(super::introspection::introspection(&f("introspection"), raw, p.discovery.is_some())?),
        None if validation != Validation::Jwt => {
            return err(f("introspection"), "is required when `validation` is \"introspection\" or \"hybrid\"")
        }
        None => None,
    };
    // An introspection-only provider checks nothing locally: an empty key set stands in.
    let discovered = p.discovery.is_some();
    let mut raw_jwks = p.jwks;
    if discovered {
        // The JWKS location is discovered; until then a placeholder path stands in.
        let j = raw_jwks.get_or_insert_with(RawJwks::default);
        if j.path.is_some() || j.uri.is_some() || j.inline.is_some() {
            return err(
                f("jwks"),
                "with `discovery`, give only `cluster`, `authority` and timings (the JWKS location is discovered)",
            );
        }
        j.path = Some("/".into());
        j.uri = Some(format!("{}/", issuer.trim_end_matches('/')));
    }
    let jwks = match (validation.verifies_locally(), raw_jwks) {
        (false, None) => JwksSource::Inline(KeySetDoc::default()),
        (_, raw) => jwks(&f("jwks"), required(&f("jwks"), raw)?, &algorithms)?,
    };
    let discovery = match (p.discovery, &jwks) {
        (None, _) => None,
        (Some(d), JwksSource::Remote(r)) => {
            Some(super::discovery::discovery(&f("discovery"), d, &issuer, r, p.endpoint_hosts)?)
        }
        (Some(_), JwksSource::Inline(_)) => {
            return err(f("discovery"), "needs a remote `jwks` block (for its cluster and timings)")
        }
    };
    if hmac && !matches!(jwks, JwksSource::Inline(_)) {
        return err(f("algorithms"), "HMAC algorithms need an inline secret (`jwks.inline` with an `oct` key)");
    }
    let mut claim_headers = Vec::new();
    for (claim, header) in defaults::CLAIM_HEADERS {
        claim_headers.push(ClaimHeader { claim: vec![claim.to_owned()], header: header.to_owned() });
    }
    for (i, c) in p.claim_to_headers.iter().enumerate() {
        let field = f(&format!("claim_to_headers[{i}]"));
        let claim = required(&format!("{field}.claim"), c.claim.as_deref())?;
        let header = required(&format!("{field}.header"), c.header.as_deref())?;
        if claim.is_empty() || claim.split('.').any(str::is_empty) {
            return err(format!("{field}.claim"), "must be a claim name or a dotted path like `realm.roles`");
        }
        header_name(&format!("{field}.header"), header)?;
        let header = header.to_ascii_lowercase();
        claim_headers.retain(|h| h.header != header);
        claim_headers.push(ClaimHeader { claim: claim.split('.').map(str::to_owned).collect(), header });
    }
    let max_token_bytes = p.max_token_bytes.unwrap_or(defaults::MAX_TOKEN_BYTES);
    let range = defaults::TOKEN_BYTES_RANGE;
    if !range.contains(&max_token_bytes) {
        return err(f("max_token_bytes"), format!("must be between {} and {}", range.start(), range.end()));
    }
    let max_lifetime_s = p.max_lifetime_s.unwrap_or(defaults::MAX_LIFETIME_S);
    if max_lifetime_s == 0 {
        return err(f("max_lifetime_s"), "must be positive");
    }
    Ok(ProviderConfig {
        name: name.to_owned(),
        issuer,
        audiences,
        algorithms,
        clock_skew_s: p.clock_skew_s.unwrap_or(defaults::CLOCK_SKEW_S).min(defaults::MAX_CLOCK_SKEW_S),
        max_lifetime_s,
        max_token_bytes,
        token_type: p.token_type.filter(|t| !t.is_empty()),
        sources: sources(&f("from"), p.from)?,
        claim_headers,
        forward_token: p.forward_token,
        revocation: match p.revocation {
            Some(r) => Some(super::revocation::revocation(&f("revocation"), r, &issuer_for_entries)?),
            None => None,
        },
        jwks,
        kind: ProviderKind::Jwt,
        sender_constraint: super::sender::constraint(&f("sender_constraint"), p.sender_constraint.as_deref())?
            .unwrap_or_default(),
        validation,
        introspection,
        discovery,
        login: match p.login {
            Some(_) if !validation.verifies_locally() => {
                return err(
                    f("login"),
                    "needs a provider that verifies JWTs locally (the ID token is checked with its JWKS)",
                );
            }
            Some(raw) => {
                let login = super::login::login(&f("login"), raw)?;
                if login.backchannel_logout_path.is_some() && !has_revocation {
                    return err(
                        f("login.backchannel_logout_path"),
                        "needs the provider's `revocation` block (a logout puts the session's `sid` in its denylist)",
                    );
                }
                Some(Box::new(login))
            }
            None => None,
        },
    })
}

/// Providers by issuer, in config order: selection by a token's `iss` is one map lookup
/// however many providers there are.
fn issuer_index(providers: &[ProviderConfig]) -> std::collections::HashMap<String, Vec<usize>> {
    let mut map: std::collections::HashMap<String, Vec<usize>> = std::collections::HashMap::new();
    // API-key providers have no issuer: no token may select them.
    for (i, p) in providers.iter().enumerate().filter(|(_, p)| !p.is_api_keys()) {
        map.entry(p.issuer.clone()).or_default().push(i);
    }
    map
}

fn algorithms(field: &str, list: Option<&[String]>) -> R<Vec<Alg>> {
    let Some(list) = list else {
        return Ok(Alg::ALL.iter().copied().filter(|a| !a.is_symmetric()).collect());
    };
    if list.is_empty() {
        return err(field, "must not be empty (omit it to allow every asymmetric algorithm)");
    }
    let mut out = Vec::new();
    for (i, name) in list.iter().enumerate() {
        if name.eq_ignore_ascii_case("none") {
            return err(format!("{field}[{i}]"), "`none` is never accepted");
        }
        match Alg::parse(name) {
            Some(a) => out.push(a),
            None => return err(format!("{field}[{i}]"), format!("unsupported algorithm {name:?}")),
        }
    }
    Ok(out)
}

pub(super) fn jwks(field: &str, j: RawJwks, algs: &[Alg]) -> R<JwksSource> {
    let remote_fields = j.cluster.is_some() || j.uri.is_some() || j.path.is_some();
    if let Some(inline) = j.inline {
        if remote_fields {
            return err(field, "give either `inline` or a remote source (`cluster`/`uri`), not both");
        }
        let bytes = serde_json::to_vec(&inline).unwrap_or_default();
        let doc = parse_jwks(&bytes, JwksOrigin::Inline, algs)
            .map_err(|e| ConfigError { field: format!("{field}.inline"), problem: e.to_string() })?;
        return Ok(JwksSource::Inline(doc));
    }
    remote(field, j).map(JwksSource::Remote)
}

/// A remote source (`cluster`/`path`/`authority`/`uri` and the fetch bounds); also the
/// revocation feed's, which passes its own fields in these.
pub(super) fn remote(field: &str, j: RawJwks) -> R<RemoteJwks> {
    let (uri_authority, uri_path) = match &j.uri {
        Some(u) => split_uri(u).ok_or_else(|| ConfigError {
            field: format!("{field}.uri"),
            problem: "must be an absolute http(s) URL".into(),
        })?,
        None => (None, None),
    };
    let Some(path) = j.path.or(uri_path) else {
        return err(field, "needs `inline`, or `cluster` with `path`, or `uri`");
    };
    if !path.starts_with('/') {
        return err(format!("{field}.path"), "must start with `/`");
    }
    if j.cluster.is_none() && j.uri.is_none() {
        return err(field, "a remote JWKS needs `cluster` (Envoy) and/or `uri` (edge worker)");
    }
    let authority = j.authority.or(uri_authority).or_else(|| j.cluster.clone()).unwrap_or_default();
    let refresh_interval_s = j.refresh_interval_s.unwrap_or(defaults::REFRESH_INTERVAL_S);
    let min_refresh_interval_s =
        j.min_refresh_interval_s.unwrap_or(defaults::MIN_REFRESH_INTERVAL_S).min(refresh_interval_s);
    if refresh_interval_s == 0 {
        return err(format!("{field}.refresh_interval_s"), "must be positive");
    }
    let timeout_ms = j.timeout_ms.unwrap_or(defaults::FETCH_TIMEOUT_MS);
    let range = defaults::FETCH_TIMEOUT_RANGE_MS;
    if !range.contains(&timeout_ms) {
        return err(format!("{field}.timeout_ms"), format!("must be between {} and {}", range.start(), range.end()));
    }
    let max_stale_s = j.max_stale_s.unwrap_or(defaults::MAX_STALE_S);
    if max_stale_s < refresh_interval_s {
        return err(
            format!("{field}.max_stale_s"),
            "must be at least `refresh_interval_s` (keys would expire between refreshes)",
        );
    }
    let kid_refetch_cooldown_s = j.kid_refetch_cooldown_s.unwrap_or(defaults::KID_REFETCH_COOLDOWN_S);
    if kid_refetch_cooldown_s == 0 || min_refresh_interval_s == 0 {
        return err(
            field,
            "`kid_refetch_cooldown_s` and `min_refresh_interval_s` must be at least 1 (they bound the fetch rate)",
        );
    }
    let max_body_bytes = j.max_body_bytes.unwrap_or(defaults::MAX_BODY_BYTES);
    if max_body_bytes < defaults::MIN_MAX_BODY_BYTES {
        return err(format!("{field}.max_body_bytes"), format!("must be at least {}", defaults::MIN_MAX_BODY_BYTES));
    }
    Ok(RemoteJwks {
        cluster: j.cluster,
        uri: j.uri,
        path,
        authority,
        refresh_interval_s,
        min_refresh_interval_s,
        timeout_ms,
        max_stale_s,
        kid_refetch_cooldown_s,
        max_body_bytes,
    })
}

/// `http(s)://authority/path` → (authority, path). Anything else is refused.
pub(super) fn split_uri(uri: &str) -> Option<(Option<String>, Option<String>)> {
    let rest = uri.strip_prefix("https://").or_else(|| uri.strip_prefix("http://"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    (!authority.is_empty()).then(|| (Some(authority.to_owned()), Some(path.to_owned())))
}

pub(super) fn sources(field: &str, from: Option<Vec<RawSource>>) -> R<Vec<TokenSource>> {
    let Some(list) = from else {
        return Ok(vec![TokenSource::Header { name: "authorization".into(), prefix: "Bearer ".into() }]);
    };
    if list.is_empty() {
        return err(field, "must name at least one place to read the token from");
    }
    let mut out = Vec::new();
    for (i, s) in list.into_iter().enumerate() {
        let f = format!("{field}[{i}]");
        let src = match (s.header, s.query, s.cookie) {
            (Some(h), None, None) => {
                header_name(&format!("{f}.header"), &h)?;
                TokenSource::Header { name: h.to_ascii_lowercase(), prefix: s.prefix.unwrap_or_default() }
            }
            (None, Some(q), None) if s.prefix.is_none() && !q.is_empty() => TokenSource::Query(q),
            (None, None, Some(c)) if s.prefix.is_none() && !c.is_empty() => TokenSource::Cookie(c),
            _ => return err(f, "give exactly one of `header` (with optional `prefix`), `query` or `cookie`"),
        };
        out.push(src);
    }
    Ok(out)
}

/// Header names the gate may read or write: lower-case-able HTTP tokens that are not
/// pseudo-headers or framing headers.
pub(super) fn header_name(field: &str, h: &str) -> R<()> {
    const FORBIDDEN: [&str; 6] = ["host", "content-length", "transfer-encoding", "connection", "te", "upgrade"];
    let ok_chars = !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if !ok_chars || FORBIDDEN.contains(&h.to_ascii_lowercase().as_str()) {
        return err(field, format!("{h:?} is not a header name the gate may use"));
    }
    Ok(())
}
