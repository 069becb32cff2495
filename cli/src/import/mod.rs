//! `jwtgate import istio|envoy`: translate another gate's config into a jwtgate config.
//!
//! The output makes every behaviour the source left implicit explicit (a default token
//! place, clock skew, what happens to a request no rule matches), and says so in a note.
//! Anything without a faithful translation is listed as `dropped`; then the exit status
//! is 1 and no config is printed, unless `--allow-partial`. The produced config is loaded
//! by the core before it is printed, so an import never emits a config the gate refuses.

mod envoy;
mod istio;
mod source;

use crate::cli::{ImportArgs, ImportKind};
use crate::fail::{read, Exit, Fail};
use serde_json::{json, Map, Value};

/// The claim the deny-everything rule of an untranslated requirement asks for: no IdP
/// issues it, so the rule answers 403 until someone translates the source by hand.
pub const UNTRANSLATED_CLAIM: &str = "jwtgate_import_untranslated";

/// What the importer says about one part of the source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Note {
    /// The source did this without saying so; the output now says it.
    Implicit { at: String, text: String },
    /// No faithful translation: left out (or translated more strictly, as the text says).
    Dropped { at: String, text: String },
}

/// The translation so far: the jwtgate config being built and the notes.
#[derive(Default)]
pub struct Import {
    pub providers: Map<String, Value>,
    pub rules: Vec<Value>,
    pub notes: Vec<Note>,
}

impl Import {
    pub fn implicit(&mut self, at: impl Into<String>, text: impl Into<String>) {
        self.notes.push(Note::Implicit { at: at.into(), text: text.into() });
    }

    pub fn dropped(&mut self, at: impl Into<String>, text: impl Into<String>) {
        self.notes.push(Note::Dropped { at: at.into(), text: text.into() });
    }

    /// Fields of a source object this importer does not read, each a `dropped` note:
    /// a field it does not know could change what the source enforces.
    pub fn unknown_fields(&mut self, obj: &Value, at: &str, known: &[&str]) {
        let Some(map) = obj.as_object() else { return };
        for k in map.keys().filter(|k| !known.contains(&k.as_str())) {
            self.dropped(format!("{at}.{k}"), "not translated (no jwtgate equivalent, or not a field of this message)");
        }
    }

    pub fn config(&self) -> Value {
        json!({ "providers": self.providers, "rules": self.rules })
    }

    /// A rule for `m` that refuses every request (403): what an untranslatable requirement
    /// becomes, so a partial import is never laxer than its source on those paths.
    pub fn deny_rule(&self, m: Value, name: &str) -> Value {
        let providers: Vec<&String> = self.providers.keys().collect();
        json!({
            "name": name,
            "match": m,
            "requires": { "any_of": providers },
            "require": { "claim": UNTRANSLATED_CLAIM, "op": "exists" }
        })
    }

    fn has_dropped(&self) -> bool {
        self.notes.iter().any(|n| matches!(n, Note::Dropped { .. }))
    }
}

pub fn run(args: &ImportArgs) -> Result<Exit, Fail> {
    let mut docs = Vec::new();
    for f in &args.files {
        let text = read(f)?;
        for (i, doc) in serde_norway::Deserializer::from_str(&text).enumerate() {
            let value = <Value as serde::Deserialize>::deserialize(doc)
                .map_err(|e| Fail::Usage(format!("{}: document {}: {e}", f.display(), i + 1)))?;
            if !value.is_null() {
                docs.push((format!("{}#{}", f.display(), i + 1), value));
            }
        }
    }
    let import = match args.kind {
        ImportKind::Istio => istio::translate(&docs),
        ImportKind::Envoy => envoy::translate(&docs),
    };
    let config = import.config();
    let text = serde_json::to_string_pretty(&config).unwrap_or_default();
    for n in &import.notes {
        match n {
            Note::Implicit { at, text } => eprintln!("implicit {at}: {text}"),
            Note::Dropped { at, text } => eprintln!("dropped  {at}: {text}"),
        }
    }
    if let Err(e) = jwtgate_core::GateConfig::from_json(&text) {
        eprintln!("the translated config does not load: {e}");
        return Ok(Exit::Findings);
    }
    if import.has_dropped() && !args.allow_partial {
        eprintln!(
            "not everything could be translated (see `dropped`): no config written; --allow-partial writes it anyway"
        );
        return Ok(Exit::Findings);
    }
    println!("{text}");
    Ok(Exit::Ok)
}

#[cfg(test)]
mod tests;
