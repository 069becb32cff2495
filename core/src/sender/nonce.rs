//! Stateless DPoP nonces (RFC 9449 §8): `b64url(window ‖ HMAC-SHA256(key, window)[..16])`
//! where `window = now / window_s`. Any gate with the same key issues and accepts the
//! same values without sharing state; a nonce is accepted in its own window and the
//! next one, so a client that just got one is never refused at a boundary.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// `dpop_nonce`: the HMAC key and the window length.
#[derive(Clone, PartialEq, Eq)]
pub struct NonceConfig {
    pub key: Vec<u8>,
    pub window_s: u64,
}

impl std::fmt::Debug for NonceConfig {
    /// Never prints the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NonceConfig {{ window_s: {} }}", self.window_s)
    }
}

impl NonceConfig {
    fn window(&self, now_ms: u64) -> u64 {
        now_ms / 1000 / self.window_s.max(1)
    }

    fn for_window(&self, window: u64) -> String {
        let w = window.to_be_bytes();
        let mac = hmac_sha256::HMAC::mac(w, &self.key);
        let mut raw = w.to_vec();
        raw.extend_from_slice(&mac[..16]);
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The nonce to hand out now (`DPoP-Nonce`).
    pub fn current(&self, now_ms: u64) -> String {
        self.for_window(self.window(now_ms))
    }

    /// Whether `nonce` was issued in this window or the previous one.
    pub fn accepts(&self, nonce: &str, now_ms: u64) -> bool {
        let now = self.window(now_ms);
        [Some(now), now.checked_sub(1)].into_iter().flatten().any(|w| {
            let expected = self.for_window(w);
            expected.len() == nonce.len() && crate::verify::constant_time_eq(expected.as_bytes(), nonce.as_bytes())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(key: &[u8]) -> NonceConfig {
        NonceConfig { key: key.to_vec(), window_s: 60 }
    }

    #[test]
    fn a_nonce_lives_for_its_window_and_the_next() {
        let c = cfg(b"0123456789abcdef0123456789abcdef");
        let n = c.current(120_000);
        assert!(c.accepts(&n, 120_000) && c.accepts(&n, 179_999) && c.accepts(&n, 239_999));
        assert!(!c.accepts(&n, 240_000), "two windows later");
        assert!(!c.accepts(&n, 60_000), "a nonce from the future window");
        assert_ne!(c.current(180_000), n, "rotated");
    }

    #[test]
    fn another_key_or_a_forged_value_is_refused() {
        let c = cfg(b"0123456789abcdef0123456789abcdef");
        let other = cfg(b"fedcba9876543210fedcba9876543210").current(0);
        assert!(!c.accepts(&other, 0));
        assert!(!c.accepts("", 0) && !c.accepts("AAAAAAAAAAA", 0));
        assert!(!format!("{c:?}").contains("0123"), "Debug hides the key");
    }
}
