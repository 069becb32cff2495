//! Strict base64url (RFC 7515 §2): no padding, no whitespace, no non-canonical trailing bits.
//!
//! Lenient decoders let two different strings decode to the same bytes; a gate that
//! caches or logs by token text must not.

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine;

const STRICT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(false),
);

/// Decodes base64url without padding; `None` on any deviation.
pub fn decode(s: &str) -> Option<Vec<u8>> {
    STRICT.decode(s).ok()
}

/// Encodes base64url without padding (test fixtures, API keys, client assertions).
pub fn encode(bytes: &[u8]) -> String {
    STRICT.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_canonical_unpadded() {
        assert_eq!(decode("eyJhIjoxfQ").as_deref(), Some(&br#"{"a":1}"#[..]));
        assert_eq!(decode(""), Some(vec![]));
    }

    #[test]
    fn rejects_padding_standard_alphabet_whitespace_and_trailing_bits() {
        assert_eq!(decode("eyJhIjoxfQ=="), None);
        assert_eq!(decode("a+b/"), None);
        assert_eq!(decode("eyJh Ijox"), None);
        // "QR" has non-zero trailing bits; the canonical form of b"A" is "QQ".
        assert_eq!(decode("QR"), None);
        assert_eq!(decode("QQ").as_deref(), Some(&b"A"[..]));
    }

    #[test]
    fn round_trips() {
        let bytes: Vec<u8> = (0u8..=255).collect();
        assert_eq!(decode(&encode(&bytes)), Some(bytes));
    }
}
