//! `make apikey` (`cargo run -p jwtgate-core --bin jwtgate-apikey -- [CLIENT]`): prints a
//! new API key and the entry that goes into an `api_keys` provider's `keys` (or its
//! feed). The key is shown once: the gate only ever holds its digest.
//!
//! 256 bits come from the operating system's CSPRNG (`getrandom`); the format and the
//! digest are the core's (`jwtgate_core::apikey`), so a future CLI prints the same.

use jwtgate_core::apikey;
use std::process::ExitCode;

fn main() -> ExitCode {
    let client = std::env::args().nth(1).unwrap_or_else(|| "my-app".to_owned());
    let mut entropy = [0u8; apikey::format::ENTROPY_BYTES];
    if let Err(e) = getrandom::getrandom(&mut entropy) {
        eprintln!("jwtgate-apikey: the OS random source failed: {e}");
        return ExitCode::FAILURE;
    }
    let k = apikey::generate(entropy);
    let entry = serde_json::json!({"digest": k.digest_line(), "client": client, "scopes": []});
    println!("key:    {}", k.key);
    println!("digest: {}", k.digest_line());
    println!("entry:  {entry}");
    eprintln!("Give the key to {client:?} once; put only the entry in the config or the key feed.");
    ExitCode::SUCCESS
}
