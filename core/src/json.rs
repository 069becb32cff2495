//! JSON parsing that refuses duplicate object members at any depth.
//!
//! RFC 7515 §5.2 lets a parser either reject duplicates or keep the last; parsers that
//! keep the first exist, so two components could read two different `alg`s or `sub`s
//! from one token. jwtgate rejects.

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};
use std::cell::Cell;
use std::fmt;

/// Deserialises a `serde_json::Value`, refusing duplicate object members at any depth.
/// A duplicate is flagged in `duplicate` as well as failing the parse, so the caller
/// tells it from a syntax error without reading serde's message text.
#[derive(Clone, Copy)]
struct Strict<'a> {
    duplicate: &'a Cell<bool>,
}

impl<'de> DeserializeSeed<'de> for Strict<'_> {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let v = map.next_value_seed(self)?;
            if out.contains_key(&key) {
                self.duplicate.set(true);
                return Err(de::Error::custom(format!("duplicate member `{key}`")));
            }
            out.insert(key, v);
        }
        Ok(Value::Object(out))
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
    let duplicate = Cell::new(false);
    let value = Strict { duplicate: &duplicate }.deserialize(&mut de).map_err(|_| {
        if duplicate.get() {
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
