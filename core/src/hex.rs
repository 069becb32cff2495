//! Hex digits, in one place: log fingerprints, `%XX` escapes in paths and query names,
//! and the test vectors' byte strings.

/// Lower-case hex of `bytes`.
pub fn encode(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// The byte two hex digits (either case) spell, e.g. the `2F` of `%2F`.
pub fn byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [hi, lo] => Some(nibble(*hi)? << 4 | nibble(*lo)?),
        _ => None,
    }
}

/// A whole hex string (even length, either case) as bytes.
pub fn decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return None;
    }
    bytes.chunks(2).map(byte).collect()
}

fn nibble(d: u8) -> Option<u8> {
    match d {
        b'0'..=b'9' => Some(d - b'0'),
        b'a'..=b'f' => Some(d - b'a' + 10),
        b'A'..=b'F' => Some(d - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lower_case_and_decodes_either_case() {
        assert_eq!(encode(&[0, 0xab, 0xff, 0x10]), "00abff10");
        assert_eq!(decode("00aBff10"), Some(vec![0, 0xab, 0xff, 0x10]));
        assert_eq!(byte(b"2F"), Some(0x2f));
    }

    #[test]
    fn refuses_odd_lengths_and_non_digits() {
        for bad in ["0", "0g", "+1", " 1", "zz"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
        assert_eq!(byte(b"1"), None);
        assert_eq!(byte(b"123"), None);
    }
}
