//! The denylist: one hash map per kind of target, so a request costs at most four
//! lookups (`jti`, `sub`, `sid`, each client id) whatever the list's size.
//!
//! Every entry keeps its expiry. Expired entries never match (a token they could match
//! has expired too, given a correct `exp`), and [`Denylist::prune`] drops them, so the
//! list's memory follows the live tokens rather than the history of revocations.

use super::entry::{Entry, Target, TokenIds};
use std::collections::HashMap;

/// A `sub` or `client_id` entry: tokens issued before `iat_before` (every token when
/// `None`) are revoked until `exp_s`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cutoff {
    pub iat_before: Option<u64>,
    pub exp_s: u64,
}

impl Cutoff {
    /// Two entries for the same subject: the wider one wins on each axis.
    fn merge(self, other: Cutoff) -> Cutoff {
        let iat_before = match (self.iat_before, other.iat_before) {
            (Some(a), Some(b)) => Some(a.max(b)),
            _ => None,
        };
        Cutoff { iat_before, exp_s: self.exp_s.max(other.exp_s) }
    }

    /// A token without `iat` cannot prove it was issued after the cutoff: it matches.
    fn covers(&self, iat: Option<u64>) -> bool {
        match (self.iat_before, iat) {
            (None, _) | (Some(_), None) => true,
            (Some(before), Some(iat)) => iat < before,
        }
    }
}

/// Which kind of entry matched (for logs; never the identifier itself).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Matched {
    Jti,
    Sub,
    Sid,
    ClientId,
    /// The token's Token Status List entry is not VALID.
    StatusList,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Denylist {
    jti: HashMap<String, u64>,
    sid: HashMap<String, u64>,
    sub: HashMap<String, Cutoff>,
    client: HashMap<String, Cutoff>,
}

impl Denylist {
    pub fn len(&self) -> usize {
        self.jti.len() + self.sid.len() + self.sub.len() + self.client.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds an entry (its issuer already checked by the caller); a second entry for the
    /// same target keeps the wider of the two.
    pub fn insert(&mut self, e: Entry) {
        let exp_s = e.exp_s;
        match e.target {
            Target::Jti(id) => keep_max(&mut self.jti, id, exp_s),
            Target::Sid(id) => keep_max(&mut self.sid, id, exp_s),
            Target::Sub { sub, iat_before } => merge(&mut self.sub, sub, Cutoff { iat_before, exp_s }),
            Target::ClientId { client_id, iat_before } => {
                merge(&mut self.client, client_id, Cutoff { iat_before, exp_s })
            }
        }
    }

    /// The first entry that revokes this token at `now_s`, if any. An entry counts until
    /// `exp_s + skew_s`, the same margin the token's own `exp` gets.
    pub fn matches(&self, t: &TokenIds, now_s: u64, skew_s: u64) -> Option<Matched> {
        let live = |exp_s: u64| now_s < exp_s.saturating_add(skew_s);
        let id = |map: &HashMap<String, u64>, k: &Option<String>| {
            k.as_ref().and_then(|k| map.get(k)).is_some_and(|exp| live(*exp))
        };
        let cut = |map: &HashMap<String, Cutoff>, k: &str| map.get(k).is_some_and(|c| live(c.exp_s) && c.covers(t.iat));
        if id(&self.jti, &t.jti) {
            return Some(Matched::Jti);
        }
        if id(&self.sid, &t.sid) {
            return Some(Matched::Sid);
        }
        if t.sub.as_deref().is_some_and(|s| cut(&self.sub, s)) {
            return Some(Matched::Sub);
        }
        t.clients.iter().any(|c| cut(&self.client, c)).then_some(Matched::ClientId)
    }

    /// Drops every entry expired at `now_s` (with `skew_s`); returns how many.
    pub fn prune(&mut self, now_s: u64, skew_s: u64) -> usize {
        let before = self.len();
        let live = |exp_s: u64| now_s < exp_s.saturating_add(skew_s);
        self.jti.retain(|_, exp| live(*exp));
        self.sid.retain(|_, exp| live(*exp));
        self.sub.retain(|_, c| live(c.exp_s));
        self.client.retain(|_, c| live(c.exp_s));
        before - self.len()
    }
}

fn keep_max(map: &mut HashMap<String, u64>, id: String, exp_s: u64) {
    let slot = map.entry(id).or_insert(exp_s);
    *slot = (*slot).max(exp_s);
}

fn merge(map: &mut HashMap<String, Cutoff>, id: String, c: Cutoff) {
    map.entry(id).and_modify(|old| *old = old.merge(c)).or_insert(c);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(v: serde_json::Value) -> Entry {
        Entry::from_json(&v).expect("valid entry")
    }

    fn ids(v: serde_json::Value) -> TokenIds {
        TokenIds::of(v.as_object().expect("object"))
    }

    fn list(entries: &[serde_json::Value]) -> Denylist {
        let mut l = Denylist::default();
        entries.iter().for_each(|e| l.insert(entry(e.clone())));
        l
    }

    #[test]
    fn each_kind_matches_its_claim_only() {
        let l = list(&[
            json!({"jti": "j1", "exp": 100}),
            json!({"sid": "s1", "exp": 100}),
            json!({"sub": "u1", "iat_before": 50, "exp": 100}),
            json!({"client_id": "c1", "exp": 100}),
        ]);
        assert_eq!(l.len(), 4);
        assert_eq!(l.matches(&ids(json!({"jti": "j1"})), 10, 0), Some(Matched::Jti));
        assert_eq!(l.matches(&ids(json!({"jti": "j2", "sid": "s1"})), 10, 0), Some(Matched::Sid));
        assert_eq!(l.matches(&ids(json!({"sub": "u1", "iat": 49})), 10, 0), Some(Matched::Sub));
        assert_eq!(l.matches(&ids(json!({"sub": "u1", "iat": 50})), 10, 0), None, "issued at the cutoff");
        assert_eq!(l.matches(&ids(json!({"sub": "u1"})), 10, 0), Some(Matched::Sub), "no iat: fail closed");
        assert_eq!(l.matches(&ids(json!({"azp": "c1", "iat": 99})), 10, 0), Some(Matched::ClientId));
        assert_eq!(l.matches(&ids(json!({"client_id": "c1"})), 10, 0), Some(Matched::ClientId));
        // The same value under another claim never matches.
        assert_eq!(l.matches(&ids(json!({"sub": "j1", "sid": "u1", "jti": "c1", "iat": 60})), 10, 0), None);
    }

    #[test]
    fn expired_entries_stop_matching_and_are_pruned() {
        let mut l = list(&[json!({"jti": "j1", "exp": 100}), json!({"sub": "u", "exp": 200})]);
        let t = ids(json!({"jti": "j1"}));
        assert_eq!(l.matches(&t, 99, 0), Some(Matched::Jti));
        assert_eq!(l.matches(&t, 100, 0), None);
        assert_eq!(l.matches(&t, 159, 60), Some(Matched::Jti), "the skew applies to entries too");
        assert_eq!(l.prune(159, 60), 0);
        assert_eq!(l.prune(160, 60), 1);
        assert_eq!(l.len(), 1);
        assert_eq!(l.prune(10_000, 0), 1);
        assert!(l.is_empty());
    }

    #[test]
    fn duplicate_targets_keep_the_wider_entry() {
        let l = list(&[
            json!({"sub": "u", "iat_before": 10, "exp": 100}),
            json!({"sub": "u", "iat_before": 30, "exp": 50}),
            json!({"client_id": "c", "iat_before": 10, "exp": 100}),
            json!({"client_id": "c", "exp": 50}),
        ]);
        assert_eq!(l.len(), 2);
        assert_eq!(l.matches(&ids(json!({"sub": "u", "iat": 20})), 60, 0), Some(Matched::Sub));
        assert_eq!(l.matches(&ids(json!({"azp": "c", "iat": 99})), 60, 0), Some(Matched::ClientId));
        assert_eq!(l.matches(&ids(json!({"sub": "u", "iat": 30})), 60, 0), None);
    }

    #[test]
    fn a_hundred_thousand_entries_cost_lookups_not_scans() {
        let mut l = Denylist::default();
        for i in 0..100_000 {
            l.insert(entry(json!({"jti": format!("j{i}"), "exp": 100})));
        }
        assert_eq!(l.len(), 100_000);
        assert_eq!(l.matches(&ids(json!({"jti": "j99999"})), 1, 0), Some(Matched::Jti));
        assert_eq!(l.matches(&ids(json!({"jti": "nope"})), 1, 0), None);
    }
}
