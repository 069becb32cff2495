//! `jwtgate`: the gate's core on the command line. Explains a decision offline (the
//! same `Gate::decide` a host runs), lints a config, inspects key sets, and imports
//! Istio and Envoy `jwt_authn` configs, and makes API keys. Exit status: 0 allow / clean, 1 deny / findings,
//! 2 usage or config error.

mod apikey;
mod check;
mod check_text;
mod cli;
mod fail;
mod fetch;
mod import;
mod jwks;
mod lint;

use clap::Parser;
use cli::{ApikeyCommand, Cli, Command, JwksCommand};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Check(args) => check::run(&args),
        Command::Lint(args) => lint::run(&args),
        Command::Jwks { command: JwksCommand::Inspect(args) } => jwks::inspect(&args),
        Command::Jwks { command: JwksCommand::Diff(args) } => jwks::diff(&args),
        Command::Jwks { command: JwksCommand::Fetch(args) } => jwks::fetch(&args),
        Command::Import(args) => import::run(&args),
        Command::Apikey { command: ApikeyCommand::New(args) } => apikey::new(&args),
    };
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) => {
            eprintln!("jwtgate: {e}");
            ExitCode::from(fail::Exit::Usage as u8)
        }
    }
}
