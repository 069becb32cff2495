//! Rule warnings: rules an earlier rule shadows (first match wins, so they never
//! decide), public rules that open broad prefixes, and prefixes without a trailing `/`.

use super::Finding;
use serde_json::Value;

/// A rule's match, read from a config the core accepted.
struct Match<'a> {
    path: Path<'a>,
    host: Option<String>,
    /// Upper case; empty = any.
    methods: Vec<String>,
}

enum Path<'a> {
    Exact(&'a str),
    Prefix(&'a str),
    Template(&'a str),
}

impl<'a> Match<'a> {
    fn of(rule: &'a Value) -> Option<Match<'a>> {
        let m = &rule["match"];
        let path = if let Some(e) = m["exact"].as_str() {
            Path::Exact(e)
        } else if let Some(p) = m["prefix"].as_str() {
            Path::Prefix(p)
        } else {
            Path::Template(m["template"].as_str()?)
        };
        let host = m["host"].as_str().map(str::to_ascii_lowercase);
        let methods = m["methods"]
            .as_array()
            .map_or(Vec::new(), |a| a.iter().filter_map(Value::as_str).map(str::to_ascii_uppercase).collect());
        Some(Match { path, host, methods })
    }

    /// Every request `later` matches, `self` matches too (so `later` never decides).
    fn covers(&self, later: &Match<'_>) -> bool {
        let methods = self.methods.is_empty()
            || (!later.methods.is_empty()
                && later
                    .methods
                    .iter()
                    .all(|m| self.methods.contains(m) || (m == "HEAD" && self.methods.iter().any(|x| x == "GET"))));
        let host = self.host.is_none() || self.host == later.host;
        methods && host && self.path.covers(&later.path)
    }

    fn describe(&self) -> String {
        let path = match self.path {
            Path::Exact(p) => format!("exact {p}"),
            Path::Prefix(p) => format!("prefix {p}"),
            Path::Template(t) => format!("template {t}"),
        };
        let methods = if self.methods.is_empty() { String::new() } else { format!(" {}", self.methods.join(",")) };
        let host = self.host.as_ref().map_or(String::new(), |h| format!(" host {h}"));
        format!("{path}{methods}{host}")
    }
}

impl Path<'_> {
    fn covers(&self, later: &Path<'_>) -> bool {
        match (self, later) {
            (Path::Exact(a), Path::Exact(b)) => a == b,
            (Path::Prefix(p), Path::Exact(b) | Path::Prefix(b)) => b.starts_with(p),
            // A template matches only paths that start with its literal part.
            (Path::Prefix(p), Path::Template(t)) => literal_prefix(t).starts_with(p),
            (Path::Template(a), Path::Template(b)) => a == b,
            _ => false,
        }
    }
}

/// The part of a template before its first capture or `**`.
fn literal_prefix(t: &str) -> &str {
    t.find(['{', '*']).map_or(t, |i| t.get(..i).unwrap_or(t))
}

/// Warnings about the `rules` list.
pub fn rules(doc: &Value, out: &mut Vec<Finding>) {
    let Some(rules) = doc["rules"].as_array() else { return };
    let matches: Vec<Option<Match<'_>>> = rules.iter().map(Match::of).collect();
    for (j, later) in matches.iter().enumerate() {
        let Some(later) = later else { continue };
        let shadow = matches.iter().take(j).enumerate().find(|(_, m)| m.as_ref().is_some_and(|m| m.covers(later)));
        if let Some((i, Some(m))) = shadow {
            out.push(Finding::warn(
                format!("rules[{j}]"),
                format!(
                    "never decides: rules[{i}] ({}) matches every request it matches ({})",
                    m.describe(),
                    later.describe()
                ),
            ));
        }
        public(rules.get(j).unwrap_or(&Value::Null), j, later, out);
    }
}

/// A public (or token-optional) rule on `/` opens everything no earlier rule caught; on
/// a prefix without a trailing `/` it also opens `/publicx`. (A prefix without `/` on a
/// rule that requires a token only makes more paths strict, so it is not reported.)
fn public(rule: &Value, j: usize, m: &Match<'_>, out: &mut Vec<Finding>) {
    let Path::Prefix(p) = m.path else { return };
    let is_public = rule["public"] == true || rule["requires"]["allow_missing"].is_array();
    if !is_public {
        return;
    }
    if p.trim_matches('/').is_empty() {
        let what = if rule["public"] == true { "public" } else { "token-optional (allow_missing)" };
        out.push(Finding::warn(
            format!("rules[{j}].match.prefix"),
            format!(
                "a {what} rule on {p:?} opens every path no earlier rule matched (deny-by-default is off from here on)"
            ),
        ));
    }
    if !p.ends_with('/') && !p.trim_matches('/').is_empty() {
        out.push(Finding::warn(
            format!("rules[{j}].match.prefix"),
            format!("{p:?} has no trailing '/': it also matches {p}x, {p}-admin, … (use \"{p}/\" and an exact rule for {p:?})"),
        ));
    }
}
