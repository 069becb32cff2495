//! The Status List of draft-ietf-oauth-status-list: a byte array of `bits`-wide status
//! values (1, 2, 4 or 8 bits each; index 0 in the least significant bits of byte 0),
//! DEFLATE-compressed with the ZLIB format and base64url-encoded as `lst`.
//!
//! This module decodes a `status_list` object and reads one index; `revocation/status.rs`
//! fetches the Status List Token (`typ: statuslist+jwt`) that carries it and checks it.
//!
//! Decompression is `miniz_oxide` (the pure-Rust inflater `flate2` itself uses: no C, no
//! `unsafe` in its inflate path, builds for both wasm targets), with an output limit so
//! a small compressed body cannot expand without bound.

use crate::b64;

/// The status values the draft registers; any other value is not VALID either.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenStatus {
    Valid,
    Invalid,
    Suspended,
    /// Another (application-specific or future) value: refused like INVALID.
    Other(u8),
}

impl TokenStatus {
    fn of(v: u8) -> TokenStatus {
        match v {
            0 => TokenStatus::Valid,
            1 => TokenStatus::Invalid,
            2 => TokenStatus::Suspended,
            other => TokenStatus::Other(other),
        }
    }
}

/// A decoded status list.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    bytes: Vec<u8>,
}

impl StatusList {
    /// Decodes `lst` (base64url of ZLIB-compressed bytes) for `bits` per status, refusing
    /// a list that would decompress to more than `max_bytes`.
    pub fn decode(bits: u64, lst: &str, max_bytes: usize) -> Result<StatusList, String> {
        let bits = match bits {
            1 | 2 | 4 | 8 => bits as u8,
            _ => return Err(format!("`bits` must be 1, 2, 4 or 8, not {bits}")),
        };
        let compressed = b64::decode(lst).ok_or("`lst` is not base64url")?;
        let bytes = miniz_oxide::inflate::decompress_to_vec_zlib_with_limit(&compressed, max_bytes)
            .map_err(|e| format!("`lst` does not inflate within {max_bytes} bytes: {:?}", e.status))?;
        Ok(StatusList { bits, bytes })
    }

    /// How many statuses the list holds.
    pub fn len(&self) -> usize {
        self.bytes.len() * 8 / usize::from(self.bits)
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The status at `idx`; `None` past the end (a token pointing there is refused).
    pub fn status(&self, idx: u64) -> Option<TokenStatus> {
        let bits = u64::from(self.bits);
        let bit = idx.checked_mul(bits)?;
        let byte = *self.bytes.get(usize::try_from(bit / 8).ok()?)?;
        let mask = ((1u16 << bits) - 1) as u8;
        Some(TokenStatus::of((byte >> (bit % 8)) & mask))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// draft-ietf-oauth-status-list, the 1-bit example: bytes `b9 a3`.
    #[test]
    fn the_drafts_one_bit_example() {
        let l = StatusList::decode(1, "eNrbuRgAAhcBXQ", 1024).unwrap();
        let want = [1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1];
        assert_eq!(l.len(), want.len());
        for (i, w) in want.iter().enumerate() {
            assert_eq!(l.status(i as u64), Some(TokenStatus::of(*w)), "index {i}");
        }
        assert_eq!(l.status(16), None);
        assert_eq!(l.status(u64::MAX), None);
    }

    /// The 2-bit example: bytes `c9 44 f9`.
    #[test]
    fn the_drafts_two_bit_example() {
        let l = StatusList::decode(2, "eNo76fITAAPfAgc", 1024).unwrap();
        let want = [1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3];
        assert_eq!(l.len(), want.len());
        for (i, w) in want.iter().enumerate() {
            assert_eq!(l.status(i as u64), Some(TokenStatus::of(*w)), "index {i}");
        }
        assert_eq!(l.status(2), Some(TokenStatus::Valid));
        assert_eq!(l.status(1), Some(TokenStatus::Suspended));
        assert_eq!(l.status(3), Some(TokenStatus::Other(3)));
    }

    #[test]
    fn bad_input_and_bombs_are_refused() {
        assert!(StatusList::decode(3, "eNrbuRgAAhcBXQ", 1024).unwrap_err().contains("bits"));
        assert!(StatusList::decode(1, "not base64!", 1024).unwrap_err().contains("base64url"));
        assert!(StatusList::decode(1, "AAAA", 1024).is_err(), "not zlib");
        // 1 MiB of zeros compresses to about 1 KiB: refused past the limit.
        let bomb = crate::b64::encode(&miniz_oxide::deflate::compress_to_vec_zlib(&vec![0u8; 1 << 20], 9));
        assert!(bomb.len() < 4096);
        assert!(StatusList::decode(1, &bomb, 64 * 1024).unwrap_err().contains("inflate"));
        assert_eq!(StatusList::decode(1, &bomb, 1 << 20).map(|l| l.len()), Ok(8 << 20));
    }
}
