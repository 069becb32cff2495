//! Shared plumbing for the Wycheproof runner: where the vectors live, the exceptions
//! file (the single source of truth for every vector whose outcome differs from
//! Wycheproof's expectation), and the per-file tally that is checked against it.

use serde::Deserialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Where the exceptions file lives, relative to the `core` crate.
pub const EXCEPTIONS_FILE: &str = "../tests/wycheproof-exceptions.json";

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

/// `tests/wycheproof-exceptions.json` as written. The JS runner of the Envoy native path
/// (`tests/e2e/native_vectors.test.mjs`) reads the same file with `JSON.parse`; this type is
/// the format's one definition, and `exceptions_file_is_well_formed` checks every part of
/// the file against it, including the part only the JS runner uses.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExceptionsFile {
    /// Prose for whoever opens the file; the runners ignore it.
    #[allow(dead_code)]
    about: String,
    acceptable: Vec<AcceptableRow>,
    exceptions: Vec<ExceptionRow>,
    envoy_native_exceptions: Vec<ExceptionRow>,
}

/// The verdict for `acceptable` vectors carrying `flag`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AcceptableRow {
    flag: String,
    verdict: Verdict,
    reason: String,
}

#[derive(Deserialize, PartialEq)]
#[serde(rename_all = "lowercase")]
enum Verdict {
    Accept,
    Reject,
}

/// Vectors of one label whose outcome differs from Wycheproof's, for one reason. The ids
/// are listed one by one, so reading them takes no notation of our own.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ExceptionRow {
    label: String,
    tc_ids: Vec<u64>,
    reason: String,
}

/// What the exceptions file says.
pub struct Exceptions {
    /// label -> tcId -> reason
    pub listed: BTreeMap<String, BTreeMap<u64, String>>,
    /// Wycheproof flag -> whether an `acceptable` vector with it must verify.
    pub acceptable: BTreeMap<String, bool>,
    /// The Envoy native path's rows (label `<file>:envoy-native`), run by the JS test;
    /// loaded here so that their shape, duplicates and labels are checked without Envoy.
    pub envoy_native: BTreeMap<String, BTreeMap<u64, String>>,
}

impl Exceptions {
    pub fn load() -> Exceptions {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(EXCEPTIONS_FILE);
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        Exceptions::parse(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Deserializes the file (errors name the JSON path, e.g. `exceptions[3].tcIds[1]`)
    /// and refuses empty members and anything listed or decided twice.
    pub fn parse(text: &str) -> Result<Exceptions, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let file: ExceptionsFile = serde_path_to_error::deserialize(&mut *de).map_err(|e| e.to_string())?;
        de.end().map_err(|e| e.to_string())?;
        let mut acceptable = BTreeMap::new();
        for (i, row) in file.acceptable.iter().enumerate() {
            let at = format!("acceptable[{i}]");
            non_empty(&at, &[("flag", &row.flag), ("reason", &row.reason)])?;
            if acceptable.insert(row.flag.clone(), row.verdict == Verdict::Accept).is_some() {
                return Err(format!("{at}: flag {} is decided twice", row.flag));
            }
        }
        Ok(Exceptions {
            listed: by_label("exceptions", &file.exceptions)?,
            acceptable,
            envoy_native: by_label("envoyNativeExceptions", &file.envoy_native_exceptions)?,
        })
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

/// label -> tcId -> reason, refusing a tcId listed twice under one label.
fn by_label(section: &str, rows: &[ExceptionRow]) -> Result<BTreeMap<String, BTreeMap<u64, String>>, String> {
    let mut listed: BTreeMap<String, BTreeMap<u64, String>> = BTreeMap::new();
    for (i, row) in rows.iter().enumerate() {
        let at = format!("{section}[{i}]");
        non_empty(&at, &[("label", &row.label), ("reason", &row.reason)])?;
        if row.tc_ids.is_empty() {
            return Err(format!("{at}: tcIds is empty"));
        }
        let entry = listed.entry(row.label.clone()).or_default();
        for &id in &row.tc_ids {
            if entry.insert(id, row.reason.clone()).is_some() {
                return Err(format!("{at}: {} tcId {id} is listed twice", row.label));
            }
        }
    }
    Ok(listed)
}

fn non_empty(at: &str, members: &[(&str, &str)]) -> Result<(), String> {
    match members.iter().find(|(_, value)| value.trim().is_empty()) {
        Some((name, _)) => Err(format!("{at}: `{name}` is empty")),
        None => Ok(()),
    }
}

/// Compresses sorted ids for messages: `1, 4-6, 9`.
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

    /// Parses a file with these `acceptable` and `exceptions` rows.
    fn file(acceptable: &str, exceptions: &str) -> Result<Exceptions, String> {
        Exceptions::parse(&format!(
            r#"{{"about": "test", "acceptable": [{acceptable}], "exceptions": [{exceptions}], "envoyNativeExceptions": []}}"#
        ))
    }

    const FLAG: &str = r#"{"flag": "F", "verdict": "reject", "reason": "r"}"#;

    #[test]
    fn ranges_and_malformed_rows() {
        assert_eq!(ranges(&[1, 4, 5, 6, 9]), "1, 4-6, 9");
        let ok = file(FLAG, r#"{"label": "a.json", "tcIds": [4, 1], "reason": "r"}"#).unwrap();
        assert_eq!(ok.listed["a.json"].keys().copied().collect::<Vec<_>>(), vec![1, 4]);
        assert_eq!(ok.acceptable.get("F"), Some(&false));
        let range = file(FLAG, r#"{"label": "a.json", "tcIds": ["4-6"], "reason": "r"}"#).err().unwrap_or_default();
        assert!(range.starts_with("exceptions[0].tcIds[0]"), "error names the JSON path: {range}");
        for bad in [
            r#"{"label": "a.json", "tcIds": [1], "reason": "r"}, {"label": "a.json", "tcIds": [1], "reason": "s"}"#,
            r#"{"label": "a.json", "tcIds": [], "reason": "r"}"#,
            r#"{"label": "a.json", "tcIds": [1], "reason": " "}"#,
            r#"{"label": "a.json", "tcIds": [-1], "reason": "r"}"#,
            r#"{"label": "a.json", "tcIds": [1], "reason": "r", "tcId": 2}"#,
        ] {
            assert!(file(FLAG, bad).is_err(), "accepted the exception row(s) {bad}");
        }
        for bad in [r#"{"flag": "F", "verdict": "maybe", "reason": "r"}"#, &format!("{FLAG}, {FLAG}")] {
            assert!(file(bad, "").is_err(), "accepted the acceptable row(s) {bad}");
        }
        assert!(
            Exceptions::parse(r#"{"about": "", "acceptable": [], "exceptions": []}"#).is_err(),
            "a missing section"
        );
    }
}
