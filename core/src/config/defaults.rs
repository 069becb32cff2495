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
/// `api_keys` provider `client_header`: the application's name, upstream.
pub const API_KEY_CLIENT_HEADER: &str = "x-jwt-client";
/// The application's scopes, space-separated (the same header as a token's `scope`).
pub const API_KEY_SCOPE_HEADER: &str = "x-jwt-scope";
/// Each metadata member `m` of a key entry is forwarded as `x-jwt-meta-m`.
pub const API_KEY_METADATA_PREFIX: &str = "x-jwt-meta-";
/// A key feed's `refresh_interval_s` and `max_stale_s` when not given: a disabled or
/// removed key stops working within one refresh, and a feed down longer than the
/// bound closes the provider's routes (503).
pub const KEY_FEED_REFRESH_INTERVAL_S: u64 = 60;
pub const KEY_FEED_MAX_STALE_S: u64 = 900;
/// `dpop.algorithms`: proof algorithms accepted (asymmetric only).
pub const DPOP_ALGORITHMS: [&str; 5] = ["ES256", "ES384", "RS256", "PS256", "EdDSA"];
/// `dpop.max_age_s`: how old a proof's `iat` may be; also how long its `jti` is kept.
pub const DPOP_MAX_AGE_S: u64 = 60;
pub const MAX_DPOP_MAX_AGE_S: u64 = 600;
/// `dpop.clock_skew_s`: tolerance for client clocks ahead of or behind the gate.
pub const DPOP_CLOCK_SKEW_S: u64 = 5;
pub const MAX_DPOP_CLOCK_SKEW_S: u64 = 300;
/// `dpop.max_proof_bytes` and its range.
pub const DPOP_MAX_PROOF_BYTES: usize = 4096;
pub const DPOP_PROOF_BYTES_RANGE: std::ops::RangeInclusive<usize> = 256..=16384;
/// `dpop.replay_cache_size`: proofs remembered (per process on Envoy, per isolate at the edge).
pub const DPOP_REPLAY_CACHE_SIZE: usize = 65_536;
pub const DPOP_REPLAY_CACHE_RANGE: std::ops::RangeInclusive<usize> = 8..=1_048_576;
/// `dpop_nonce.window_s` and its range; `dpop_nonce.key` needs at least this many bytes.
pub const DPOP_NONCE_WINDOW_S: u64 = 300;
pub const DPOP_NONCE_WINDOW_RANGE_S: std::ops::RangeInclusive<u64> = 10..=86_400;
pub const DPOP_NONCE_MIN_KEY_BYTES: usize = 32;
/// Provider `introspection.timeout_ms` (below the default `startup_hold_ms`, which also
/// bounds how long a request waits for its introspection answer).
pub const INTROSPECTION_TIMEOUT_MS: u64 = 2000;
/// Provider `introspection.max_ttl_s`: longest reuse of an `active: true` answer.
pub const INTROSPECTION_MAX_TTL_S: u64 = 60;
/// Upper bound of `max_ttl_s` and `stale_if_error_s`.
pub const INTROSPECTION_TTL_CAP_S: u64 = 3600;
/// Provider `introspection.negative_ttl_s`: reuse of `active: false`.
pub const INTROSPECTION_NEGATIVE_TTL_S: u64 = 5;
/// Provider `introspection.max_body_bytes`: an introspection answer is a small object.
pub const INTROSPECTION_MAX_BODY_BYTES: usize = 16 * 1024;
/// Provider `introspection.cache_size`: answers remembered per VM/isolate.
pub const INTROSPECTION_CACHE_SIZE: usize = 4096;
/// Provider `introspection.shared_cache_size`: answer slots in Envoy's shared data, so
/// one VM's answer serves the others (bench/README.md measures it). 0 turns it off.
pub const INTROSPECTION_SHARED_CACHE_SIZE: usize = 1024;
pub const MAX_INTROSPECTION_SHARED_CACHE_SIZE: usize = 65_536;
/// How long a failed introspection (timeout, 5xx) answers 503 before the next call.
pub const INTROSPECTION_RETRY_MS: u64 = 1000;
/// Revocation `status_list`: body size, lists per provider (and its cap), and the
/// largest decompressed list (8 Mi statuses of 1 bit).
pub const STATUS_LIST_MAX_BODY_BYTES: usize = 1024 * 1024;
pub const STATUS_LIST_MAX_LISTS: usize = 8;
pub const STATUS_LIST_MAX_LISTS_CAP: usize = 256;
pub const STATUS_LIST_MAX_STATUS_BYTES: usize = 1024 * 1024;
