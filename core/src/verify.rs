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
    /// Boxed: an RSA key is several times the size of the other variants.
    Rsa {
        alg: Alg,
        key: Box<PKey<Public>>,
        spki: Vec<u8>,
    },
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    Ed25519(ed25519_compact::PublicKey),
    Hmac {
        alg: Alg,
        secret: Vec<u8>,
    },
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
        let spki = checked.public_key().to_der().map_err(|_| WEAK)?;
        let rsa = checked.public_key().as_ref().clone();
        let key = PKey::from_rsa(rsa).map_err(|_| WEAK)?;
        Ok(VerifyKey::Rsa { alg, key: Box::new(key), spki })
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

    /// The key as DER SubjectPublicKeyInfo, for host-native verifiers (RSA and EC).
    pub fn spki_der(&self) -> Option<Vec<u8>> {
        use p256::pkcs8::EncodePublicKey;
        match self {
            VerifyKey::Rsa { spki, .. } => Some(spki.clone()),
            VerifyKey::P256(vk) => vk.to_public_key_der().ok().map(|d| d.as_bytes().to_vec()),
            VerifyKey::P384(vk) => vk.to_public_key_der().ok().map(|d| d.as_bytes().to_vec()),
            VerifyKey::Ed25519(_) | VerifyKey::Hmac { .. } => None,
        }
    }

    /// True iff `signature` is valid for `message` under this key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match self {
            VerifyKey::Rsa { alg, key, .. } => verify_rsa(*alg, key, message, signature),
            VerifyKey::P256(vk) => p256::ecdsa::Signature::try_from(signature)
                .is_ok_and(|sig| p256::ecdsa::signature::Verifier::verify(vk, message, &sig).is_ok()),
            VerifyKey::P384(vk) => p384::ecdsa::Signature::try_from(signature)
                .is_ok_and(|sig| p384::ecdsa::signature::Verifier::verify(vk, message, &sig).is_ok()),
            VerifyKey::Ed25519(pk) => {
                ed25519_compact::Signature::from_slice(signature).is_ok_and(|sig| pk.verify(message, &sig).is_ok())
            }
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

/// A host's own signature verifier, e.g. Envoy's BoringSSL behind the `verify_signature`
/// foreign function. `spki_der` is the key as DER SubjectPublicKeyInfo; ECDSA signatures
/// are passed as JWS has them (raw `R || S`). Returns `None` for what the host cannot
/// verify, and the software verifier takes over.
pub trait NativeVerifier {
    fn verify(&self, alg: Alg, spki_der: &[u8], message: &[u8], signature: &[u8]) -> Option<bool>;
}

/// Raw `R || S` (JWS, RFC 7518 §3.4) → DER `SEQUENCE { INTEGER r, INTEGER s }` (what
/// OpenSSL/BoringSSL verify). `None` if the length is not `2 * size`, or r or s is zero:
/// a zero value is never a valid ECDSA signature (CVE-2022-21449).
pub fn ecdsa_raw_to_der(raw: &[u8], size: usize) -> Option<Vec<u8>> {
    if raw.len() != 2 * size {
        return None;
    }
    let int = |bytes: &[u8]| -> Option<Vec<u8>> {
        let trimmed: &[u8] = match bytes.iter().position(|b| *b != 0) {
            Some(i) => &bytes[i..],
            None => return None,
        };
        let mut out = vec![0x02];
        let pad = trimmed[0] & 0x80 != 0;
        out.push((trimmed.len() + usize::from(pad)) as u8);
        if pad {
            out.push(0);
        }
        out.extend_from_slice(trimmed);
        Some(out)
    };
    let (r, s) = (int(&raw[..size])?, int(&raw[size..])?);
    let body_len = r.len() + s.len();
    let mut der = vec![0x30];
    if body_len >= 0x80 {
        der.push(0x81);
    }
    der.push(body_len as u8);
    der.extend(r);
    der.extend(s);
    Some(der)
}

pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Checks a host-native verifier against the software one on a fixed ES256 signature
/// (deterministic RFC 6979 nonce): it must accept the signature and reject a tampered
/// one. Hosts run this before trusting their verifier; a mismatch means "don't use it".
pub fn native_self_test(native: &dyn NativeVerifier) -> Result<(), String> {
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;
    let secret = [0x42u8; 32];
    let sk = p256::ecdsa::SigningKey::from_slice(&secret).map_err(|e| e.to_string())?;
    let message = b"eyJhbGciOiJFUzI1NiJ9.eyJqd3RnYXRlIjoic2VsZi10ZXN0In0";
    let sig: p256::ecdsa::Signature = sk.sign(message);
    let raw = sig.to_bytes().to_vec();
    let spki = sk.verifying_key().to_public_key_der().map_err(|e| e.to_string())?;
    let mut tampered = raw.clone();
    tampered[10] ^= 1;
    match (
        native.verify(Alg::ES256, spki.as_bytes(), message, &raw),
        native.verify(Alg::ES256, spki.as_bytes(), message, &tampered),
    ) {
        (Some(true), Some(false)) => Ok(()),
        other => Err(format!("native verifier answered {other:?} for (valid, tampered)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_ecdsa_to_der_minimal_integers() {
        let mut raw = vec![0u8; 64];
        raw[31] = 1; // r = 1
        raw[32] = 0x80; // s has its top bit set: needs a 0x00 pad
        let der = ecdsa_raw_to_der(&raw, 32).expect("valid");
        assert_eq!(&der[..5], &[0x30, 3 + 35, 0x02, 0x01, 0x01]);
        assert_eq!(&der[5..8], &[0x02, 33, 0x00]);
        assert_eq!(der.len(), 2 + 3 + 35);
    }

    /// Stands in for a host: verifies with the software path via the SPKI it is handed.
    struct SoftwareAsNative;
    impl NativeVerifier for SoftwareAsNative {
        fn verify(&self, alg: Alg, spki: &[u8], message: &[u8], sig: &[u8]) -> Option<bool> {
            use p256::pkcs8::DecodePublicKey;
            let vk = p256::ecdsa::VerifyingKey::from_public_key_der(spki).ok()?;
            (alg == Alg::ES256).then(|| VerifyKey::P256(vk).verify(message, sig))
        }
    }

    struct AlwaysYes;
    impl NativeVerifier for AlwaysYes {
        fn verify(&self, _: Alg, _: &[u8], _: &[u8], _: &[u8]) -> Option<bool> {
            Some(true)
        }
    }

    #[test]
    fn self_test_accepts_a_correct_verifier_and_rejects_a_lying_one() {
        assert_eq!(native_self_test(&SoftwareAsNative), Ok(()));
        assert!(native_self_test(&AlwaysYes).is_err());
    }

    #[test]
    fn zero_or_misshapen_ecdsa_signatures_have_no_der_form() {
        assert_eq!(ecdsa_raw_to_der(&[0u8; 64], 32), None, "psychic signature (r = s = 0)");
        let mut only_r = vec![0u8; 64];
        only_r[0] = 1;
        assert_eq!(ecdsa_raw_to_der(&only_r, 32), None, "s = 0");
        assert_eq!(ecdsa_raw_to_der(&[1u8; 63], 32), None);
        assert!(ecdsa_raw_to_der(&[0xffu8; 96], 48).is_some());
        assert_eq!(
            ecdsa_raw_to_der(&[0xffu8; 96], 48).map(|d| d[1]),
            Some(2 * (2 + 49)),
            "two padded 48-byte integers"
        );
    }
}
