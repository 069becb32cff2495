//! Signature verification of a raw JWS signing input.
//!
//! Keys are built by jwt-simple (`from_components`, `from_bytes`), which applies its key
//! policy: RSA moduli of 2048 to 4096 bits with `e = 65537`, EC points on the curve.
//! Verification then calls the same primitives jwt-simple uses (superboring's pure-Rust
//! RSA, RustCrypto p256/p384, ed25519-compact, hmac-sha2) on `header.payload` bytes, so a
//! token is parsed once, jwtgate's own claim checks are the only ones, and Wycheproof's
//! primitive vectors exercise exactly this function.

use crate::alg::Alg;
use jwt_simple::prelude::*;
use superboring::hash::MessageDigest;
use superboring::pkey::{PKey, Public};
use superboring::rsa::Padding;

/// A verification key prepared for exactly one algorithm.
#[derive(Clone)]
pub enum VerifyKey {
    Rsa { alg: Alg, key: PKey<Public> },
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_compact::PublicKey),
    Hmac { alg: Alg, secret: Vec<u8> },
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
    /// RSA from JWK `n`/`e`, through jwt-simple's key policy.
    pub fn rsa(alg: Alg, n: &[u8], e: &[u8]) -> Result<VerifyKey, &'static str> {
        const WEAK: &str = "RSA key is weaker than 2048 bits or has an unusual exponent";
        if alg.family() != crate::alg::KeyFamily::Rsa {
            return Err("not an RSA algorithm");
        }
        let checked = RS256PublicKey::from_components(n, e).map_err(|_| WEAK)?;
        let rsa = checked.public_key().as_ref().clone();
        let key = PKey::from_rsa(rsa).map_err(|_| WEAK)?;
        Ok(VerifyKey::Rsa { alg, key })
    }

    /// EC from an uncompressed SEC1 point; points off the curve are refused.
    pub fn ec(alg: Alg, sec1: &[u8]) -> Result<VerifyKey, &'static str> {
        const BAD: &str = "EC point is not on the curve";
        match alg {
            Alg::ES256 => p256::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map(VerifyKey::P256).map_err(|_| BAD),
            Alg::ES384 => p384::ecdsa::VerifyingKey::from_sec1_bytes(sec1).map(VerifyKey::P384).map_err(|_| BAD),
            _ => Err("not an EC algorithm"),
        }
    }

    pub fn ed25519(x: &[u8]) -> Result<VerifyKey, &'static str> {
        if x.len() != 32 {
            return Err("Ed25519 key is not 32 bytes");
        }
        let checked = Ed25519PublicKey::from_bytes(x).map_err(|_| "invalid Ed25519 key")?;
        Ok(VerifyKey::Ed25519(*checked.public_key().as_ref()))
    }

    pub fn hmac(alg: Alg, secret: &[u8]) -> Result<VerifyKey, &'static str> {
        if !alg.is_symmetric() {
            return Err("not an HMAC algorithm");
        }
        if secret.len() < min_hmac_len(alg) {
            return Err("HMAC secret is shorter than the hash output");
        }
        Ok(VerifyKey::Hmac { alg, secret: secret.to_vec() })
    }

    /// True iff `signature` is valid for `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyKey::Rsa { alg, key } => verify_rsa(*alg, key, message, signature),
            VerifyKey::P256(vk) => p256::ecdsa::Signature::try_from(signature)
                .is_ok_and(|sig| p256::ecdsa::signature::Verifier::verify(vk, message, &sig).is_ok()),
            VerifyKey::P384(vk) => p384::ecdsa::Signature::try_from(signature)
                .is_ok_and(|sig| p384::ecdsa::signature::Verifier::verify(vk, message, &sig).is_ok()),
            VerifyKey::Ed25519(pk) => ed25519_compact::Signature::from_slice(signature)
                .is_ok_and(|sig| pk.verify(message, &sig).is_ok()),
            VerifyKey::Hmac { alg, secret } => {
                let tag: Vec<u8> = match alg {
                    Alg::HS256 => hmac_sha256::HMAC::mac(message, secret).to_vec(),
                    Alg::HS384 => hmac_sha512::sha384::HMAC::mac(message, secret).to_vec(),
                    _ => hmac_sha512::HMAC::mac(message, secret).to_vec(),
                };
                constant_time_eq(&tag, signature)
            }
        }
    }
}

fn verify_rsa(alg: Alg, key: &PKey<Public>, message: &[u8], signature: &[u8]) -> bool {
    let (digest, padding) = match alg {
        Alg::RS256 => (MessageDigest::sha256(), Padding::PKCS1),
        Alg::RS384 => (MessageDigest::sha384(), Padding::PKCS1),
        Alg::RS512 => (MessageDigest::sha512(), Padding::PKCS1),
        Alg::PS256 => (MessageDigest::sha256(), Padding::PKCS1_PSS),
        Alg::PS384 => (MessageDigest::sha384(), Padding::PKCS1_PSS),
        Alg::PS512 => (MessageDigest::sha512(), Padding::PKCS1_PSS),
        _ => return false,
    };
    let Ok(mut verifier) = superboring::sign::Verifier::new(digest, key) else { return false };
    if verifier.set_rsa_padding(padding).is_err() || verifier.update(message).is_err() {
        return false;
    }
    verifier.verify(signature).unwrap_or(false)
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
