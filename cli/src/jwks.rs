//! `jwtgate jwks inspect|diff`: a key set as the core reads it. The set is parsed by the
//! core's own JWKS parser (as a fetched, remote set: symmetric keys refused), once whole
//! (what the gate would load, or why it refuses the set and keeps its last good one) and
//! once per entry (each key's algorithms, or the reason the core skips it).

use crate::cli::{DiffArgs, FetchArgs, InspectArgs};
use crate::fail::{read, Exit, Fail};
use jwtgate_core::{fingerprint, parse_jwks, Alg, JwksError, JwksOrigin};
use serde_json::{json, Value};
use std::path::Path;

/// One entry of the set, as the core judges it alone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// `kid`, or `#<index>` when it has none.
    pub id: String,
    pub kty: String,
    pub crv: Option<String>,
    pub use_: Option<String>,
    pub alg: Option<String>,
    /// A short hash of the entry's members: equal hashes, same key.
    pub material: String,
    /// The algorithms it verifies, or why it is skipped.
    pub usable: Result<Vec<&'static str>, String>,
}

/// The whole set's verdict and its entries.
pub struct Report {
    pub set: Result<usize, JwksError>,
    pub entries: Vec<Entry>,
}

pub fn report(bytes: &[u8], allowed: &[Alg]) -> Result<Report, Fail> {
    let set = parse_jwks(bytes, JwksOrigin::Remote, allowed).map(|doc| doc.keys.len());
    let doc: Value = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let entries = doc["keys"]
        .as_array()
        .map_or(Vec::new(), |keys| keys.iter().enumerate().map(|(i, e)| entry(i, e, allowed)).collect());
    Ok(Report { set, entries })
}

fn entry(i: usize, e: &Value, allowed: &[Alg]) -> Entry {
    let text = |k: &str| e[k].as_str().map(str::to_owned);
    let alone = json!({ "keys": [e] }).to_string();
    let usable = match parse_jwks(alone.as_bytes(), JwksOrigin::Remote, allowed) {
        Ok(doc) => Ok(doc.keys.iter().flat_map(|k| k.algorithms()).map(Alg::name).collect()),
        Err(JwksError::NoUsableKeys(why)) => {
            Err(why.join("; ").split_once(": ").map_or(String::new(), |(_, r)| r.to_owned()))
        }
        Err(other) => Err(other.to_string()),
    };
    Entry {
        id: text("kid").unwrap_or_else(|| format!("#{i}")),
        kty: text("kty").unwrap_or_else(|| "?".into()),
        crv: text("crv"),
        use_: text("use"),
        alg: text("alg"),
        material: fingerprint(&e.to_string()),
        usable,
    }
}

/// `--algorithms`, or every asymmetric algorithm the core knows.
fn algorithms(names: &[String]) -> Result<Vec<Alg>, Fail> {
    if names.is_empty() {
        return Ok(Alg::ALL.into_iter().filter(|a| !a.is_symmetric()).collect());
    }
    names
        .iter()
        .map(|n| Alg::parse(n).ok_or_else(|| Fail::Usage(format!("--algorithms: unknown algorithm {n:?}"))))
        .collect()
}

fn load(path: &Path, allowed: &[Alg]) -> Result<Report, Fail> {
    report(read(path)?.as_bytes(), allowed)
}

pub fn inspect(args: &InspectArgs) -> Result<Exit, Fail> {
    let r = load(&args.file, &algorithms(&args.algorithms)?)?;
    print_report(&r, args.json)
}

/// `jwks fetch URL`: the body as fetched (saved with `--out`), reported as `inspect` does.
pub fn fetch(args: &FetchArgs) -> Result<Exit, Fail> {
    let body = crate::fetch::get(&args.url)?;
    if let Some(out) = &args.out {
        std::fs::write(out, &body).map_err(|error| Fail::Write { path: out.display().to_string(), error })?;
    }
    print_report(&report(&body, &algorithms(&args.algorithms)?)?, args.json)
}

fn print_report(r: &Report, json: bool) -> Result<Exit, Fail> {
    if json {
        println!("{}", serde_json::to_string_pretty(&as_json(r)).unwrap_or_default());
    } else {
        print!("{}", as_text(r));
    }
    Ok(if r.set.is_ok() { Exit::Ok } else { Exit::Findings })
}

fn verdict(r: &Report) -> String {
    match &r.set {
        Ok(n) => format!("the gate loads this set: {n} usable key(s)"),
        Err(e) => format!("the gate refuses this set and keeps its last good one: {e}"),
    }
}

fn describe(e: &Entry) -> String {
    let crv = e.crv.as_ref().map_or(String::new(), |c| format!("/{c}"));
    let use_ = e.use_.as_ref().map_or(String::new(), |u| format!(" use={u}"));
    let alg = e.alg.as_ref().map_or(String::new(), |a| format!(" alg={a}"));
    let state = match &e.usable {
        Ok(algs) => format!("usable for {}", algs.join(", ")),
        Err(why) => format!("refused: {why}"),
    };
    format!("{} {}{crv}{use_}{alg} [{}]: {state}", e.id, e.kty, e.material)
}

fn as_text(r: &Report) -> String {
    let mut s = format!("{}\n", verdict(r));
    for e in &r.entries {
        s.push_str(&format!("  {}\n", describe(e)));
    }
    s
}

fn entry_json(e: &Entry) -> Value {
    json!({
        "kid": e.id, "kty": e.kty, "crv": e.crv, "use": e.use_, "alg": e.alg, "material": e.material,
        "usable": e.usable.as_ref().ok(), "refused": e.usable.as_ref().err(),
    })
}

fn as_json(r: &Report) -> Value {
    json!({
        "loads": r.set.is_ok(),
        "usable_keys": r.set.as_ref().ok(),
        "error": r.set.as_ref().err().map(ToString::to_string),
        "keys": r.entries.iter().map(entry_json).collect::<Vec<_>>(),
    })
}

/// What changed between two sets, by key id.
pub fn changes(old: &Report, new: &Report) -> Vec<String> {
    let mut out = Vec::new();
    for e in &old.entries {
        match new.entries.iter().find(|n| n.id == e.id) {
            None => out.push(format!("- removed {}", describe(e))),
            Some(n) if n.material != e.material => {
                out.push(format!("~ changed {} (was [{}])", describe(n), e.material))
            }
            Some(n) if n.usable != e.usable => out.push(format!("~ usability {} (was {})", describe(n), describe(e))),
            Some(_) => {}
        }
    }
    for n in new.entries.iter().filter(|n| !old.entries.iter().any(|e| e.id == n.id)) {
        out.push(format!("+ added {}", describe(n)));
    }
    out
}

pub fn diff(args: &DiffArgs) -> Result<Exit, Fail> {
    let allowed = algorithms(&args.algorithms)?;
    let (old, new) = (load(&args.old, &allowed)?, load(&args.new, &allowed)?);
    let changed = changes(&old, &new);
    if args.json {
        let out = json!({ "old": as_json(&old), "new": as_json(&new), "changes": changed });
        println!("{}", serde_json::to_string_pretty(&out).unwrap_or_default());
    } else {
        println!("old: {}\nnew: {}", verdict(&old), verdict(&new));
        changed.iter().for_each(|c| println!("{c}"));
        if changed.is_empty() {
            println!("no key changed");
        }
    }
    // Tokens signed with a usable key that is gone (or now other material, or refused)
    // stop verifying once the new set is fetched: exit 1, so a rotation script can stop.
    let kept = |e: &Entry| new.entries.iter().any(|n| n.id == e.id && n.material == e.material && n.usable.is_ok());
    let lost: Vec<&str> = old.entries.iter().filter(|e| e.usable.is_ok() && !kept(e)).map(|e| e.id.as_str()).collect();
    if !lost.is_empty() && !args.json {
        println!("tokens signed with {} stop verifying once the new set is fetched", lost.join(", "));
    }
    Ok(if !lost.is_empty() || new.set.is_err() { Exit::Findings } else { Exit::Ok })
}
