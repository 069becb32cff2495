//! Envoy's BoringSSL as jwtgate's signature verifier, through the `verify_signature`
//! foreign function (`source/extensions/common/wasm/ext/verify_signature.proto`).
//!
//! Pure-Rust RSA inside a wasm VM costs milliseconds per token; BoringSSL, tens of
//! microseconds. The foreign function verifies with `EVP_DigestVerify` and default
//! padding, so it covers RS256/384/512 (PKCS#1 v1.5) and ES256/384 (DER signatures);
//! PS*, EdDSA and HMAC stay with the software verifier. Hosts without the function
//! (other proxy-wasm hosts, older Envoys) are detected at start and also fall back.

use jwtgate_core::{ecdsa_raw_to_der, Alg, NativeVerifier};
use proxy_wasm::hostcalls;
use proxy_wasm::types::Status;
use std::borrow::Cow;

const FUNCTION: &str = "verify_signature";

pub struct EnvoyVerifier;

impl EnvoyVerifier {
    /// `Some` when the host registers the foreign function (an empty argument list is a
    /// bad argument to it, while an absent function is `NotFound`).
    pub fn detect() -> Option<EnvoyVerifier> {
        match hostcalls::call_foreign_function(FUNCTION, Some(&[])) {
            Err(Status::NotFound) => None,
            _ => Some(EnvoyVerifier),
        }
    }
}

impl NativeVerifier for EnvoyVerifier {
    fn verify(&self, alg: Alg, spki_der: &[u8], message: &[u8], signature: &[u8]) -> Option<bool> {
        let (hash, sig): (&str, Cow<[u8]>) = match alg {
            Alg::RS256 => ("sha256", Cow::Borrowed(signature)),
            Alg::RS384 => ("sha384", Cow::Borrowed(signature)),
            Alg::RS512 => ("sha512", Cow::Borrowed(signature)),
            Alg::ES256 | Alg::ES384 => {
                let (hash, size) = if alg == Alg::ES256 { ("sha256", 32) } else { ("sha384", 48) };
                match ecdsa_raw_to_der(signature, size) {
                    Some(der) => (hash, Cow::Owned(der)),
                    None => return Some(false),
                }
            }
            _ => return None,
        };
        let args = encode_arguments(hash, spki_der, &sig, message);
        match hostcalls::call_foreign_function(FUNCTION, Some(&args)) {
            Ok(Some(out)) => Some(decode_result(&out)),
            Ok(None) => Some(false),
            Err(_) => None,
        }
    }
}

/// `VerifySignatureArguments { hash_function = 1, public_key = 2, signature = 3, text = 4 }`.
fn encode_arguments(hash: &str, key: &[u8], signature: &[u8], text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(hash.len() + key.len() + signature.len() + text.len() + 24);
    for (field, bytes) in [(1u8, hash.as_bytes()), (2, key), (3, signature), (4, text)] {
        out.push(field << 3 | 2);
        put_varint(&mut out, bytes.len() as u64);
        out.extend_from_slice(bytes);
    }
    out
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// `VerifySignatureResult { bool result = 1; string error = 2; }`: true only when field 1
/// is present and non-zero. Anything unparseable reads as "not verified".
fn decode_result(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    let mut result = false;
    while let Some((&tag, tail)) = rest.split_first() {
        let Some((value, n)) = varint(tail) else { return false };
        let after = tail.get(n..).unwrap_or_default();
        rest = match (tag >> 3, tag & 7) {
            (1, 0) => {
                result = value != 0;
                after
            }
            (_, 2) => usize::try_from(value).ok().and_then(|len| after.get(len..)).unwrap_or_default(),
            (_, 0) => after,
            _ => return false,
        };
    }
    result
}

fn varint(bytes: &[u8]) -> Option<(u64, usize)> {
    let mut v = 0u64;
    for (i, b) in bytes.iter().enumerate().take(10) {
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Some((v, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_length_delimited_fields_in_order() {
        let a = encode_arguments("sha256", &[9; 200], &[7], b"hi");
        assert_eq!(&a[..8], b"\x0a\x06sha256");
        assert_eq!(&a[8..11], &[0x12, 0xc8, 0x01], "200 as a two-byte varint");
        let tail = &a[11 + 200..];
        assert_eq!(tail, b"\x1a\x01\x07\x22\x02hi");
    }

    #[test]
    fn result_is_true_only_for_a_set_result_field() {
        assert!(decode_result(&[0x08, 0x01]));
        assert!(decode_result(&[0x08, 0x01, 0x12, 0x00]));
        assert!(!decode_result(&[0x08, 0x00, 0x12, 0x03, b'b', b'a', b'd']));
        assert!(!decode_result(&[]));
        assert!(!decode_result(&[0x12, 0x05, b'x']), "truncated: no result field");
        assert!(!decode_result(&[0x0d]), "unsupported wire type");
    }
}
