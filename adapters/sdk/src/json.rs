//! JSON helpers for adapters that read business systems or provincial answers with serde
//! (feature `serde`): those senders write codes and ids as strings in one release and as
//! numbers in the next, so [`Code`] takes both.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// A code or id that senders write either as a JSON string (`"2"`) or as an integer (`2`).
/// It keeps the text; [`Code::to_u8`] and [`Code::to_u64`] read it as a number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Code(String);

impl Code {
    pub fn new(text: impl Into<String>) -> Self {
        Code(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The code as an unsigned number: ASCII digits only (no sign, no spaces, no fraction).
    pub fn to_u64(&self) -> Option<u64> {
        if self.0.is_empty() || !self.0.bytes().all(|byte| byte.is_ascii_digit()) {
            return None;
        }
        self.0.parse().ok()
    }

    /// [`Code::to_u64`] when it fits a `u8`.
    pub fn to_u8(&self) -> Option<u8> {
        self.to_u64().and_then(|value| u8::try_from(value).ok())
    }
}

impl fmt::Display for Code {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:?}", self.0)
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct CodeVisitor;

        impl Visitor<'_> for CodeVisitor {
            type Value = Code;

            fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                formatter.write_str("a code as a string or an integer")
            }

            fn visit_str<E: de::Error>(self, value: &str) -> Result<Code, E> {
                Ok(Code(value.to_owned()))
            }

            fn visit_string<E: de::Error>(self, value: String) -> Result<Code, E> {
                Ok(Code(value))
            }

            fn visit_u64<E: de::Error>(self, value: u64) -> Result<Code, E> {
                Ok(Code(value.to_string()))
            }

            fn visit_i64<E: de::Error>(self, value: i64) -> Result<Code, E> {
                Ok(Code(value.to_string()))
            }
        }

        deserializer.deserialize_any(CodeVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize)]
    struct Holder {
        code: Code,
    }

    fn parse(json: &str) -> Result<Code, String> {
        let holder: Holder = serde_json::from_str(json).map_err(|error| error.to_string())?;
        Ok(holder.code)
    }

    #[test]
    fn strings_and_integers_are_both_codes() {
        assert_eq!(parse(r#"{"code":"2"}"#).unwrap().to_u8(), Some(2));
        assert_eq!(parse(r#"{"code":2}"#).unwrap().to_u8(), Some(2));
        assert_eq!(parse(r#"{"code":"410421"}"#).unwrap().as_str(), "410421");
        assert_eq!(parse(r#"{"code":-1}"#).unwrap().to_u64(), None);
        assert_eq!(parse(r#"{"code":"+2"}"#).unwrap().to_u8(), None);
        assert_eq!(parse(r#"{"code":"300"}"#).unwrap().to_u8(), None);
        assert_eq!(parse(r#"{"code":""}"#).unwrap().to_u64(), None);
    }

    #[test]
    fn other_json_types_are_refused() {
        assert_eq!(
            parse(r#"{"code":1.5}"#).unwrap_err(),
            "invalid type: floating point `1.5`, expected a code as a string or an integer at line 1 column 11"
        );
        assert!(parse(r#"{"code":true}"#).is_err());
        assert!(parse(r#"{"code":null}"#).is_err());
    }
}
