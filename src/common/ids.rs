//! User and unit ids in JSON: a string, or a whole number standing for its
//! decimal digits. Pipe-sizing code numbers its networks, so `42` and `"42"`
//! are one unit in a C caller's context JSON, in Python and on the command
//! line alike.

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// The id `value` stands for: a string as it is, a whole number as its
/// decimal digits; `None` for anything else (a fraction, a boolean, ...).
pub fn id_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(n.to_string()),
        _ => None,
    }
}

/// What [`id_text`] says of an optional field, for `#[serde(deserialize_with)]`.
pub fn deserialize_optional_id<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    match Option::<Value>::deserialize(deserializer)? {
        None | Some(Value::Null) => Ok(None),
        Some(value) => id_text(&value).map(Some).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "expected a string or a whole number as an id, found {value}"
            ))
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_and_whole_numbers_are_ids() {
        assert_eq!(id_text(&json!("planner-7")), Some("planner-7".into()));
        assert_eq!(id_text(&json!(4711)), Some("4711".into()));
        assert_eq!(id_text(&json!(-3)), Some("-3".into()));
        assert_eq!(id_text(&json!(u64::MAX)), Some(u64::MAX.to_string()));
        assert_eq!(id_text(&json!(1.5)), None);
        assert_eq!(id_text(&json!(true)), None);
        assert_eq!(id_text(&json!(["42"])), None);
    }
}
