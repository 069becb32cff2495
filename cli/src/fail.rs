//! Exit codes and the one error type every command returns (exit 2).

use std::fmt;
use std::path::Path;

/// The process exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Exit {
    /// Allowed / nothing found.
    Ok = 0,
    /// Denied / lint errors / untranslatable input.
    Findings = 1,
    /// Bad arguments, an unreadable file, a config that does not load.
    Usage = 2,
}

/// Why a command could not run at all.
#[derive(Debug)]
pub enum Fail {
    Read { path: String, error: std::io::Error },
    Write { path: String, error: std::io::Error },
    Config(jwtgate_core::ConfigError),
    Usage(String),
}

impl fmt::Display for Fail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fail::Read { path, error } => write!(f, "cannot read {path}: {error}"),
            Fail::Write { path, error } => write!(f, "cannot write {path}: {error}"),
            Fail::Config(e) => write!(f, "{e}"),
            Fail::Usage(what) => f.write_str(what),
        }
    }
}

impl std::error::Error for Fail {}

impl From<jwtgate_core::ConfigError> for Fail {
    fn from(e: jwtgate_core::ConfigError) -> Fail {
        Fail::Config(e)
    }
}

/// A file's text (`-` reads standard input; an `http(s)://` URL is fetched).
pub fn read(path: &Path) -> Result<String, Fail> {
    let shown = path.display().to_string();
    if crate::fetch::is_url(&shown) {
        let body = crate::fetch::get(&shown)?;
        return String::from_utf8(body).map_err(|_| Fail::Usage(format!("GET {shown}: the body is not UTF-8")));
    }
    if shown == "-" {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|error| Fail::Read { path: shown, error })?;
        return Ok(s);
    }
    std::fs::read_to_string(path).map_err(|error| Fail::Read { path: shown, error })
}
