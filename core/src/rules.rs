//! Route rules: the first rule whose path and method match decides. No match → deny.

use crate::config::{PathMatch, Rule};

/// The first rule matching a normalised path and method.
pub fn find<'c>(rules: &'c [Rule], path: &str, method: &str) -> Option<&'c Rule> {
    rules.iter().find(|r| path_matches(&r.path, path) && method_matches(&r.methods, method))
}

fn path_matches(m: &PathMatch, path: &str) -> bool {
    match m {
        PathMatch::Exact(e) => path == e,
        PathMatch::Prefix(p) => path.starts_with(p.as_str()),
    }
}

fn method_matches(methods: &[String], method: &str) -> bool {
    methods.is_empty() || methods.iter().any(|m| m.eq_ignore_ascii_case(method))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Requirement;

    fn rule(path: PathMatch, methods: &[&str], requirement: Requirement) -> Rule {
        Rule { path, methods: methods.iter().map(|m| m.to_string()).collect(), requirement, scopes: vec![] }
    }

    #[test]
    fn first_match_wins_and_unmatched_is_none() {
        let rules = vec![
            rule(PathMatch::Exact("/health".into()), &["GET"], Requirement::Public),
            rule(PathMatch::Prefix("/api/".into()), &[], Requirement::Provider(0)),
            rule(PathMatch::Prefix("/".into()), &["OPTIONS"], Requirement::Public),
        ];
        assert_eq!(find(&rules, "/health", "GET").map(|r| &r.requirement), Some(&Requirement::Public));
        assert_eq!(find(&rules, "/health", "POST").map(|r| &r.requirement), None);
        assert_eq!(find(&rules, "/health/x", "GET").map(|r| &r.requirement), None);
        assert_eq!(find(&rules, "/api/x", "DELETE").map(|r| &r.requirement), Some(&Requirement::Provider(0)));
        assert_eq!(find(&rules, "/other", "OPTIONS").map(|r| &r.requirement), Some(&Requirement::Public));
        assert!(find(&rules, "/other", "GET").is_none());
    }
}
