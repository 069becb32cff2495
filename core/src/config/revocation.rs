//! A provider's `revocation` block: inline entries, a feed, and what to do once the
//! feed's list is older than its bound.

use super::defaults;
use super::raw::{RawFeed, RawJwks, RawRevocation, RawStatusList};
use super::validate::{err, remote, R};
use super::{ConfigError, RemoteJwks};
use crate::revocation::Entry;

/// What happens on a provider's routes once its feed's list is older than
/// `max_staleness_s` (or was never loaded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnStale {
    /// 503 with `Retry-After`: the bound is kept (the default).
    Deny,
    /// Tokens are allowed against the last good list: an explicit, logged weakening.
    Allow,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationConfig {
    pub inline: Vec<Entry>,
    /// The feed's source; its `max_stale_s` is the configured `max_staleness_s`.
    pub feed: Option<RemoteJwks>,
    pub on_stale: OnStale,
    pub status_list: Option<StatusListConfig>,
}

/// Token Status List: which URIs tokens may name, and how their lists are fetched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusListConfig {
    /// Only URIs starting with this are fetched (others refuse the token).
    pub uri_prefix: String,
    /// Fetch settings shared by every list; `uri`, `path` (and an empty `authority`)
    /// come from each list's URI.
    pub remote: RemoteJwks,
    /// Lists per provider (a token naming one more is answered 503).
    pub max_lists: usize,
    /// The largest decompressed list accepted.
    pub max_statuses_bytes: usize,
}

pub(super) fn revocation(field: &str, r: RawRevocation, issuer: &str) -> R<RevocationConfig> {
    let mut inline = Vec::with_capacity(r.inline.len());
    for (i, v) in r.inline.iter().enumerate() {
        let at = format!("{field}.inline[{i}]");
        let e = Entry::from_json(v).map_err(|e| ConfigError {
            field: if e.member.is_empty() { at.clone() } else { format!("{at}.{}", e.member) },
            problem: e.problem,
        })?;
        if e.iss.as_deref().is_some_and(|i| i != issuer) {
            return err(format!("{at}.iss"), "must be the provider's issuer (or left out)");
        }
        inline.push(e);
    }
    let feed = match r.feed {
        Some(f) => Some(feed(&format!("{field}.feed"), f)?),
        None => None,
    };
    let status_list = match r.status_list {
        Some(s) => Some(status_list(&format!("{field}.status_list"), s)?),
        None => None,
    };
    let on_stale = match r.on_stale.as_deref() {
        None | Some("deny") => OnStale::Deny,
        Some("allow") => OnStale::Allow,
        Some(_) => return err(format!("{field}.on_stale"), "must be \"deny\" or \"allow\""),
    };
    if feed.is_none() && inline.is_empty() && status_list.is_none() {
        return err(field, "give `inline` entries, a `feed` and/or `status_list`");
    }
    if feed.is_none() && status_list.is_none() && r.on_stale.is_some() {
        return err(format!("{field}.on_stale"), "applies only with a `feed` or `status_list`");
    }
    Ok(RevocationConfig { inline, feed, on_stale, status_list })
}

fn status_list(field: &str, s: RawStatusList) -> R<StatusListConfig> {
    let uri_prefix = super::validate::required(&format!("{field}.uri_prefix"), s.uri_prefix)?;
    let Some(rest) = uri_prefix.strip_prefix("https://").or_else(|| uri_prefix.strip_prefix("http://")) else {
        return err(format!("{field}.uri_prefix"), "must be an absolute http(s) URL");
    };
    let Some(slash) = rest.find('/').filter(|i| *i > 0) else {
        return err(format!("{field}.uri_prefix"), "must name a host and a path (`https://idp/statuslists/`)");
    };
    // The fetch source is checked like a feed's, on the prefix's path.
    let feed_fields = RawFeed {
        cluster: s.cluster,
        path: Some(rest[slash..].to_owned()),
        authority: s.authority.clone(),
        uri: Some(uri_prefix.clone()),
        refresh_interval_s: s.refresh_interval_s,
        timeout_ms: s.timeout_ms,
        max_staleness_s: s.max_staleness_s,
        max_body_bytes: Some(s.max_body_bytes.unwrap_or(defaults::STATUS_LIST_MAX_BODY_BYTES)),
    };
    let mut remote = feed(field, feed_fields)?;
    // Each list's authority comes from its URI unless one is configured.
    if s.authority.is_none() {
        remote.authority = String::new();
    }
    let max_lists = s.max_lists.unwrap_or(defaults::STATUS_LIST_MAX_LISTS);
    if !(1..=defaults::STATUS_LIST_MAX_LISTS_CAP).contains(&max_lists) {
        return err(format!("{field}.max_lists"), format!("must be 1 to {}", defaults::STATUS_LIST_MAX_LISTS_CAP));
    }
    Ok(StatusListConfig { uri_prefix, remote, max_lists, max_statuses_bytes: defaults::STATUS_LIST_MAX_STATUS_BYTES })
}

fn feed(field: &str, f: RawFeed) -> R<RemoteJwks> {
    if f.path.is_none() && f.uri.is_none() {
        return err(field, "needs `cluster` with `path`, or `uri`");
    }
    let refresh_interval_s = f.refresh_interval_s.unwrap_or(defaults::REVOCATION_REFRESH_INTERVAL_S);
    if refresh_interval_s == 0 {
        return err(format!("{field}.refresh_interval_s"), "must be positive");
    }
    let timeout_ms = f.timeout_ms.unwrap_or(defaults::FETCH_TIMEOUT_MS);
    let max_staleness_s = f.max_staleness_s.unwrap_or(defaults::REVOCATION_MAX_STALENESS_S);
    if max_staleness_s > defaults::REVOCATION_MAX_STALENESS_CAP_S {
        return err(
            format!("{field}.max_staleness_s"),
            format!("must be at most {}", defaults::REVOCATION_MAX_STALENESS_CAP_S),
        );
    }
    // A refresh comes at most 10% late (jitter) and takes up to `timeout_ms`; the bound
    // must leave room for that, or a healthy feed would flap into 503s.
    let worst_refresh_ms = refresh_interval_s.saturating_mul(1100).saturating_add(timeout_ms);
    if max_staleness_s.saturating_mul(1000) <= worst_refresh_ms {
        return err(
            format!("{field}.max_staleness_s"),
            "must exceed 1.1 × `refresh_interval_s` plus `timeout_ms` (a healthy feed would go stale between refreshes)",
        );
    }
    let raw = RawJwks {
        cluster: f.cluster,
        path: f.path,
        authority: f.authority,
        uri: f.uri,
        refresh_interval_s: Some(refresh_interval_s),
        // `Cache-Control: max-age` must not stretch polling past the interval, nor shrink it.
        min_refresh_interval_s: Some(refresh_interval_s),
        timeout_ms: Some(timeout_ms),
        max_stale_s: Some(max_staleness_s),
        // Revocations never trigger an early fetch (an unknown `jti` is simply not revoked).
        kid_refetch_cooldown_s: Some(refresh_interval_s),
        max_body_bytes: Some(f.max_body_bytes.unwrap_or(defaults::REVOCATION_MAX_BODY_BYTES)),
        inline: None,
    };
    remote(field, raw)
}

#[cfg(test)]
#[path = "revocation_tests.rs"]
mod tests;
