//! Validating `rules`: what each rule matches, what it requires, its name and mode, and
//! the checks across rules (unique names; no template that another rule already
//! takes for the same host and methods).

use super::raw::{RawMatch, RawRequires, RawRule};
use super::validate::{err, required, R};
use super::*;
use crate::policy::{self, UNMATCHED_RULE};

/// `groups`: each configured provider name and the provider indices it stands for (one,
/// or one per tenant).
pub fn rules(raw: Vec<RawRule>, groups: &[(String, Vec<usize>)]) -> R<Vec<Rule>> {
    let mut out: Vec<Rule> = Vec::with_capacity(raw.len());
    for (i, r) in raw.into_iter().enumerate() {
        let field = format!("rules[{i}]");
        let rule = rule(&field, i, r, groups)?;
        if out.iter().any(|o| o.name == rule.name) {
            return err(format!("{field}.name"), format!("another rule is already named {:?}", rule.name));
        }
        if let Some(j) = out.iter().position(|o| shadows(o, &rule)) {
            return err(
                format!("{field}.match.template"),
                format!(
                    "the same template as rules[{j}] for the same host and methods (the first match would always win)"
                ),
            );
        }
        out.push(rule);
    }
    Ok(out)
}

/// Two rules with the same template shape, host and an overlap of methods.
fn shadows(a: &Rule, b: &Rule) -> bool {
    let (PathMatch::Template(ta), PathMatch::Template(tb)) = (&a.path, &b.path) else { return false };
    let methods_overlap =
        a.methods.is_empty() || b.methods.is_empty() || a.methods.iter().any(|m| b.methods.contains(m));
    ta.same_shape(tb) && a.host == b.host && methods_overlap
}

fn rule(field: &str, index: usize, r: RawRule, groups: &[(String, Vec<usize>)]) -> R<Rule> {
    let matcher = required(&format!("{field}.match"), r.matcher)?;
    let (path, host, methods) = matches(&format!("{field}.match"), matcher)?;
    let requirement = match (r.public, r.requires) {
        (true, None) => Requirement::Public,
        (false, Some(req)) => requires(&format!("{field}.requires"), req, groups)?,
        _ => return err(field, "give exactly one of `requires` or `\"public\": true`"),
    };
    if let Some(i) = r.scopes.iter().position(|s| s.is_empty() || s.contains(' ')) {
        return err(format!("{field}.scopes[{i}]"), "a scope is a non-empty word without spaces");
    }
    if requirement == Requirement::Public && !r.scopes.is_empty() {
        return err(format!("{field}.scopes"), "a public rule cannot require scopes");
    }
    // Dropping the token would skip the scope check: a rule that needs scopes needs a token.
    if matches!(requirement, Requirement::AllowMissing(_)) && !r.scopes.is_empty() {
        return err(
            format!("{field}.scopes"),
            "an `allow_missing` rule cannot require scopes (a request without a token would skip the check); use `provider` or `any_of`",
        );
    }
    let template = match &path {
        PathMatch::Template(t) => Some(t),
        _ => None,
    };
    let require = match &r.require {
        None => None,
        Some(v) => Some(policy::compile(&format!("{field}.require"), v, template)?),
    };
    if require.is_some() && matches!(requirement, Requirement::Public | Requirement::AllowMissing(_)) {
        return err(
            format!("{field}.require"),
            "a `public` or `allow_missing` rule cannot `require` claims (a request without a token would skip it); use `provider` or `any_of`",
        );
    }
    let mode = match r.mode.as_deref() {
        None => None,
        Some(m) => match policy::Mode::parse(m) {
            Some(m) => Some(m),
            None => return err(format!("{field}.mode"), "must be \"enforce\" or \"report_only\""),
        },
    };
    let name = rule_name(&format!("{field}.name"), index, r.name)?;
    let sender_field = format!("{field}.sender_constraint");
    let sender_constraint = super::sender::constraint(&sender_field, r.sender_constraint.as_deref())?;
    if sender_constraint.is_some() && requirement == Requirement::Public {
        return err(sender_field, "a public rule checks no token, so it cannot constrain its sender");
    }
    if r.introspect && matches!(requirement, Requirement::Public) {
        return err(format!("{field}.introspect"), "a public rule has no token to introspect");
    }
    let introspect = r.introspect;
    // Checked against the providers' `login` blocks once they are known (`validate.rs`).
    let browser = match (&requirement, r.browser) {
        (_, false) => None,
        (Requirement::Provider(p), true) => Some(*p),
        _ => {
            return err(
                format!("{field}.browser"),
                "needs `requires.provider` naming one provider with a `login` block",
            )
        }
    };
    Ok(Rule {
        name,
        path,
        host,
        methods,
        requirement,
        scopes: r.scopes,
        require,
        mode,
        sender_constraint,
        introspect,
        browser,
    })
}

/// Rule names are metric labels: short, lower-case words, so stat names stay bounded
/// and parseable.
fn rule_name(field: &str, index: usize, name: Option<String>) -> R<String> {
    let Some(name) = name else { return Ok(format!("rule_{index}")) };
    let mut bytes = name.bytes();
    let ok = name.len() <= 48
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
    if !ok || name == UNMATCHED_RULE {
        return err(
            field,
            format!("a rule name is a lower-case letter then up to 47 of `a-z0-9_-`, and not {UNMATCHED_RULE:?}"),
        );
    }
    Ok(name)
}

fn matches(field: &str, m: RawMatch) -> R<(PathMatch, Option<crate::route::HostMatch>, Vec<String>)> {
    let path = match (m.exact, m.prefix, m.template) {
        (Some(e), None, None) if e.starts_with('/') => PathMatch::Exact(e),
        (None, Some(p), None) if p.starts_with('/') => PathMatch::Prefix(p),
        (None, None, Some(t)) => PathMatch::Template(
            Template::parse(&t).map_err(|problem| ConfigError { field: format!("{field}.template"), problem })?,
        ),
        _ => return err(field, "give exactly one of `exact`, `prefix` or `template`, starting with `/`"),
    };
    let host = match m.host {
        None => None,
        Some(h) => {
            Some(HostMatch::parse(&h).map_err(|problem| ConfigError { field: format!("{field}.host"), problem })?)
        }
    };
    Ok((path, host, m.methods.iter().map(|m| m.to_ascii_uppercase()).collect()))
}

fn requires(field: &str, r: RawRequires, groups: &[(String, Vec<usize>)]) -> R<Requirement> {
    let group = |f: String, n: &str| -> R<&[usize]> {
        match groups.iter().find(|(name, _)| name == n) {
            Some((_, members)) => Ok(members),
            None => Err(ConfigError { field: f, problem: format!("no provider named {n:?}") }),
        }
    };
    // A multi-tenant name stands for any of its tenants.
    let list = |f: &str, l: Vec<String>, one_each: bool| -> R<Vec<usize>> {
        if l.is_empty() {
            return err(format!("{field}.{f}"), "must name at least one provider");
        }
        let mut out = Vec::new();
        for (i, n) in l.iter().enumerate() {
            let members = group(format!("{field}.{f}[{i}]"), n)?;
            if one_each && members.len() > 1 {
                return err(
                    format!("{field}.{f}[{i}]"),
                    "a multi-tenant provider stands for any of its tenants; it cannot be part of `all_of`",
                );
            }
            out.extend_from_slice(members);
        }
        Ok(out)
    };
    match (r.provider, r.any_of, r.all_of, r.allow_missing) {
        (Some(p), None, None, None) => match group(format!("{field}.provider"), &p)? {
            [one] => Ok(Requirement::Provider(*one)),
            tenants => Ok(Requirement::AnyOf(tenants.to_vec())),
        },
        (None, Some(l), None, None) => Ok(Requirement::AnyOf(list("any_of", l, false)?)),
        (None, None, Some(l), None) => Ok(Requirement::AllOf(list("all_of", l, true)?)),
        (None, None, None, Some(l)) => Ok(Requirement::AllowMissing(list("allow_missing", l, false)?)),
        _ => err(field, "give exactly one of `provider`, `any_of`, `all_of` or `allow_missing`"),
    }
}
