//! Route rules: the first rule whose method, host and path match decides. No match → deny.

use crate::config::{PathMatch, Rule};
use crate::error::AuthError;
use crate::policy::Matched;
use crate::request::RequestView;
use crate::route;

/// The first rule matching the request's method, host and normalised path, with the
/// path template's captures. A request whose host is ambiguous is refused as soon as
/// a rule that names a host is tried (a later, laxer rule must not catch it instead).
pub fn find<'c, 'p>(
    rules: &'c [Rule],
    path: &'p str,
    req: &RequestView<'_>,
) -> Result<Option<Matched<'c, 'p>>, AuthError> {
    let mut authority = None;
    for rule in rules.iter().filter(|r| method_matches(&r.methods, req.method)) {
        if let Some(h) = &rule.host {
            let a = match authority {
                Some(a) => a,
                None => *authority.insert(route::authority(req)?),
            };
            if !a.is_some_and(|a| h.matches(a)) {
                continue;
            }
        }
        if let Some(captures) = path_matches(&rule.path, path) {
            return Ok(Some(Matched { rule, captures }));
        }
    }
    Ok(None)
}

fn path_matches<'p>(m: &PathMatch, path: &'p str) -> Option<Vec<&'p str>> {
    match m {
        PathMatch::Exact(e) => (path == e).then(Vec::new),
        PathMatch::Prefix(p) => path.starts_with(p.as_str()).then(Vec::new),
        PathMatch::Template(t) => t.matches(path),
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
        let methods = methods.iter().map(|m| m.to_string()).collect();
        Rule {
            name: "r".into(),
            path,
            host: None,
            methods,
            requirement,
            scopes: vec![],
            require: None,
            mode: None,
            sender_constraint: None,
            introspect: false,
            browser: None,
        }
    }

    fn find<'c>(rules: &'c [Rule], path: &str, method: &str) -> Option<&'c Rule> {
        let r = crate::test_support::req(method, path, &[]);
        super::find(rules, path, &r.view()).expect("no host rules").map(|m| m.rule)
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
