//! Signature verification through jwt-simple (pure Rust, so it builds for wasm32).
//!
//! jwt-simple verifies a whole token and then some claims. jwtgate checks claims itself
//! (jwt-simple makes `exp` optional and defaults to 900 s of skew), so the options below
//! neutralise jwt-simple's time checks: its only job here is the signature.

use crate::alg::Alg;
use jwt_simple::prelude::*;
use jwt_simple::JWTError;

/// A verification key prepared for exactly one algorithm.
#[derive(Clone)]
pub enum VerifyKey {
    RS256(RS256PublicKey),
    RS384(RS384PublicKey),
    RS512(RS512PublicKey),
    PS256(PS256PublicKey),
    PS384(PS384PublicKey),
    PS512(PS512PublicKey),
    ES256(ES256PublicKey),
    ES384(ES384PublicKey),
    EdDSA(Ed25519PublicKey),
    HS256(HS256Key),
    HS384(HS384Key),
    HS512(HS512Key),
}

/// Smallest HMAC secret accepted: the hash output size (RFC 7518 §3.2).
fn min_hmac_len(alg: Alg) -> usize {
    match alg {
        Alg::HS384 => 48,
        Alg::HS512 => 64,
        _ => 32,
    }
}

impl VerifyKey {
    /// RSA from JWK `n`/`e`. jwt-simple refuses moduli under 2048 bits and any `e`
    /// other than 65537, which is the policy we want.
    pub fn rsa(alg: Alg, n: &[u8], e: &[u8]) -> Result<VerifyKey, &'static str> {
        const WEAK: &str = "RSA key is weaker than 2048 bits or has an unusual exponent";
        let k = match alg {
            Alg::RS256 => VerifyKey::RS256(RS256PublicKey::from_components(n, e).map_err(|_| WEAK)?),
            Alg::RS384 => VerifyKey::RS384(RS384PublicKey::from_components(n, e).map_err(|_| WEAK)?),
            Alg::RS512 => VerifyKey::RS512(RS512PublicKey::from_components(n, e).map_err(|_| WEAK)?),
            Alg::PS256 => VerifyKey::PS256(PS256PublicKey::from_components(n, e).map_err(|_| WEAK)?),
            Alg::PS384 => VerifyKey::PS384(PS384PublicKey::from_components(n, e).map_err(|_| WEAK)?),
            Alg::PS512 => VerifyKey::PS512(PS512PublicKey::from_components(n, e).map_err(|_| WEAK)?),
            _ => return Err("not an RSA algorithm"),
        };
        Ok(k)
    }

    /// EC from an uncompressed SEC1 point; the curve library rejects points off the curve.
    pub fn ec(alg: Alg, sec1: &[u8]) -> Result<VerifyKey, &'static str> {
        const BAD: &str = "EC point is not on the curve";
        match alg {
            Alg::ES256 => Ok(VerifyKey::ES256(ES256PublicKey::from_bytes(sec1).map_err(|_| BAD)?)),
            Alg::ES384 => Ok(VerifyKey::ES384(ES384PublicKey::from_bytes(sec1).map_err(|_| BAD)?)),
            _ => Err("not an EC algorithm"),
        }
    }

    pub fn ed25519(x: &[u8]) -> Result<VerifyKey, &'static str> {
        if x.len() != 32 {
            return Err("Ed25519 key is not 32 bytes");
        }
        Ed25519PublicKey::from_bytes(x).map(VerifyKey::EdDSA).map_err(|_| "invalid Ed25519 key")
    }

    pub fn hmac(alg: Alg, secret: &[u8]) -> Result<VerifyKey, &'static str> {
        if secret.len() < min_hmac_len(alg) {
            return Err("HMAC secret is shorter than the hash output");
        }
        match alg {
            Alg::HS256 => Ok(VerifyKey::HS256(HS256Key::from_bytes(secret))),
            Alg::HS384 => Ok(VerifyKey::HS384(HS384Key::from_bytes(secret))),
            Alg::HS512 => Ok(VerifyKey::HS512(HS512Key::from_bytes(secret))),
            _ => Err("not an HMAC algorithm"),
        }
    }

    /// Verifies the signature of a compact token whose `alg` is this key's algorithm.
    pub fn verify(&self, token: &str) -> Result<(), SignatureError> {
        let o = Some(signature_only_options());
        let r = match self {
            VerifyKey::RS256(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::RS384(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::RS512(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::PS256(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::PS384(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::PS512(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::ES256(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::ES384(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::EdDSA(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::HS256(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::HS384(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
            VerifyKey::HS512(k) => k.verify_token::<NoCustomClaims>(token, o).map(drop),
        };
        r.map_err(|e| match e.downcast_ref::<JWTError>() {
            // HMAC tags fail as `InvalidAuthenticationTag`, signatures as `InvalidSignature`.
            Some(JWTError::InvalidSignature | JWTError::InvalidAuthenticationTag) => SignatureError::Invalid,
            _ => SignatureError::Rejected,
        })
    }
}

/// Why jwt-simple refused a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureError {
    /// The signature does not verify.
    Invalid,
    /// jwt-simple refused the token for another reason (e.g. claims it cannot decode).
    Rejected,
}

/// Pins jwt-simple's clock to 0 with no tolerance and future tokens accepted, so that
/// none of its own time checks can fire: jwtgate's claims module decides on time.
fn signature_only_options() -> VerificationOptions {
    VerificationOptions {
        accept_future: true,
        time_tolerance: Some(Duration::from_secs(0)),
        artificial_time: Some(UnixTimeStamp::from_secs(0)),
        max_token_length: None,
        max_header_length: Some(64 * 1024),
        ..Default::default()
    }
}
