//! The API-key format: `jg_` + base64url(32 random bytes ‖ 4-byte checksum), 51 ASCII
//! characters, and the `sha256:<hex>` digest line the config and the feed hold.
//!
//! - 256 bits of entropy: a key cannot be guessed, so a plain SHA-256 (no salt, no slow
//!   hash) is a safe store for it, and looking the digest up in a hash table leaks
//!   nothing useful (an attacker would need a preimage of a stored digest).
//! - The checksum catches a mistyped or truncated key before any lookup, and lets the
//!   gate refuse random junk without touching the table (and secret scanners can tell a
//!   real key from a look-alike).
//! - The prefix names the project, so leaked keys are easy to find and attribute.
//!
//! Generation takes the random bytes as an argument: the core stays free of I/O, and
//! `jwtgate apikey new` (the CLI, `make apikey`) feeds it from the OS CSPRNG.

use sha2::{Digest, Sha256};
use std::fmt;

/// What every key starts with.
pub const PREFIX: &str = "jg_";
/// Random bytes in a key.
pub const ENTROPY_BYTES: usize = 32;
const CHECKSUM_BYTES: usize = 4;
/// Domain separation: the checksum is never the first bytes of the stored digest.
const CHECKSUM_CONTEXT: &[u8] = b"jwtgate-apikey-checksum-v1";
/// The length of a well-formed key: the prefix and 36 bytes in unpadded base64url.
pub const KEY_LEN: usize = PREFIX.len() + (ENTROPY_BYTES + CHECKSUM_BYTES).div_ceil(3) * 4;

/// The SHA-256 of a presented key: what tables are keyed on.
pub type KeyDigest = [u8; 32];

/// A fresh key and the line that goes into the config or the feed.
pub struct NewKey {
    /// Shown once to whoever gets the key; never stored by the gate.
    pub key: String,
    pub digest: KeyDigest,
}

impl NewKey {
    /// `sha256:<hex>`, the `digest` member of a key entry.
    pub fn digest_line(&self) -> String {
        digest_text(&self.digest)
    }
}

/// Never prints the key itself.
impl fmt::Debug for NewKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "NewKey({})", self.digest_line())
    }
}

/// A key from `entropy` (which must come from a CSPRNG).
pub fn generate(entropy: [u8; ENTROPY_BYTES]) -> NewKey {
    let mut raw = entropy.to_vec();
    raw.extend_from_slice(&checksum(&entropy));
    let key = format!("{PREFIX}{}", crate::b64::encode(&raw));
    let digest = Sha256::digest(key.as_bytes()).into();
    NewKey { key, digest }
}

/// The digest of a presented key, if it is well formed (prefix, length, base64url,
/// checksum). A malformed key is refused here, before any table is consulted.
pub fn digest_of(presented: &str) -> Option<KeyDigest> {
    if presented.len() != KEY_LEN {
        return None;
    }
    let body = presented.strip_prefix(PREFIX)?;
    let raw = crate::b64::decode(body)?;
    let (entropy, sum) = raw.split_at_checked(ENTROPY_BYTES)?;
    if sum != checksum(entropy) {
        return None;
    }
    Some(Sha256::digest(presented.as_bytes()).into())
}

fn checksum(entropy: &[u8]) -> [u8; CHECKSUM_BYTES] {
    let mut h = Sha256::new();
    h.update(CHECKSUM_CONTEXT);
    h.update(entropy);
    let full = h.finalize();
    let mut out = [0u8; CHECKSUM_BYTES];
    out.copy_from_slice(&full[..CHECKSUM_BYTES]);
    out
}

/// `sha256:<64 lower-case hex digits>`.
pub fn digest_text(d: &KeyDigest) -> String {
    format!("sha256:{}", crate::hex::encode(d))
}

/// Parses a `sha256:<hex>` digest line (hex in either case).
pub fn parse_digest(text: &str) -> Option<KeyDigest> {
    let hex = text.strip_prefix("sha256:")?;
    if hex.len() != 64 {
        return None;
    }
    crate::hex::decode(hex)?.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_generated_key_is_well_formed_and_hashes_to_its_digest_line() {
        let k = generate([7; 32]);
        assert_eq!(k.key.len(), KEY_LEN);
        assert_eq!(KEY_LEN, 51);
        assert!(k.key.starts_with("jg_"));
        assert!(k.key[3..].bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        assert_eq!(digest_of(&k.key), Some(k.digest));
        assert_eq!(parse_digest(&k.digest_line()), Some(k.digest));
        let expected: KeyDigest = Sha256::digest(k.key.as_bytes()).into();
        assert_eq!(k.digest, expected, "the digest is the SHA-256 of the whole key text");
    }

    /// Pins the format: tests/keyfeed/apikey.mjs makes the same key from the same bytes.
    #[test]
    fn known_answer_shared_with_the_javascript_generator() {
        let k = generate([7; 32]);
        assert_eq!(k.key, "jg_BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcxKLid");
        assert_eq!(k.digest_line(), "sha256:68c22135b5b691409728f779c64ae5e3db45330084a81ddc50538f15054d1b20");
    }

    #[test]
    fn every_single_character_typo_is_caught_by_the_checksum() {
        let k = generate([42; 32]);
        let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        for i in PREFIX.len()..k.key.len() {
            for c in alphabet {
                let mut typo = k.key.clone().into_bytes();
                if typo[i] == *c {
                    continue;
                }
                typo[i] = *c;
                let typo = String::from_utf8(typo).expect("ascii");
                assert_eq!(digest_of(&typo), None, "typo at {i} accepted");
            }
        }
    }

    #[test]
    fn wrong_prefix_length_or_alphabet_is_refused() {
        let k = generate([1; 32]);
        assert_eq!(digest_of(&k.key.replacen("jg_", "jx_", 1)), None);
        assert_eq!(digest_of(&k.key[..50]), None);
        assert_eq!(digest_of(&format!("{}A", k.key)), None);
        assert_eq!(digest_of(&k.key.replacen('_', "/", 2)), None);
        assert_eq!(digest_of(""), None);
        assert_eq!(digest_of(&"é".repeat(25)), None, "non-ASCII of the right byte length");
    }

    #[test]
    fn digest_lines_are_strict() {
        let d = [0xab; 32];
        assert_eq!(parse_digest(&digest_text(&d)), Some(d));
        assert_eq!(parse_digest(&digest_text(&d).to_uppercase().replace("SHA256", "sha256")), Some(d));
        assert_eq!(parse_digest(&"ab".repeat(32)), None, "no algorithm label");
        assert_eq!(parse_digest(&format!("sha512:{}", "ab".repeat(32))), None);
        assert_eq!(parse_digest(&format!("sha256:{}", "ab".repeat(31))), None);
        assert_eq!(parse_digest(&format!("sha256:{}", "zz".repeat(32))), None);
    }

    #[test]
    fn debug_never_shows_the_key() {
        let k = generate([9; 32]);
        assert!(!format!("{k:?}").contains(&k.key[3..]));
    }
}
