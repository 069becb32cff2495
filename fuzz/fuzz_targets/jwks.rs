//! Arbitrary bytes as a JWKS document, parsed as an inline set (every algorithm) and as
//! a remote one (asymmetric only); every key that loads is then asked to verify.
#![no_main]

use jwtgate_core::{parse_jwks, Alg, JwksOrigin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let asymmetric: Vec<Alg> = Alg::ALL.iter().copied().filter(|a| !a.is_symmetric()).collect();
    for (origin, allowed) in [(JwksOrigin::Inline, &Alg::ALL[..]), (JwksOrigin::Remote, &asymmetric[..])] {
        let Ok(doc) = parse_jwks(data, origin, allowed) else { continue };
        assert!(!doc.keys.is_empty(), "an accepted JWKS has a usable key");
        for key in &doc.keys {
            for alg in Alg::ALL {
                if let Some(v) = key.verifier(alg) {
                    assert!(allowed.contains(&alg), "{alg} verifier outside the allowed list");
                    assert!(origin == JwksOrigin::Inline || !alg.is_symmetric(), "HMAC key from a remote JWKS");
                    // A signature of zeros never verifies, whatever the key.
                    assert!(!v.verify(b"e30.e30", &[0u8; 64]), "{alg}: an all-zero signature verified");
                }
            }
        }
    }
});
