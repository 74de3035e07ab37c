//! Typed values, as OpenFeature's typed evaluation gives them: a flag's
//! value as a boolean, a string, a number or JSON, or the caller's default
//! with the reason it applies.
//!
//! - A boolean is whether the flag is on.
//! - Any other type is the payload of the variant the unit gets while the
//!   flag is on (a variant without a payload is its name, as a string or
//!   a JSON string). A payload of another type, or no variant at all, is a
//!   `TYPE_MISMATCH`.
//! - A flag that is off gives the default, with the reason it is off
//!   (`DISABLED`, `DEFAULT`, `PREREQUISITE_FAILED`, ...); an evaluation
//!   error gives the default with reason `ERROR` and its code, and so does
//!   a flag that is on without its variant because the context lacks the
//!   variants' stickiness attribute (`INVALID_CONTEXT`).

use serde::Serialize;

use super::evaluate::{ErrorCode, Evaluation, Reason};

/// The type of value a caller asks of a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValueType {
    Bool,
    String,
    Double,
    Int,
    Json,
}

impl ValueType {
    /// Every type, in documentation order.
    pub const ALL: [ValueType; 5] = [
        ValueType::Bool,
        ValueType::String,
        ValueType::Double,
        ValueType::Int,
        ValueType::Json,
    ];

    /// The name in the CLI and in JSON (`double`).
    pub fn as_str(self) -> &'static str {
        match self {
            ValueType::Bool => "bool",
            ValueType::String => "string",
            ValueType::Double => "double",
            ValueType::Int => "int",
            ValueType::Json => "json",
        }
    }

    /// The type named `name`.
    pub fn parse(name: &str) -> Option<ValueType> {
        ValueType::ALL.into_iter().find(|t| t.as_str() == name)
    }
}

/// A flag's value of the type asked for; strings borrow from the flag set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FlagValue<'a> {
    Bool(bool),
    String(&'a str),
    Double(f64),
    Int(i64),
    /// A payload, or a variant's name as a JSON string.
    Json(JsonValue<'a>),
}

/// The JSON value of a variant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum JsonValue<'a> {
    Payload(&'a serde_json::Value),
    Name(&'a str),
}

impl JsonValue<'_> {
    /// The owned JSON value.
    pub fn to_value(self) -> serde_json::Value {
        match self {
            JsonValue::Payload(v) => v.clone(),
            JsonValue::Name(n) => serde_json::Value::String(n.to_string()),
        }
    }
}

/// Why the caller's default is the value: the evaluation's reason, and
/// its error when the reason is `ERROR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fallback {
    pub reason: Reason,
    pub error: Option<ErrorCode>,
}

impl Fallback {
    const MISMATCH: Fallback = Fallback {
        reason: Reason::Error,
        error: Some(ErrorCode::TypeMismatch),
    };
}

impl<'a> Evaluation<'a> {
    /// The flag's value as `kind`, or why the caller's default applies.
    ///
    /// # Errors
    /// The [`Fallback`]: an evaluation error, a flag that is off, or a
    /// value of another type (`TYPE_MISMATCH`).
    pub fn value(&self, kind: ValueType) -> Result<FlagValue<'a>, Fallback> {
        if self.reason == Reason::Error {
            return Err(Fallback {
                reason: Reason::Error,
                error: self.error,
            });
        }
        if kind == ValueType::Bool {
            return Ok(FlagValue::Bool(self.enabled));
        }
        if !self.enabled {
            return Err(Fallback {
                reason: self.reason,
                error: None,
            });
        }
        if let Some(error) = self.error {
            // On, but without the variant the value would come from.
            return Err(Fallback {
                reason: Reason::Error,
                error: Some(error),
            });
        }
        let Some(name) = self.variant else {
            return Err(Fallback::MISMATCH);
        };
        let value = match (kind, self.payload) {
            (ValueType::String, None) => FlagValue::String(name),
            (ValueType::Json, None) => FlagValue::Json(JsonValue::Name(name)),
            (ValueType::String, Some(serde_json::Value::String(s))) => FlagValue::String(s),
            (ValueType::Double, Some(serde_json::Value::Number(n))) => {
                FlagValue::Double(n.as_f64().ok_or(Fallback::MISMATCH)?)
            }
            (ValueType::Int, Some(serde_json::Value::Number(n))) => {
                FlagValue::Int(whole(n).ok_or(Fallback::MISMATCH)?)
            }
            (ValueType::Json, Some(p)) => FlagValue::Json(JsonValue::Payload(p)),
            _ => return Err(Fallback::MISMATCH),
        };
        Ok(value)
    }
}

/// A JSON number as an `i64` if it is a whole number in range.
fn whole(n: &serde_json::Number) -> Option<i64> {
    if let Some(i) = n.as_i64() {
        return Some(i);
    }
    let f = n.as_f64()?;
    // 2^63 is the first float past i64::MAX; -2^63 is i64::MIN exactly.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    (f.fract() == 0.0 && (-TWO_POW_63..TWO_POW_63).contains(&f)).then_some(f as i64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn on<'a>(variant: Option<&'a str>, payload: Option<&'a serde_json::Value>) -> Evaluation<'a> {
        Evaluation {
            variant,
            payload,
            ..Evaluation::new(true, Reason::TargetingMatch, "rules[0]")
        }
    }

    #[test]
    fn payloads_give_their_own_type_only() {
        let number = json!(2.5);
        let whole_number = json!(3.0);
        let text = json!("strict");
        let object = json!({"max_velocity_ms": 2.0});
        let e = on(Some("v"), Some(&number));
        assert_eq!(e.value(ValueType::Double), Ok(FlagValue::Double(2.5)));
        assert_eq!(e.value(ValueType::Int), Err(Fallback::MISMATCH));
        assert_eq!(e.value(ValueType::String), Err(Fallback::MISMATCH));
        assert_eq!(e.value(ValueType::Bool), Ok(FlagValue::Bool(true)));
        assert_eq!(
            on(Some("v"), Some(&whole_number)).value(ValueType::Int),
            Ok(FlagValue::Int(3))
        );
        assert_eq!(
            on(Some("v"), Some(&text)).value(ValueType::String),
            Ok(FlagValue::String("strict"))
        );
        assert_eq!(
            on(Some("v"), Some(&object)).value(ValueType::Json),
            Ok(FlagValue::Json(JsonValue::Payload(&object)))
        );
        assert_eq!(
            on(Some("v"), None).value(ValueType::String),
            Ok(FlagValue::String("v"))
        );
        assert_eq!(
            on(None, None).value(ValueType::Double),
            Err(Fallback::MISMATCH)
        );
    }

    #[test]
    fn off_and_errors_give_the_default_with_their_reason() {
        let off = Evaluation::new(false, Reason::Disabled, "enabled: false");
        assert_eq!(
            off.value(ValueType::Double),
            Err(Fallback {
                reason: Reason::Disabled,
                error: None
            })
        );
        assert_eq!(off.value(ValueType::Bool), Ok(FlagValue::Bool(false)));
        let missing = Evaluation::not_found();
        for kind in ValueType::ALL {
            assert_eq!(
                missing.value(kind),
                Err(Fallback {
                    reason: Reason::Error,
                    error: Some(ErrorCode::FlagNotFound)
                })
            );
        }
    }
}
