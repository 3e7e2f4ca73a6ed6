//! Case-insensitive JSON deserialization.
//!
//! ServiceStack writes application bodies in the host's casing (camelCase on .NET Core,
//! PascalCase on .NET Framework) and its own clients read them case-insensitively. serde matches
//! field names exactly, so this module walks the JSON value and, for every struct serde asks for,
//! renames each key to the declared field it matches when case, `_` and `-` are ignored.

use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, DeserializeOwned, IntoDeserializer, Visitor};
use serde::forward_to_deserialize_any;
use serde_json::Value;

use crate::error::Error;

/// Deserializes `text` into `T`, matching struct fields case-insensitively.
/// Empty (or all-whitespace) text reads as JSON `null`.
pub(crate) fn from_str_case_insensitive<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    let value: Value = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(text).map_err(|e| deserialize_error::<T>(&e))?
    };
    from_value_case_insensitive(value)
}

/// Deserializes `value` into `T`, matching struct fields case-insensitively.
pub(crate) fn from_value_case_insensitive<T: DeserializeOwned>(value: Value) -> Result<T, Error> {
    T::deserialize(CaseInsensitive(value)).map_err(|e| deserialize_error::<T>(&e))
}

fn deserialize_error<T>(error: &dyn std::fmt::Display) -> Error {
    Error::Deserialize {
        type_name: std::any::type_name::<T>().to_owned(),
        message: error.to_string(),
    }
}

fn normalized(name: &str) -> String {
    name.chars()
        .filter(|c| *c != '_' && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

struct CaseInsensitive(Value);

impl<'de> IntoDeserializer<'de, serde_json::Error> for CaseInsensitive {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for CaseInsensitive {
    type Error = serde_json::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Array(items) => {
                let mut seq = SeqDeserializer::new(items.into_iter().map(CaseInsensitive));
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Value::Object(map) => {
                let mut access =
                    MapDeserializer::new(map.into_iter().map(|(k, v)| (k, CaseInsensitive(v))));
                let value = visitor.visit_map(&mut access)?;
                access.end()?;
                Ok(value)
            }
            other => other.deserialize_any(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            other => visitor.visit_some(CaseInsensitive(other)),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        let Value::Object(map) = self.0 else {
            return self.deserialize_any(visitor);
        };
        let renamed = map.into_iter().map(|(key, value)| {
            let declared = if fields.contains(&key.as_str()) {
                None
            } else {
                let wanted = normalized(&key);
                fields.iter().find(|field| normalized(field) == wanted)
            };
            (
                declared.map_or(key, |f| (*f).to_owned()),
                CaseInsensitive(value),
            )
        });
        let mut access = MapDeserializer::new(renamed);
        let value = visitor.visit_map(&mut access)?;
        access.end()?;
        Ok(value)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0.deserialize_enum(name, variants, visitor)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_bool(visitor)
    }
    fn deserialize_i64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_i64(visitor)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_u64(visitor)
    }
    fn deserialize_f64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_f64(visitor)
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_string(visitor)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Self::Error> {
        self.0.deserialize_str(visitor)
    }

    forward_to_deserialize_any! {
        i8 i16 i32 i128 u8 u16 u32 u128 f32 char
        bytes byte_buf unit unit_struct seq tuple tuple_struct map identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    struct Chat {
        id: i64,
        from_user_id: String,
        message: String,
        private: bool,
        nested: Option<Inner>,
        list: Option<Vec<Inner>>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    struct Inner {
        display_name: String,
    }

    #[test]
    fn pascal_camel_and_snake_case_all_match() {
        let expected = Chat {
            id: 1,
            from_user_id: "-1".into(),
            message: "hi".into(),
            private: false,
            nested: Some(Inner {
                display_name: "a".into(),
            }),
            list: Some(vec![Inner {
                display_name: "b".into(),
            }]),
        };
        for text in [
            r#"{"id":1,"fromUserId":"-1","message":"hi","private":false,"nested":{"displayName":"a"},"list":[{"DisplayName":"b"}]}"#,
            r#"{"Id":1,"FromUserId":"-1","Message":"hi","Private":false,"Nested":{"DisplayName":"a"},"List":[{"display_name":"b"}]}"#,
        ] {
            assert_eq!(from_str_case_insensitive::<Chat>(text).unwrap(), expected);
        }
    }

    #[test]
    fn strings_scalars_and_empty_bodies() {
        assert_eq!(
            from_str_case_insensitive::<String>("\"arg\"").unwrap(),
            "arg"
        );
        assert_eq!(from_str_case_insensitive::<Option<i32>>("").unwrap(), None);
        assert_eq!(from_str_case_insensitive::<u8>("7").unwrap(), 7);
    }

    #[test]
    fn mismatches_are_errors_naming_the_type() {
        let err = from_str_case_insensitive::<Chat>("{\"id\":\"x\"}").unwrap_err();
        assert!(
            matches!(&err, Error::Deserialize { type_name, .. } if type_name.contains("Chat")),
            "{err}"
        );
        assert!(from_str_case_insensitive::<Chat>("not json").is_err());
    }
}
