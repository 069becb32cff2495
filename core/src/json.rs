//! JSON parsing that refuses duplicate object members at any depth.
//!
//! RFC 7515 §5.2 lets a parser either reject duplicates or keep the last; parsers that
//! keep the first exist, so two components could read two different `alg`s or `sub`s
//! from one token. jwtgate rejects.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::fmt;

/// A `serde_json::Value` whose objects had no duplicate members.
struct Strict(Value);

impl<'de> Deserialize<'de> for Strict {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(StrictVisitor)
    }
}

struct StrictVisitor;

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Strict;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Strict, E> {
        Ok(Strict(Value::Bool(v)))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Strict, E> {
        Ok(Strict(Value::from(v)))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Strict, E> {
        Ok(Strict(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Strict, E> {
        Ok(Strict(Value::String(v.to_owned())))
    }
    fn visit_string<E>(self, v: String) -> Result<Strict, E> {
        Ok(Strict(Value::String(v)))
    }
    fn visit_unit<E>(self) -> Result<Strict, E> {
        Ok(Strict(Value::Null))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
        let mut out = Vec::new();
        while let Some(Strict(v)) = seq.next_element()? {
            out.push(v);
        }
        Ok(Strict(Value::Array(out)))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let Strict(v) = map.next_value()?;
            if out.insert(key.clone(), v).is_some() {
                return Err(de::Error::custom(format!("duplicate member `{key}`")));
            }
        }
        Ok(Strict(Value::Object(out)))
    }
}

/// Why bytes are not an acceptable JSON object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JsonError {
    NotUtf8,
    Syntax,
    Duplicate,
    NotAnObject,
}

/// Parses UTF-8 bytes into a JSON object, rejecting duplicate members anywhere.
/// serde_json's recursion limit (128) bounds nesting, which keeps the wasm stack safe.
pub fn parse_object(bytes: &[u8]) -> Result<Map<String, Value>, JsonError> {
    let text = std::str::from_utf8(bytes).map_err(|_| JsonError::NotUtf8)?;
    let mut de = serde_json::Deserializer::from_str(text);
    let Strict(value) = Strict::deserialize(&mut de).map_err(|e| {
        if e.to_string().starts_with("duplicate member") {
            JsonError::Duplicate
        } else {
            JsonError::Syntax
        }
    })?;
    de.end().map_err(|_| JsonError::Syntax)?;
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(JsonError::NotAnObject),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_objects() {
        let m = parse_object(br#"{"a":1,"b":[1,{"c":"d"}]}"#).expect("valid");
        assert_eq!(m["a"], 1);
        assert_eq!(m["b"][1]["c"], "d");
    }

    #[test]
    fn rejects_duplicates_at_top_and_nested() {
        assert_eq!(parse_object(br#"{"alg":"RS256","alg":"none"}"#), Err(JsonError::Duplicate));
        assert_eq!(parse_object(br#"{"a":{"x":1,"x":2}}"#), Err(JsonError::Duplicate));
        assert_eq!(parse_object(br#"{"a":[{"x":1,"x":2}]}"#), Err(JsonError::Duplicate));
    }

    #[test]
    fn rejects_non_objects_trailing_data_and_bad_utf8() {
        assert_eq!(parse_object(b"[1]"), Err(JsonError::NotAnObject));
        assert_eq!(parse_object(br#"{"a":1} x"#), Err(JsonError::Syntax));
        assert_eq!(parse_object(b"{\"a\":\"\xff\"}"), Err(JsonError::NotUtf8));
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{{\"a\":{}1{}}}", "[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(parse_object(deep.as_bytes()), Err(JsonError::Syntax));
    }
}
