//! API keys: application credentials next to end-user tokens.
//!
//! An API key identifies an *application* (a developer's script, a partner's backend);
//! an access token identifies an *end user*. A provider of kind `api_keys` accepts keys
//! whose SHA-256 digests it holds (inline in the config, or from a feed fetched on the
//! same machine as a JWKS), and turns a matching key into the application's identity:
//! `client`, `scopes` and `metadata`, which the policy reads like token claims and the
//! upstream gets as `x-jwt-` headers.
//!
//! - [`format`]: the key format (`jg_…`, checksum) and its digest line.
//! - [`table`]: digest → application, O(1), constant-time compare.

pub mod format;
pub mod table;

pub use format::{digest_of, digest_text, generate, KeyDigest, NewKey};
pub use table::{App, EntryError, KeyTable, RawKeyEntry, Rejected, Rendering};
