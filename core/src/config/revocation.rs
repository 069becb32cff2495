//! A provider's `revocation` block: inline entries, a feed, and what to do once the
//! feed's list is older than its bound.

use super::defaults;
use super::raw::{RawFeed, RawJwks, RawRevocation};
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
    let on_stale = match r.on_stale.as_deref() {
        None | Some("deny") => OnStale::Deny,
        Some("allow") => OnStale::Allow,
        Some(_) => return err(format!("{field}.on_stale"), "must be \"deny\" or \"allow\""),
    };
    if feed.is_none() && inline.is_empty() {
        return err(field, "give `inline` entries and/or a `feed`");
    }
    if feed.is_none() && r.on_stale.is_some() {
        return err(format!("{field}.on_stale"), "applies only with a `feed`");
    }
    Ok(RevocationConfig { inline, feed, on_stale })
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
