//! Shared plumbing for the Wycheproof runner: where the vectors live, the exceptions
//! file (the single source of truth for every vector whose outcome differs from
//! Wycheproof's expectation), and the per-file tally that is checked against it.

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where the exceptions file lives, relative to the `core` crate.
pub const EXCEPTIONS_FILE: &str = "../tests/wycheproof-exceptions.md";
const EXCEPTIONS_FENCE: &str = "```wycheproof-exceptions";
const ACCEPTABLE_FENCE: &str = "```wycheproof-acceptable";

/// The vector folder: `$JWTGATE_WYCHEPROOF_DIR`, else `shared/` beside the repository.
pub fn vector_dir() -> PathBuf {
    match std::env::var_os("JWTGATE_WYCHEPROOF_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/test-vectors/wycheproof"),
    }
}

/// The vector folder, or `None` after printing why this test is skipped.
pub fn vectors_or_skip(test: &str) -> Option<PathBuf> {
    let dir = vector_dir();
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipping {test}: Wycheproof vectors not found at {} (set JWTGATE_WYCHEPROOF_DIR to run them)",
            dir.display()
        );
        None
    }
}

/// Loads one vector file. The folder exists, so a missing file is an error, not a skip.
pub fn load(dir: &Path, file: &str) -> Value {
    let path = dir.join(file);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{} is incomplete: cannot read {}: {e}", dir.display(), path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

pub fn hex(s: &str) -> Vec<u8> {
    assert!(s.len().is_multiple_of(2), "odd-length hex {s:?}");
    let nibble = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => panic!("not hex: {s:?}"),
    };
    s.as_bytes().chunks(2).map(|p| nibble(p[0]) << 4 | nibble(p[1])).collect()
}

pub fn str_of<'v>(v: &'v Value, key: &str) -> &'v str {
    v[key].as_str().unwrap_or_else(|| panic!("vector member `{key}` is not a string in {v}"))
}

pub fn flags(t: &Value) -> Vec<String> {
    t["flags"].as_array().map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_owned)).collect()).unwrap_or_default()
}

/// What the exceptions file says.
pub struct Exceptions {
    /// label -> tcId -> reason
    pub listed: BTreeMap<String, BTreeMap<u64, String>>,
    /// Wycheproof flag -> whether an `acceptable` vector with it must verify.
    pub acceptable: BTreeMap<String, bool>,
}

impl Exceptions {
    pub fn load() -> Exceptions {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXCEPTIONS_FILE);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Exceptions::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Exceptions, String> {
        let mut listed: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
        for (line_no, cols) in fenced_rows(text, EXCEPTIONS_FENCE, 3)? {
            let (label, ids, reason) = (&cols[0], &cols[1], &cols[2]);
            let entry = listed.entry(label.clone()).or_default();
            for id in parse_ids(ids).map_err(|e| format!("line {line_no}: {e}"))? {
                if entry.insert(id, reason.clone()).is_some() {
                    return Err(format!("line {line_no}: {label} tcId {id} is listed twice"));
                }
            }
        }
        let mut acceptable = BTreeMap::new();
        for (line_no, cols) in fenced_rows(text, ACCEPTABLE_FENCE, 3)? {
            let accept = match cols[1].as_str() {
                "accept" => true,
                "reject" => false,
                other => return Err(format!("line {line_no}: verdict must be accept or reject, not {other:?}")),
            };
            if acceptable.insert(cols[0].clone(), accept).is_some() {
                return Err(format!("line {line_no}: flag {} is decided twice", cols[0]));
            }
        }
        Ok(Exceptions { listed, acceptable })
    }

    /// Whether an `acceptable` vector must verify, decided by its flags.
    pub fn acceptable_verdict(&self, label: &str, tc_id: u64, flags: &[String]) -> Result<bool, String> {
        let verdicts: BTreeSet<bool> = flags.iter().filter_map(|f| self.acceptable.get(f).copied()).collect();
        match verdicts.len() {
            1 => Ok(verdicts.into_iter().next().unwrap_or(false)),
            0 => Err(format!(
                "{label} tcId {tc_id}: `acceptable` with flags {flags:?}, none decided in {EXCEPTIONS_FILE}"
            )),
            _ => Err(format!("{label} tcId {tc_id}: `acceptable` flags {flags:?} are decided both ways")),
        }
    }
}

/// Rows of `a | b | c` inside the fenced block that opens with `fence`.
fn fenced_rows(text: &str, fence: &str, width: usize) -> Result<Vec<(usize, Vec<String>)>, String> {
    let mut rows = Vec::new();
    let mut inside = false;
    let mut seen = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if !inside {
            if t == fence {
                inside = true;
                seen = true;
            }
            continue;
        }
        if t.starts_with("```") {
            inside = false;
            continue;
        }
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        let cols: Vec<String> = t.split('|').map(|c| c.trim().to_owned()).collect();
        if cols.len() != width || cols.iter().any(String::is_empty) {
            return Err(format!("line {}: expected {width} non-empty `|`-separated columns: {t:?}", i + 1));
        }
        rows.push((i + 1, cols));
    }
    if !seen {
        return Err(format!("no {fence} block"));
    }
    if inside {
        return Err(format!("the {fence} block is not closed"));
    }
    Ok(rows)
}

/// `1, 4-7, 9` -> [1, 4, 5, 6, 7, 9]
fn parse_ids(s: &str) -> Result<Vec<u64>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim) {
        let num = |x: &str| x.trim().parse::<u64>().map_err(|_| format!("bad tcId {x:?}"));
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (num(a)?, num(b)?);
                if a > b {
                    return Err(format!("empty range {part:?}"));
                }
                out.extend(a..=b);
            }
            None => out.push(num(part)?),
        }
    }
    Ok(out)
}

/// Compresses sorted ids into the exceptions-file notation.
pub fn ranges(ids: &[u64]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(if i == j { ids[i].to_string() } else { format!("{}-{}", ids[i], ids[j]) });
        i = j + 1;
    }
    parts.join(", ")
}

/// Results of one label (a vector file, or a file under one mode).
pub struct Tally {
    pub label: String,
    pub run: usize,
    /// tcId -> what happened, for vectors whose outcome differs from the expectation.
    pub mismatches: BTreeMap<u64, String>,
    /// Errors that are not about one vector's outcome (e.g. an undecided `acceptable`).
    pub errors: Vec<String>,
}

impl Tally {
    pub fn new(label: impl Into<String>) -> Tally {
        Tally { label: label.into(), run: 0, mismatches: BTreeMap::new(), errors: Vec::new() }
    }

    pub fn record(&mut self, tc_id: u64, expected: bool, actual: bool, detail: impl FnOnce() -> String) {
        self.run += 1;
        if expected != actual {
            let want = if expected { "accept" } else { "reject" };
            let got = if actual { "accepted" } else { "rejected" };
            self.mismatches.insert(tc_id, format!("expected {want}, {got}: {}", detail()));
        }
    }

    /// Prints the summary line and returns every problem: mismatches the exceptions
    /// file does not list, and listed exceptions that no longer occur.
    pub fn reconcile(&self, ex: &Exceptions) -> Vec<String> {
        let empty = BTreeMap::new();
        let listed = ex.listed.get(&self.label).unwrap_or(&empty);
        let explained = self.mismatches.keys().filter(|id| listed.contains_key(id)).count();
        let passed = self.run - self.mismatches.len();
        eprintln!("wycheproof {}: {} run, {passed} passed, {explained} exceptions", self.label, self.run);
        let mut problems = self.errors.clone();
        let unexplained: Vec<u64> = self.mismatches.keys().copied().filter(|id| !listed.contains_key(id)).collect();
        if !unexplained.is_empty() {
            let mut msg = format!("{}: unexplained mismatches, tcIds {}:", self.label, ranges(&unexplained));
            for id in &unexplained {
                msg.push_str(&format!("\n    tcId {id}: {}", self.mismatches[id]));
            }
            problems.push(msg);
        }
        let stale: Vec<u64> = listed.keys().copied().filter(|id| !self.mismatches.contains_key(id)).collect();
        if !stale.is_empty() {
            problems.push(format!(
                "{}: stale exceptions (now as Wycheproof expects, or no such vector), tcIds {}; remove them from {EXCEPTIONS_FILE}",
                self.label,
                ranges(&stale)
            ));
        }
        problems
    }
}

/// Fails the test with every problem found, after all summaries were printed.
pub fn finish(problems: Vec<String>) {
    if !problems.is_empty() {
        panic!("Wycheproof vectors disagree with {EXCEPTIONS_FILE}:\n  {}", problems.join("\n  "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_ranges_round_trip() {
        assert_eq!(parse_ids("1, 4-6,9").unwrap(), vec![1, 4, 5, 6, 9]);
        assert_eq!(ranges(&[1, 4, 5, 6, 9]), "1, 4-6, 9");
        assert!(parse_ids("3-1").is_err());
        assert!(parse_ids("x").is_err());
    }
}
