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

/// A rule that lists `GET` also matches `HEAD`: Express, Flask/Werkzeug, Django, Rails,
/// Spring and Go's `ServeMux` answer `HEAD` with the `GET` handler, so a `GET`-only rule
/// that let `HEAD` fall through to a laxer rule would open that handler to it.
fn method_matches(methods: &[String], method: &str) -> bool {
    let listed = |m: &str| methods.iter().any(|x| x.eq_ignore_ascii_case(m));
    methods.is_empty() || listed(method) || (method.eq_ignore_ascii_case("HEAD") && listed("GET"))
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

    #[test]
    fn head_follows_get_rules_not_laxer_ones() {
        let rules = vec![
            rule(PathMatch::Prefix("/admin".into()), &["GET"], Requirement::Provider(0)),
            rule(PathMatch::Prefix("/".into()), &[], Requirement::Public),
        ];
        assert_eq!(find(&rules, "/admin", "HEAD").map(|r| &r.requirement), Some(&Requirement::Provider(0)));
        assert_eq!(find(&rules, "/admin", "head").map(|r| &r.requirement), Some(&Requirement::Provider(0)));
        assert_eq!(find(&rules, "/admin", "POST").map(|r| &r.requirement), Some(&Requirement::Public));
        let head_only = vec![rule(PathMatch::Prefix("/".into()), &["HEAD"], Requirement::Public)];
        assert!(find(&head_only, "/x", "GET").is_none(), "HEAD does not open GET");
    }
}
