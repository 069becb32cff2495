//! `jwtgate apikey new [CLIENT]`: a new API key and the entry that goes into an
//! `api_keys` provider's `keys` (or its feed). The key is printed once; the gate only
//! ever holds its digest. 256 bits come from the operating system's CSPRNG; the format
//! and digest are the core's (`jwtgate_core::apikey`), the ones the gate checks.

use crate::cli::ApikeyNewArgs;
use crate::fail::{Exit, Fail};
use jwtgate_core::apikey;
use serde_json::{json, Value};

pub fn new(args: &ApikeyNewArgs) -> Result<Exit, Fail> {
    let mut entropy = [0u8; apikey::format::ENTROPY_BYTES];
    getrandom::getrandom(&mut entropy).map_err(|e| Fail::Usage(format!("the OS random source failed: {e}")))?;
    let (key, entry) = issue(entropy, &args.client);
    println!("key:    {key}");
    println!("digest: {}", entry["digest"].as_str().unwrap_or_default());
    println!("entry:  {entry}");
    eprintln!("Give the key to {:?} once; put only the entry in the config or the key feed.", args.client);
    Ok(Exit::Ok)
}

/// The key made from `entropy`, and its config entry for `client`.
fn issue(entropy: [u8; apikey::format::ENTROPY_BYTES], client: &str) -> (String, Value) {
    let k = apikey::generate(entropy);
    let entry = json!({"digest": k.digest_line(), "client": client, "scopes": []});
    (k.key.clone(), entry)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_holds_the_digest_the_gate_computes_for_the_key_and_never_the_key() {
        let (key, entry) = issue([9; apikey::format::ENTROPY_BYTES], "reports-app");
        assert!(key.starts_with("jg_"), "{key}");
        let digest = apikey::format::digest_of(&key).expect("a well-formed key");
        assert_eq!(entry["digest"], apikey::format::digest_text(&digest));
        assert_eq!(entry["client"], "reports-app");
        assert!(!entry.to_string().contains(&key), "the entry must not carry the key");
        let (other, _) = issue([10; apikey::format::ENTROPY_BYTES], "reports-app");
        assert_ne!(key, other);
    }
}
