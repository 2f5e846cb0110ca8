//! Whether YAML text reads as a given object, checked while it is parsed.
//!
//! Every edited document is read back before it is written (an edit must
//! mean exactly what the step set). Building the read-back as a
//! `serde_json::Value` only to compare it and drop it cost about a third
//! of a whole run over a large bundle; this reader walks the parser's
//! events against the expected object instead, allocates nothing, and
//! stops at the first difference. It takes every value the way
//! `serde_json::Value` would (the same visitor calls, the same keys), so
//! it agrees with [`crate::yaml::read_object`] followed by `==`, except
//! that it answers "no" where that path would fail or be ambiguous
//! (128-bit integers): the caller then falls back to
//! a rendering that is always right.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// True when `text` (one document) parses, under the same options and
/// limits as [`crate::yaml::read_object`], to exactly `expected`.
pub(crate) fn reads_as(text: &str, expected: &Map<String, Value>) -> bool {
    let expected = Expected::Object(expected);
    serde_saphyr::with_deserializer_from_str_with_options(
        text,
        crate::yaml::kubernetes(text),
        |de| expected.deserialize(de),
    )
    .is_ok()
}

/// What the next value must be. The root is held as a map so the caller
/// need not build a `Value` around it.
#[derive(Clone, Copy)]
enum Expected<'a> {
    Object(&'a Map<String, Value>),
    Value(&'a Value),
}

impl<'a> Expected<'a> {
    /// True when a scalar the parser produced equals the expectation.
    fn is(self, actual: &Value) -> bool {
        matches!(self, Expected::Value(expected) if expected == actual)
    }

    fn object(self) -> Option<&'a Map<String, Value>> {
        match self {
            Expected::Object(map) | Expected::Value(Value::Object(map)) => Some(map),
            Expected::Value(_) => None,
        }
    }
}

/// A difference: parsing stops there.
fn differs<E: de::Error>() -> E {
    E::custom("differs")
}

fn check<E: de::Error>(same: bool) -> Result<(), E> {
    if same { Ok(()) } else { Err(differs()) }
}

impl<'de> DeserializeSeed<'de> for Expected<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Expected<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("the value the step set")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<(), E> {
        check(self.is(&Value::Bool(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        check(self.is(&Value::from(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        check(self.is(&Value::from(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        // As serde_json: a float JSON cannot hold reads as null.
        let value = serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number);
        check(self.is(&value))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        check(matches!(self, Expected::Value(Value::String(s)) if s == v))
    }

    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        check(self.is(&Value::Null))
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        check(self.is(&Value::Null))
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Expected::Value(Value::Array(items)) = self else {
            return Err(differs());
        };
        let mut read = 0;
        while seq.next_element_seed(ElementOf(items.get(read)))?.is_some() {
            read += 1;
        }
        check(read == items.len())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let expected = self.object().ok_or_else(differs)?;
        // The parser refuses a key given twice, so as many known keys as
        // expected are all of them.
        let mut keys = 0;
        while let Some(value) = map.next_key_seed(KeyOf(expected))? {
            map.next_value_seed(Expected::Value(value))?;
            keys += 1;
        }
        check(keys == expected.len())
    }
}

/// A sequence element that must be the next expected item (none left: a
/// difference).
struct ElementOf<'a>(Option<&'a Value>);

impl<'de> DeserializeSeed<'de> for ElementOf<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        let expected = self.0.ok_or_else(differs)?;
        Expected::Value(expected).deserialize(deserializer)
    }
}

/// A mapping key, read as serde_json reads one (a string): the value
/// the expected object has under it.
struct KeyOf<'a>(&'a Map<String, Value>);

impl<'de, 'a> DeserializeSeed<'de> for KeyOf<'a> {
    type Value = &'a Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<&'a Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'a> Visitor<'de> for KeyOf<'a> {
    type Value = &'a Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key the step set")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<&'a Value, E> {
        self.0.get(key).ok_or_else(differs)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::reads_as;
    use crate::yaml::read_object;

    fn object(value: serde_json::Value) -> serde_json::Map<String, serde_json::Value> {
        match value {
            serde_json::Value::Object(map) => map,
            _ => unreachable!("an object literal"),
        }
    }

    #[test]
    fn a_document_reads_as_itself_and_not_as_a_neighbour() {
        let text = "a: 0644\nb: [1, 2.5, null, ~]\nc: {d: \"x\", e: yes}\nf: &x {g: 1}\nh: *x\n";
        let same = read_object(text).expect("parses");
        assert!(reads_as(text, &same));
        for other in [
            json!({"a": 420, "b": [1, 2.5, null, null], "c": {"d": "x", "e": true}, "f": {"g": 1}}),
            json!({"a": 420, "b": [1, 2.5, null], "c": {"d": "x", "e": true}, "f": {"g": 1}, "h": {"g": 1}}),
            json!({"a": 420, "b": [1, 2.5, null, null, 5], "c": {"d": "x", "e": true}, "f": {"g": 1}, "h": {"g": 1}}),
            json!({"a": "0644", "b": [1, 2.5, null, null], "c": {"d": "x", "e": true}, "f": {"g": 1}, "h": {"g": 1}}),
            json!({"a": 420, "b": [1, 2.5, null, null], "c": {"d": "x", "e": "yes"}, "f": {"g": 1}, "h": {"g": 1}}),
            json!({"a": 420, "b": [1, 2.5, null, null], "c": {"d": "x", "e": true}, "f": {"g": 1}, "h": {"g": 2}}),
            json!({"a": 420, "b": [1, 2.5, null, null], "c": {"d": "x", "e": true}, "f": {"g": 1}, "h": {"g": 1}, "i": 1}),
        ] {
            assert!(!reads_as(text, &object(other.clone())), "{other}");
        }
    }

    #[test]
    fn text_that_does_not_parse_reads_as_nothing() {
        assert!(!reads_as("a: [\n", &object(json!({"a": []}))));
        assert!(!reads_as("a: 1\na: 1\n", &object(json!({"a": 1}))));
        assert!(!reads_as("- 1\n", &object(json!({}))));
    }

    proptest! {
        /// The reader agrees with parsing to a value and comparing, on
        /// documents of scalars, sequences and mappings, against the
        /// document itself and against a one-value change.
        #[test]
        fn agrees_with_parsing_and_comparing(
            text in "([a-c]: (0[0-9]{1,3}|-?[0-9]{1,3}(\\.[0-9])?|yes|no|~|\"[a-c]*\"|\\[[0-9, ]{0,6}\\]|\\{[a-c]: [0-9]\\})\n){1,6}",
            replacement in prop_oneof![Just(json!(1)), Just(json!("1")), Just(json!(null)), Just(json!([1])), Just(json!({"a": 1}))],
        ) {
            let Some(read) = read_object(&text) else { return Ok(()) };
            prop_assert!(reads_as(&text, &read), "{}", text);
            let mut changed = read.clone();
            if let Some((_, value)) = changed.iter_mut().next() {
                *value = replacement;
            }
            prop_assert_eq!(reads_as(&text, &changed), changed == read, "{}", text);
        }
    }
}
