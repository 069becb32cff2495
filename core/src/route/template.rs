//! Path templates: `/tenants/{tenant}/orders/**`.
//!
//! A template is matched segment by segment against the *normalised* path (see
//! `path.rs`): `{name}` takes exactly one non-empty segment and records it as a capture,
//! `**` (only as the last segment) takes whatever rest there is, including none, and any
//! other segment must be equal byte for byte. Captures are the segment text as the
//! normalised path spells it: unreserved escapes are decoded, others are kept (`%20`),
//! so a comparison with a claim never sees a `/` or a dot segment.

/// A compiled template; two templates with the same [`Template::shape`] match the same
/// paths whatever their capture names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    source: String,
    segments: Vec<Segment>,
    /// Ends in `**`.
    rest: bool,
    names: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Segment {
    Literal(String),
    Capture,
}

/// The most captures a template may declare.
pub const MAX_CAPTURES: usize = 16;

impl Template {
    /// Parses a template; the error says what is wrong with it.
    pub fn parse(source: &str) -> Result<Template, String> {
        let Some(body) = source.strip_prefix('/') else { return Err("must start with `/`".into()) };
        let parts: Vec<&str> = body.split('/').collect();
        let last = parts.len() - 1;
        let (mut segments, mut names, mut rest) = (Vec::new(), Vec::<String>::new(), false);
        for (i, part) in parts.iter().enumerate() {
            if *part == "**" {
                if i != last {
                    return Err("`**` may only be the last segment".into());
                }
                rest = true;
            } else if let Some(name) = part.strip_prefix('{').and_then(|p| p.strip_suffix('}')) {
                if !is_capture_name(name) {
                    return Err(format!(
                        "capture name {name:?} must be a letter or `_` followed by letters, digits or `_`"
                    ));
                }
                if names.iter().any(|n| n == name) {
                    return Err(format!("capture `{{{name}}}` appears twice"));
                }
                names.push(name.to_owned());
                segments.push(Segment::Capture);
            } else {
                literal(part, i == last)?;
                segments.push(Segment::Literal((*part).to_owned()));
            }
        }
        if names.len() > MAX_CAPTURES {
            return Err(format!("at most {MAX_CAPTURES} captures"));
        }
        Ok(Template { source: source.to_owned(), segments, rest, names })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The index of capture `name` in what [`Template::matches`] returns.
    pub fn capture_index(&self, name: &str) -> Option<usize> {
        self.names.iter().position(|n| n == name)
    }

    /// Capture names, in order.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// Whether two templates match exactly the same paths (capture names aside).
    pub fn same_shape(&self, other: &Template) -> bool {
        self.segments == other.segments && self.rest == other.rest
    }

    /// The captures, in declaration order, when `path` (normalised, no query) matches.
    pub fn matches<'p>(&self, path: &'p str) -> Option<Vec<&'p str>> {
        let mut parts = path.strip_prefix('/')?.split('/');
        let mut captures = Vec::with_capacity(self.names.len());
        for seg in &self.segments {
            let part = parts.next()?;
            match seg {
                Segment::Literal(l) if l == part => {}
                Segment::Capture if !part.is_empty() => captures.push(part),
                _ => return None,
            }
        }
        (self.rest || parts.next().is_none()).then_some(captures)
    }
}

fn is_capture_name(n: &str) -> bool {
    let mut bytes = n.bytes();
    matches!(bytes.next(), Some(b) if b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A literal segment must be one a normalised path can contain, or it could never match.
fn literal(part: &str, is_last: bool) -> Result<(), String> {
    if part.is_empty() && !is_last {
        return Err("empty segment (`//`): normalised paths have none".into());
    }
    if part == "." || part == ".." {
        return Err("dot segments never survive normalisation".into());
    }
    if part.bytes().any(|b| b"{}*%?#;\\".contains(&b) || !(0x21..0x7f).contains(&b)) {
        return Err(format!(
            "segment {part:?}: a segment is literal text (no `{{}}*%?#;\\`, spaces or non-ASCII), `{{name}}` or a final `**`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Template {
        Template::parse(s).expect("valid template")
    }

    #[test]
    fn captures_one_non_empty_segment_each() {
        let tpl = t("/tenants/{tenant}/orders/{id}");
        assert_eq!(tpl.matches("/tenants/acme/orders/7"), Some(vec!["acme", "7"]));
        assert_eq!(tpl.matches("/tenants/acme/orders/7/x"), None);
        assert_eq!(tpl.matches("/tenants/acme/orders"), None);
        assert_eq!(tpl.matches("/tenants/acme/orders/"), None, "an empty segment is no capture");
        assert_eq!(tpl.matches("/tenants//orders/7"), None);
        assert_eq!(tpl.matches("/Tenants/acme/orders/7"), None, "literals are case-sensitive");
        assert_eq!(tpl.capture_index("id"), Some(1));
        assert_eq!(tpl.capture_index("nope"), None);
    }

    #[test]
    fn double_star_takes_any_rest_including_none() {
        let tpl = t("/api/tenants/{tenant}/**");
        assert_eq!(tpl.matches("/api/tenants/acme"), Some(vec!["acme"]));
        assert_eq!(tpl.matches("/api/tenants/acme/"), Some(vec!["acme"]));
        assert_eq!(tpl.matches("/api/tenants/acme/orders/1"), Some(vec!["acme"]));
        assert_eq!(tpl.matches("/api/tenants/"), None);
        assert_eq!(tpl.matches("/api/tenantsx/acme"), None);
        assert_eq!(t("/**").matches("/anything/at/all"), Some(vec![]));
    }

    #[test]
    fn exact_templates_respect_the_trailing_slash() {
        assert_eq!(t("/a/{x}/").matches("/a/b/"), Some(vec!["b"]));
        assert_eq!(t("/a/{x}/").matches("/a/b"), None);
        assert_eq!(t("/a/{x}").matches("/a/b/"), None);
    }

    #[test]
    fn shape_ignores_capture_names() {
        assert!(t("/t/{a}/**").same_shape(&t("/t/{b}/**")));
        assert!(!t("/t/{a}/**").same_shape(&t("/t/{a}")));
        assert!(!t("/t/{a}").same_shape(&t("/t/a")));
    }

    #[test]
    fn ambiguous_or_unmatchable_templates_are_refused() {
        for bad in [
            "t/{a}",
            "/a/**/b",
            "/a/{x}/{x}",
            "/a/{1x}",
            "/a/{}",
            "/a/x{y}",
            "/a/*",
            "/a//b",
            "/a/../b",
            "/a/%2e",
            "/a/b;c",
            "/a/b c",
        ] {
            assert!(Template::parse(bad).is_err(), "{bad:?}");
        }
    }
}
