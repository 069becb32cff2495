//! Every default and bound of the config, named once, next to what it means.
//! `docs/config.md` documents the same values; the config tests pin them.

/// `realm`: the `realm` of `WWW-Authenticate`.
pub const REALM: &str = "jwtgate";
/// Headers the gate writes for every provider, whatever the config says.
pub const CLAIM_HEADERS: [(&str, &str); 3] = [("sub", "x-jwt-sub"), ("iss", "x-jwt-iss"), ("scope", "x-jwt-scope")];
/// `strip_method_override_headers`.
pub const STRIP_METHOD_OVERRIDE_HEADERS: bool = true;
/// `startup_hold_ms` and its upper bound: how long a request may wait for keys.
pub const STARTUP_HOLD_MS: u64 = 3000;
pub const MAX_STARTUP_HOLD_MS: u64 = 60_000;
/// `token_cache_size` and its upper bound (verified tokens remembered per VM/isolate).
pub const TOKEN_CACHE_SIZE: usize = 4096;
pub const MAX_TOKEN_CACHE_SIZE: usize = 100_000;

/// Provider `max_token_bytes` and its allowed range.
pub const MAX_TOKEN_BYTES: usize = 8192;
pub const TOKEN_BYTES_RANGE: std::ops::RangeInclusive<usize> = 64..=65536;
/// Provider `max_lifetime_s`: longest `exp - iat` accepted.
pub const MAX_LIFETIME_S: u64 = 86_400;
/// Provider `clock_skew_s` and the cap applied to larger values.
pub const CLOCK_SKEW_S: u64 = 60;
pub const MAX_CLOCK_SKEW_S: u64 = 3600;

/// Remote `jwks` refresh interval, and the floor for `Cache-Control: max-age`.
pub const REFRESH_INTERVAL_S: u64 = 300;
pub const MIN_REFRESH_INTERVAL_S: u64 = 30;
/// Remote `jwks.timeout_ms` and its allowed range.
pub const FETCH_TIMEOUT_MS: u64 = 2000;
pub const FETCH_TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 1..=60_000;
/// Remote `jwks.max_stale_s`: how long the last good keys serve through IdP failures.
pub const MAX_STALE_S: u64 = 86_400;
/// Remote `jwks.kid_refetch_cooldown_s`: at most one unknown-kid refetch per this long.
pub const KID_REFETCH_COOLDOWN_S: u64 = 30;
/// Remote `jwks.max_body_bytes` and its floor.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
pub const MIN_MAX_BODY_BYTES: usize = 1024;

/// Revocation `feed.refresh_interval_s`: how often the list is polled.
pub const REVOCATION_REFRESH_INTERVAL_S: u64 = 15;
/// Revocation `feed.max_staleness_s` and its upper bound: a revocation is enforced
/// within this long of its publication, or the provider's routes answer 503.
pub const REVOCATION_MAX_STALENESS_S: u64 = 60;
pub const REVOCATION_MAX_STALENESS_CAP_S: u64 = 86_400;
/// Revocation `feed.max_body_bytes` (a full list of 100,000 entries is about 6 MiB).
pub const REVOCATION_MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Revocation `status_list`: body size, lists per provider (and its cap), and the
/// largest decompressed list (8 Mi statuses of 1 bit).
pub const STATUS_LIST_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const STATUS_LIST_MAX_LISTS: usize = 8;
pub const STATUS_LIST_MAX_LISTS_CAP: usize = 256;
pub const STATUS_LIST_MAX_STATUS_BYTES: usize = 1024 * 1024;
