//! Sender-constrained tokens: DPoP (RFC 9449 §7, the resource-server side) and
//! certificate-bound tokens (RFC 8705 §3). A stolen bound token is useless without the
//! client's private key (DPoP) or its TLS client certificate (mTLS).
//!
//! The check runs after the token itself is verified and before authorization. The
//! proof's signature goes through the same verifier as tokens (software, Envoy's
//! `verify_signature`, or an asynchronous [`crate::VerifyJob`] for WebCrypto), and its
//! `jti` is recorded only once the whole decision is an allow (see `decide.rs`).

pub mod htu;
pub mod nonce;
pub mod proof;
pub mod replay;

use crate::alg::Alg;
use crate::cache::Confirmation;
use crate::check::{signature, Signature};
use crate::error::AuthError;
use crate::extract::Found;
use crate::job::{Ask, KeyRef, Verdict, Verifier};
use crate::request::RequestView;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nonce::NonceConfig;
use replay::ReplayId;
use sha2::{Digest, Sha256};

/// `sender_constraint` of a provider or rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SenderConstraint {
    /// Bearer tokens; a DPoP-bound token is still refused with the `Bearer` scheme.
    #[default]
    None,
    /// A DPoP proof is checked when the `DPoP` scheme is used; bearer tokens pass.
    DpopOptional,
    /// Only DPoP-bound tokens with a valid proof.
    DpopRequired,
    /// Only certificate-bound tokens presented over the bound TLS client certificate.
    Mtls,
    /// Either of the two above.
    DpopOrMtls,
}

impl SenderConstraint {
    pub fn parse(s: &str) -> Option<SenderConstraint> {
        Some(match s {
            "none" => SenderConstraint::None,
            "dpop_optional" => SenderConstraint::DpopOptional,
            "dpop_required" => SenderConstraint::DpopRequired,
            "mtls" => SenderConstraint::Mtls,
            "dpop_or_mtls" => SenderConstraint::DpopOrMtls,
            _ => return None,
        })
    }

    /// Whether the `DPoP` authorization scheme is read at all.
    pub fn accepts_dpop(self) -> bool {
        matches!(self, SenderConstraint::DpopOptional | SenderConstraint::DpopRequired | SenderConstraint::DpopOrMtls)
    }
}

/// Which `X-Forwarded-*` headers the gate may build the request URI from (only when a
/// trusted proxy in front sets them, e.g. a TLS terminator that forwards plain HTTP).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ForwardedTrust {
    pub proto: bool,
    pub host: bool,
}

/// The top-level `dpop` (and `dpop_nonce`) settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DpopConfig {
    /// Proof algorithms accepted (asymmetric only); also the challenge's `algs`.
    pub algorithms: Vec<Alg>,
    pub max_age_s: u64,
    pub clock_skew_s: u64,
    pub max_proof_bytes: usize,
    pub replay_cache_size: usize,
    pub trust_forwarded: ForwardedTrust,
    pub nonce: Option<NonceConfig>,
}

impl DpopConfig {
    /// `algs="ES256 RS256 …"` of the `DPoP` challenge.
    pub fn algs_param(&self) -> String {
        self.algorithms.iter().map(|a| a.name()).collect::<Vec<_>>().join(" ")
    }
}

/// A proof that passed every check but replay: its id is recorded if the decision
/// ends in an allow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pending {
    pub id: ReplayId,
    pub expires_ms: u64,
}

/// The outcome of the binding check.
pub enum Bound {
    /// Bound (or not required); `Some` when a DPoP proof was accepted.
    Ok(Option<Pending>),
    /// The asynchronous host must check the proof's signature first.
    Ask(Ask),
    Err(AuthError),
}

/// What the binding check reads: config, verifier, time, and the verdicts so far.
pub(crate) struct Binder<'a> {
    pub dpop: &'a DpopConfig,
    pub verifier: &'a Verifier,
    pub now_ms: u64,
    pub verdicts: &'a [Verdict],
}

impl Binder<'_> {
    /// Checks that `found` (a verified token with confirmation `cnf`) is presented by
    /// its holder, as `constraint` requires.
    pub fn bind(
        &self,
        constraint: SenderConstraint,
        req: &RequestView<'_>,
        found: &Found<'_>,
        cnf: &Confirmation,
    ) -> Bound {
        let dpop_scheme = found.source.is_dpop_scheme();
        // RFC 9449 §7.2: no downgrade of a DPoP-bound token to a bearer token.
        if !dpop_scheme && cnf.jkt.is_some() {
            return Bound::Err(AuthError::NotBound("a DPoP-bound token must be sent with the DPoP scheme"));
        }
        match (constraint, dpop_scheme) {
            (_, true) => self.dpop(req, found.token, cnf),
            (SenderConstraint::None | SenderConstraint::DpopOptional, false) => Bound::Ok(None),
            (SenderConstraint::DpopRequired, false) => {
                Bound::Err(AuthError::NotBound("this route needs a DPoP-bound token and proof"))
            }
            (SenderConstraint::Mtls | SenderConstraint::DpopOrMtls, false) => match mtls(req, cnf) {
                Ok(()) => Bound::Ok(None),
                Err(e) => Bound::Err(e),
            },
        }
    }

    fn dpop(&self, req: &RequestView<'_>, token: &str, cnf: &Confirmation) -> Bound {
        let Some(jkt) = &cnf.jkt else {
            return Bound::Err(AuthError::NotBound("the token sent with the DPoP scheme is not DPoP-bound"));
        };
        let mut proofs = req.headers("dpop");
        let raw = match (proofs.next(), proofs.next()) {
            (None, _) => return Bound::Err(AuthError::InvalidDpopProof("the DPoP proof is missing")),
            (Some(_), Some(_)) => return Bound::Err(AuthError::InvalidDpopProof("more than one DPoP header")),
            (Some(raw), None) => raw.trim_matches([' ', '\t']),
        };
        let proof = match proof::parse(raw, &self.dpop.algorithms, self.dpop.max_proof_bytes) {
            Ok(p) => p,
            Err(e) => return Bound::Err(e),
        };
        let Some(uri) = request_uri(req, self.dpop.trust_forwarded) else {
            return Bound::Err(AuthError::InvalidDpopProof("the request URI cannot be determined"));
        };
        let want = proof::Expected {
            method: req.method,
            htu: &uri,
            token,
            now_s: self.now_ms / 1000,
            max_age_s: self.dpop.max_age_s,
            skew_s: self.dpop.clock_skew_s,
        };
        if let Err(e) = proof.check_claims(&want) {
            return Bound::Err(e);
        }
        if let Some(n) = &self.dpop.nonce {
            if !proof.nonce().is_some_and(|v| n.accepts(v, self.now_ms)) {
                return Bound::Err(AuthError::UseDpopNonce);
            }
        }
        if proof.jkt != *jkt {
            return Bound::Err(AuthError::NotBound(
                "the DPoP proof is signed by another key than the token is bound to",
            ));
        }
        let digest: [u8; 32] = Sha256::digest(raw.as_bytes()).into();
        let key_ref = KeyRef::Proof { jkt: proof.jkt.clone() };
        let sig = (proof.signing_input, proof.signature.as_slice());
        match signature(self.verifier, &proof.key, key_ref, proof.alg, sig, &digest, self.verdicts) {
            Signature::Valid => {}
            Signature::Ask(ask) => return Bound::Ask(ask),
            Signature::Invalid | Signature::WrongKey => {
                return Bound::Err(AuthError::InvalidDpopProof("the proof signature is invalid"))
            }
        }
        let window_s = self.dpop.max_age_s + 2 * self.dpop.clock_skew_s;
        let expires_ms = proof.iat().unwrap_or(0).saturating_add(window_s).saturating_add(1).saturating_mul(1000);
        Bound::Ok(Some(Pending { id: ReplayId::new(&proof.jkt, proof.jti().unwrap_or("")), expires_ms }))
    }
}

/// RFC 8705 §3: `cnf.x5t#S256` is the base64url SHA-256 of the client certificate (DER)
/// the request came over.
fn mtls(req: &RequestView<'_>, cnf: &Confirmation) -> Result<(), AuthError> {
    let Some(bound) = &cnf.x5t_s256 else {
        return Err(AuthError::NotBound("the token is not bound to a client certificate"));
    };
    let Some(cert) = req.conn.client_cert_sha256 else {
        return Err(AuthError::CertificateMismatch("no client certificate was presented"));
    };
    match URL_SAFE_NO_PAD.encode(cert) == *bound {
        true => Ok(()),
        false => Err(AuthError::CertificateMismatch("the client certificate is not the one the token is bound to")),
    }
}

/// The request's URI for `htu`: scheme and authority as the host saw them, unless the
/// config trusts a proxy's `X-Forwarded-Proto` / `X-Forwarded-Host` (one value each).
pub fn request_uri(req: &RequestView<'_>, trust: ForwardedTrust) -> Option<String> {
    let single = |name: &str| {
        let mut v = req.headers(name);
        match (v.next(), v.next()) {
            (Some(x), None) if !x.contains(',') => Some(x.trim()),
            _ => None,
        }
    };
    let scheme = match trust.proto {
        true => single("x-forwarded-proto")?,
        false => req.conn.scheme.or_else(|| single(":scheme"))?,
    };
    let authority = match trust.host {
        true => single("x-forwarded-host")?,
        false => {
            // The port matters to `htu`: the raw value, once the host is unambiguous.
            crate::route::authority(req).ok()??;
            req.headers(":authority").chain(req.headers("host")).next()?.trim()
        }
    };
    htu::of_request(scheme, authority, req.path)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
