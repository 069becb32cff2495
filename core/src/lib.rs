//! jwtgate-core: the JWT validation core shared by the Envoy proxy-wasm filter and the
//! edge worker. Pure Rust, no I/O: hosts pass request data and the current time in and
//! get a [`Decision`] (and JWKS fetch requests) out.

#![forbid(unsafe_code)]

mod alg;
pub mod apikey;
mod b64;
mod cache;
mod check;
mod claims;
mod config;
mod decide;
mod decision;
mod error;
mod extract;
mod fetched;
mod gate;
mod gate_docs;
mod headers;
pub mod hex;
mod host;
mod introspect;
mod job;
mod json;
mod jwk;
mod path;
mod policy;
mod request;
mod revocation;
mod route;
mod rules;
mod sender;
pub mod session;
pub mod status_list;
mod strip;
#[cfg(test)]
mod test_support;
mod token;
mod trace;
mod verify;

pub use alg::Alg;
pub use config::{
    ApiKeysConfig, Audiences, ConfigError, GateConfig, JwksSource, KeySource, OnStale, ProviderConfig, ProviderKind,
    RemoteJwks, Requirement, RevocationConfig, TokenSource,
};
pub use decision::{Allowed, Decision, Denial};
pub use error::AuthError;
pub use fetched::{
    parse_max_age, DocEvent, DocId, DocKind, FetchEvent, FetchIdentity, FetchMethod, FetchReason, FetchRequest,
    FetchResult, KeyFeedEvent, KeyFeedLoaded, KeySetEvent, KeysLoaded, Validators,
};
pub use gate::{fingerprint, Gate, SharedCall};
pub use host::HostKind;
pub use introspect::share::{SharedLookup, SharedRecord};
pub use job::{KeyRef, Verifier, VerifyJob};
pub use jwk::{parse_jwks, JwksError, JwksOrigin, Key, KeySetDoc};
pub use policy::{Mode, Outcome, Unmet, Verdict};
pub use request::{Connection, RequestView};
pub use revocation::{Change as RevocationChange, RevocationEvent};
pub use sender::nonce::NonceConfig;
pub use sender::replay::{bucket_add, bucket_count, BucketUpdate, Replay, ReplayId, ReplayStore};
pub use sender::{DpopConfig, ForwardedTrust, SenderConstraint};
pub use session::Response;
pub use strip::{canonical as canonical_header_name, StripPolicy};
pub use token::{parse as parse_compact, typ_matches, Header, Unverified};
pub use trace::{Check, Step, Trace};
pub use verify::{ecdsa_raw_to_der, native_self_test, NativeVerifier, VerifyKey};
