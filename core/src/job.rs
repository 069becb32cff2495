//! Which signature verifier a host offers, and the continuation an asynchronous one gets.
//!
//! An asynchronous host (WebCrypto at the edge) cannot answer inside `decide`. The core
//! hands it a [`VerifyJob`]: the signature to check, plus the rest of the request's
//! decision (the request itself, its hold start, and the verdicts it already has).
//! [`crate::Gate::resume`] consumes the job with the host's verdict. No answer waits in
//! shared state, so none can be lost, evicted, or applied to another request.

use crate::alg::Alg;
use crate::cache::TokenDigest;
use crate::request::OwnedRequest;
use crate::verify::NativeVerifier;
use std::fmt;

/// How signatures are checked. The config's `verifier: "software"` overrides the host's
/// offer (see [`crate::Gate::new`]); HMAC and whatever a host declines stay in software.
#[derive(Default)]
pub enum Verifier {
    /// Pure Rust, inside the core.
    #[default]
    Software,
    /// The host's synchronous verifier (Envoy's BoringSSL through `verify_signature`).
    Native(Box<dyn NativeVerifier>),
    /// The host verifies asynchronously: asymmetric signatures come back as
    /// [`crate::Decision::Verify`] jobs.
    Async,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Verifier::Software => "Software",
            Verifier::Native(_) => "Native",
            Verifier::Async => "Async",
        })
    }
}

/// Names one key across requests. Its `Display` form is a stable string a host may key
/// its imported-key cache on.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum KeyRef {
    /// A provider's key by key-set generation and `kid`: a refresh bumps the generation,
    /// so an answer about a replaced key never counts for its successor.
    Provider { provider: usize, generation: u64, kid: Option<String> },
    /// A DPoP proof's own key (from the proof header), by its RFC 7638 thumbprint.
    Proof { jkt: String },
}

impl fmt::Display for KeyRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyRef::Provider { provider, generation, kid } => {
                write!(f, "{provider}:{generation}:{}", kid.as_deref().unwrap_or(""))
            }
            KeyRef::Proof { jkt } => write!(f, "dpop:{jkt}"),
        }
    }
}

/// The host's answer about one token under one key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verdict {
    pub digest: TokenDigest,
    pub key: KeyRef,
    pub valid: bool,
}

/// What the core needs to verify one signature asynchronously (before it is bound to a
/// request): produced by the token check, wrapped into a [`VerifyJob`] by the decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Ask {
    pub digest: TokenDigest,
    pub key: KeyRef,
    pub alg: Alg,
    pub jwk: String,
    pub message: String,
    pub signature: Vec<u8>,
}

/// A signature for the host to check, and the rest of the request's decision. Hand it
/// back with [`crate::Gate::resume`]; it is consumed there, so it answers exactly once
/// and only for its own request.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyJob {
    pub alg: Alg,
    /// The key, for the host's imported-key cache.
    pub key_ref: KeyRef,
    /// The key's public JWK.
    pub jwk: String,
    /// The JWS signing input (`header.payload`).
    pub message: String,
    pub signature: Vec<u8>,
    pub(crate) rest: Continuation,
}

/// The request being decided and what is known about it so far.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Continuation {
    pub request: OwnedRequest,
    pub arrived_ms: u64,
    /// Verdicts already given for this request (all_of rules carry several tokens): kept
    /// until the decision is final.
    pub verdicts: Vec<Verdict>,
    /// The token this job asks about.
    pub digest: TokenDigest,
}

impl VerifyJob {
    pub(crate) fn new(ask: Ask, request: OwnedRequest, arrived_ms: u64, verdicts: Vec<Verdict>) -> VerifyJob {
        VerifyJob {
            alg: ask.alg,
            key_ref: ask.key,
            jwk: ask.jwk,
            message: ask.message,
            signature: ask.signature,
            rest: Continuation { request, arrived_ms, verdicts, digest: ask.digest },
        }
    }

    /// The continuation with the host's verdict for this job added.
    pub(crate) fn answer(self, valid: bool) -> Continuation {
        let mut rest = self.rest;
        rest.verdicts.push(Verdict { digest: rest.digest, key: self.key_ref, valid });
        rest
    }
}

/// Never prints the request (its headers carry the token) or the signing input.
impl fmt::Debug for VerifyJob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyJob")
            .field("alg", &self.alg)
            .field("key_ref", &self.key_ref)
            .field("verdicts", &self.rest.verdicts.len())
            .finish_non_exhaustive()
    }
}

/// The verdict given for `digest` under `key` earlier in this request's decision.
pub(crate) fn verdict_for(verdicts: &[Verdict], digest: &TokenDigest, key: &KeyRef) -> Option<bool> {
    verdicts.iter().find(|v| v.digest == *digest && v.key == *key).map(|v| v.valid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask(digest: u8) -> Ask {
        Ask {
            digest: [digest; 32],
            key: KeyRef::Provider { provider: 1, generation: 2, kid: Some("k".into()) },
            alg: Alg::ES256,
            jwk: "{}".into(),
            message: "h.p".into(),
            signature: vec![1, 2],
        }
    }

    #[test]
    fn key_ref_display_is_stable() {
        let k = KeyRef::Provider { provider: 0, generation: 3, kid: None };
        assert_eq!(k.to_string(), "0:3:");
        assert_eq!(KeyRef::Proof { jkt: "abc".into() }.to_string(), "dpop:abc");
        assert_eq!(ask(0).key.to_string(), "1:2:k");
    }

    #[test]
    fn an_answer_is_recorded_for_its_own_token_and_key_only() {
        let request =
            OwnedRequest { method: "GET".into(), path: "/x".into(), headers: vec![], conn: Default::default() };
        let job = VerifyJob::new(ask(7), request, 5, vec![]);
        let rest = job.answer(true);
        assert_eq!(rest.arrived_ms, 5);
        let key = KeyRef::Provider { provider: 1, generation: 2, kid: Some("k".into()) };
        assert_eq!(verdict_for(&rest.verdicts, &[7; 32], &key), Some(true));
        assert_eq!(verdict_for(&rest.verdicts, &[8; 32], &key), None, "another token");
        let newer = KeyRef::Provider { provider: 1, generation: 3, kid: Some("k".into()) };
        assert_eq!(verdict_for(&rest.verdicts, &[7; 32], &newer), None, "a refreshed key set");
    }

    #[test]
    fn debug_never_shows_the_request() {
        let secret = ("authorization".to_owned(), "Bearer secret-token".to_owned());
        let request =
            OwnedRequest { method: "GET".into(), path: "/x".into(), headers: vec![secret], conn: Default::default() };
        let text = format!("{:?}", VerifyJob::new(ask(1), request, 0, vec![]));
        assert!(!text.contains("secret-token") && !text.contains("h.p"), "{text}");
    }
}
