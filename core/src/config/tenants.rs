//! Multi-tenant providers: `issuer_pattern` (`https://login.example/{tenant}/v2.0`) plus
//! an explicit `tenants` allow-list expand, at load, into one provider per tenant
//! (`<name>.<tenant>`), each with its own issuer, key set (a `{tenant}` in the JWKS or
//! introspection URL is filled in too), cooldowns and metrics. Nothing is derived from
//! a token at run time: a tenant not on the list has no provider, so its tokens fail
//! issuer selection (istio#18326 asks for the same without the allow-list).
//! Rules name the base provider; it stands for all its tenants (`any_of`).

use super::raw::RawProvider;
use super::validate::{err, R};
use std::collections::BTreeMap;

const PLACEHOLDER: &str = "{tenant}";

/// The providers after expansion, in order, and what each configured name stands for.
pub struct Expanded {
    pub providers: Vec<(String, RawProvider)>,
    /// Configured name → indices into `providers` (one, or one per tenant).
    pub groups: Vec<(String, Vec<usize>)>,
}

pub fn expand(raw: BTreeMap<String, RawProvider>) -> R<Expanded> {
    let mut out = Expanded { providers: Vec::new(), groups: Vec::new() };
    for (name, mut p) in raw {
        let f = |field: &str| format!("providers.{name}.{field}");
        let (pattern, tenants) = match (p.issuer_pattern.take(), p.tenants.take()) {
            (None, None) => {
                out.groups.push((name.clone(), vec![out.providers.len()]));
                out.providers.push((name, p));
                continue;
            }
            (Some(_), None) => return err(f("tenants"), "`issuer_pattern` needs an explicit `tenants` list"),
            (None, Some(_)) => return err(f("issuer_pattern"), "`tenants` needs an `issuer_pattern` with `{tenant}`"),
            (Some(pattern), Some(tenants)) => (pattern, tenants),
        };
        if p.issuer.is_some() {
            return err(f("issuer"), "give either `issuer` or `issuer_pattern` with `tenants`, not both");
        }
        if !pattern.contains(PLACEHOLDER) {
            return err(f("issuer_pattern"), "must contain `{tenant}`");
        }
        if tenants.is_empty() {
            return err(f("tenants"), "must list at least one tenant");
        }
        let mut members = Vec::new();
        for (i, t) in tenants.iter().enumerate() {
            let ok =
                !t.is_empty() && t.len() <= 64 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b));
            if !ok {
                return err(format!("providers.{name}.tenants[{i}]"), "a tenant is 1 to 64 of `A-Za-z0-9-_`");
            }
            if tenants[..i].contains(t) {
                return err(format!("providers.{name}.tenants[{i}]"), format!("tenant {t:?} is listed twice"));
            }
            members.push(out.providers.len());
            out.providers.push((format!("{name}.{t}"), for_tenant(&p, &pattern, t)));
        }
        out.groups.push((name, members));
    }
    Ok(out)
}

/// One tenant's provider: the pattern's issuer, and `{tenant}` filled in wherever a
/// URL of the provider has it.
fn for_tenant(p: &RawProvider, pattern: &str, tenant: &str) -> RawProvider {
    let fill = |s: &mut Option<String>| {
        if let Some(v) = s.as_mut() {
            *v = v.replace(PLACEHOLDER, tenant);
        }
    };
    let mut p = p.clone();
    p.issuer = Some(pattern.replace(PLACEHOLDER, tenant));
    if let Some(j) = p.jwks.as_mut() {
        fill(&mut j.uri);
        fill(&mut j.path);
    }
    if let Some(i) = p.introspection.as_mut() {
        fill(&mut i.uri);
        fill(&mut i.path);
    }
    p
}

#[cfg(test)]
#[path = "tenants_tests.rs"]
mod tests;
