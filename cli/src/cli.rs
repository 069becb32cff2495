//! The command line (clap derive): each subcommand's arguments, documented where they
//! are declared so `--help` and the code cannot drift.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(name = "jwtgate", version, about = "jwtgate's core on the command line")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Decide one request offline, as a host would, and explain the decision
    /// (exit 0 allow, 1 deny, 2 usage or config error).
    Check(CheckArgs),
    /// Load a config and report its errors (with field paths) and risky settings
    /// (exit 1 on errors, or on warnings with --strict).
    Lint(LintArgs),
    /// Key sets: which keys the gate would use, and why it refuses the others.
    Jwks {
        #[command(subcommand)]
        command: JwksCommand,
    },
    /// Translate an Istio or Envoy jwt_authn config into a jwtgate config (stdout);
    /// notes on what was implicit or could not be translated go to stderr.
    Import(ImportArgs),
    /// API keys for `"kind": "api_keys"` providers.
    Apikey {
        #[command(subcommand)]
        command: ApikeyCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ApikeyCommand {
    /// Print a new key (256 bits from the OS CSPRNG, `jg_` prefix, checksum) and the
    /// entry for the config or the key feed, which holds only the key's digest.
    New(ApikeyNewArgs),
}

#[derive(Args, Debug)]
pub struct ApikeyNewArgs {
    /// The application the key identifies (the entry's `client`).
    #[arg(default_value = "my-app")]
    pub client: String,
}

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// `istio`: RequestAuthentication and AuthorizationPolicy YAML (several documents
    /// and files); `envoy`: a jwt_authn filter config (the http_filters entry or the
    /// JwtAuthentication message, YAML or JSON).
    #[arg(value_enum)]
    pub kind: ImportKind,
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Print the config even when parts could not be translated (exit 0).
    #[arg(long)]
    pub allow_partial: bool,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImportKind {
    Istio,
    Envoy,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// The gate config (JSON, as given to the filter or the worker).
    #[arg(long, short)]
    pub config: PathBuf,
    /// The token, sent as `authorization: Bearer <token>`; `@FILE` reads it from a file.
    /// Leave it out to send no token (or send one with --header).
    #[arg(long, short)]
    pub token: Option<String>,
    #[arg(long, short, default_value = "GET")]
    pub method: String,
    /// The request path, with its query if any.
    #[arg(long, short, default_value = "/")]
    pub path: String,
    /// A request header `name: value` (repeatable; `host: …` for host rules).
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE")]
    pub headers: Vec<String>,
    /// The JWKS (a file) that remote providers' fetches return: `FILE` for every remote
    /// provider, `PROVIDER=FILE` for one (repeatable). Inline keys come from the config.
    #[arg(long, value_name = "[PROVIDER=]FILE")]
    pub jwks: Vec<String>,
    /// The time to decide at, in seconds since the epoch (default: now).
    #[arg(long)]
    pub now: Option<u64>,
    /// Print the decision as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct LintArgs {
    /// The gate config (JSON).
    pub config: PathBuf,
    /// Exit 1 on warnings too.
    #[arg(long)]
    pub strict: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Subcommand, Debug)]
pub enum JwksCommand {
    /// List a JWKS's keys: usable ones with their algorithms, refused ones with why.
    Inspect(InspectArgs),
    /// Compare two JWKS: keys added, removed, changed, and usability changes.
    Diff(DiffArgs),
    /// Fetch a JWKS by URL (one GET, no redirects, 200 only), report it as `inspect`
    /// does, and save it with --out (for `check --jwks` or a later `diff`).
    Fetch(FetchArgs),
}

#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The key set's URL (`https://…/jwks`).
    pub url: String,
    /// Write the fetched body here.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    #[arg(long, value_delimiter = ',')]
    pub algorithms: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The JWKS file (`-` for standard input, or an `http(s)://` URL).
    pub file: PathBuf,
    /// The algorithms the provider allows (default: every asymmetric one the core knows).
    #[arg(long, value_delimiter = ',')]
    pub algorithms: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args, Debug)]
pub struct DiffArgs {
    pub old: PathBuf,
    pub new: PathBuf,
    #[arg(long, value_delimiter = ',')]
    pub algorithms: Vec<String>,
    #[arg(long)]
    pub json: bool,
}
