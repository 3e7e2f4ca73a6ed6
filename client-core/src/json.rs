//! Case-insensitive JSON deserialization.
//!
//! ServiceStack writes application bodies in the host's casing (camelCase on .NET Core,
//! PascalCase on .NET Framework) and its own clients read them case-insensitively. serde matches
//! field names exactly, so [`CaseInsensitive`] wraps serde_json's streaming deserializer and, for
//! every struct serde asks for, hands over each key as the declared field it matches when case,
//! `_` and `-` are ignored. It reads the text once, with no intermediate `Value` tree: this is
//! the per-message hot path of every typed handler.

use std::fmt;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, EnumAccess, MapAccess, SeqAccess,
    VariantAccess, Visitor,
};

use crate::error::Error;

/// Deserializes `text` into `T`, matching struct fields case-insensitively.
/// Empty (or all-whitespace) text reads as JSON `null`.
pub(crate) fn from_str_case_insensitive<T: DeserializeOwned>(text: &str) -> Result<T, Error> {
    let result = if text.trim().is_empty() {
        T::deserialize(CaseInsensitive(serde_json::Value::Null))
    } else {
        let mut json = serde_json::Deserializer::from_str(text);
        T::deserialize(CaseInsensitive(&mut json)).and_then(|value| json.end().map(|()| value))
    };
    result.map_err(|e| Error::Deserialize {
        type_name: std::any::type_name::<T>().to_owned(),
        message: e.to_string(),
    })
}

/// Whether two names are equal once `_` and `-` are dropped and case is ignored.
fn same_name(a: &str, b: &str) -> bool {
    fn folded(name: &str) -> impl Iterator<Item = char> + '_ {
        name.chars()
            .filter(|c| *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
    }
    a.eq_ignore_ascii_case(b) || folded(a).eq(folded(b))
}

/// The declared field `key` stands for, if it is not already spelled exactly like one.
fn declared_field(key: &str, fields: &'static [&'static str]) -> Option<&'static str> {
    if fields.contains(&key) {
        return None;
    }
    fields.iter().copied().find(|field| same_name(field, key))
}

/// A deserializer whose structs match their fields case-insensitively, at every depth.
struct CaseInsensitive<D>(D);

macro_rules! forward_wrapped {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.0.$method(Wrap { visitor, fields: None })
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for CaseInsensitive<D> {
    type Error = D::Error;

    forward_wrapped! {
        deserialize_any deserialize_bool deserialize_i8 deserialize_i16 deserialize_i32
        deserialize_i64 deserialize_i128 deserialize_u8 deserialize_u16 deserialize_u32
        deserialize_u64 deserialize_u128 deserialize_f32 deserialize_f64 deserialize_char
        deserialize_str deserialize_string deserialize_bytes deserialize_byte_buf
        deserialize_option deserialize_unit deserialize_seq deserialize_map
        deserialize_identifier deserialize_ignored_any
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_unit_struct(
            name,
            Wrap {
                visitor,
                fields: None,
            },
        )
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_newtype_struct(
            name,
            Wrap {
                visitor,
                fields: None,
            },
        )
    }

    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple(
            len,
            Wrap {
                visitor,
                fields: None,
            },
        )
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_tuple_struct(
            name,
            len,
            Wrap {
                visitor,
                fields: None,
            },
        )
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_struct(
            name,
            fields,
            Wrap {
                visitor,
                fields: Some(fields),
            },
        )
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.0.deserialize_enum(
            name,
            variants,
            Wrap {
                visitor,
                fields: None,
            },
        )
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

/// A visitor that wraps whatever nested access it is given; `fields` are the declared fields
/// when it visits a struct.
struct Wrap<V> {
    visitor: V,
    fields: Option<&'static [&'static str]>,
}

macro_rules! forward_scalars {
    ($($method:ident: $ty:ty)*) => {$(
        fn $method<E: de::Error>(self, value: $ty) -> Result<V::Value, E> {
            self.visitor.$method(value)
        }
    )*};
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.visitor.expecting(f)
    }

    forward_scalars! {
        visit_bool: bool visit_i8: i8 visit_i16: i16 visit_i32: i32 visit_i64: i64
        visit_i128: i128 visit_u8: u8 visit_u16: u16 visit_u32: u32 visit_u64: u64
        visit_u128: u128 visit_f32: f32 visit_f64: f64 visit_char: char visit_str: &str
        visit_borrowed_str: &'de str visit_string: String visit_bytes: &[u8]
        visit_borrowed_bytes: &'de [u8] visit_byte_buf: Vec<u8>
    }

    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_none()
    }

    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        self.visitor.visit_unit()
    }

    fn visit_some<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_some(CaseInsensitive(inner))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, inner: D) -> Result<V::Value, D::Error> {
        self.visitor.visit_newtype_struct(CaseInsensitive(inner))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(Wrap {
            visitor: seq,
            fields: None,
        })
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_map(Wrap {
            visitor: map,
            fields: self.fields,
        })
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(Wrap {
            visitor: data,
            fields: None,
        })
    }
}

/// Deserializes a value through [`CaseInsensitive`].
struct WrapSeed<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for WrapSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, inner: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(CaseInsensitive(inner))
    }
}

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.visitor.next_element_seed(WrapSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.visitor.size_hint()
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        match self.fields {
            Some(fields) => self.visitor.next_key_seed(FieldSeed { seed, fields }),
            None => self.visitor.next_key_seed(WrapSeed(seed)),
        }
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.visitor.next_value_seed(WrapSeed(seed))
    }

    fn size_hint(&self) -> Option<usize> {
        self.visitor.size_hint()
    }
}

impl<'de, A: EnumAccess<'de>> EnumAccess<'de> for Wrap<A> {
    type Error = A::Error;
    type Variant = Wrap<A::Variant>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.visitor.variant_seed(seed)?;
        Ok((
            value,
            Wrap {
                visitor: variant,
                fields: None,
            },
        ))
    }
}

impl<'de, A: VariantAccess<'de>> VariantAccess<'de> for Wrap<A> {
    type Error = A::Error;

    fn unit_variant(self) -> Result<(), A::Error> {
        self.visitor.unit_variant()
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, A::Error> {
        self.visitor.newtype_variant_seed(WrapSeed(seed))
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, visitor: V) -> Result<V::Value, A::Error> {
        self.visitor.tuple_variant(
            len,
            Wrap {
                visitor,
                fields: None,
            },
        )
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        self.visitor.struct_variant(
            fields,
            Wrap {
                visitor,
                fields: Some(fields),
            },
        )
    }
}

/// Reads a struct's key and hands the declared field it matches to `seed`.
struct FieldSeed<S> {
    seed: S,
    fields: &'static [&'static str],
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for FieldSeed<S> {
    type Value = S::Value;

    fn deserialize<D: Deserializer<'de>>(self, key: D) -> Result<S::Value, D::Error> {
        key.deserialize_str(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for FieldSeed<S> {
    type Value = S::Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<S::Value, E> {
        match declared_field(key, self.fields) {
            Some(field) => self.seed.deserialize(BorrowedStrDeserializer::new(field)),
            None => self.seed.deserialize(BorrowedStrDeserializer::new(key)),
        }
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<S::Value, E> {
        match declared_field(key, self.fields) {
            Some(field) => self.seed.deserialize(BorrowedStrDeserializer::new(field)),
            None => self.seed.deserialize(StrDeserializer::new(key)),
        }
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
        assert!(from_str_case_insensitive::<Inner>(r#"{"DisplayName":"a"} x"#).is_err());
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "camelCase")]
    enum Shape {
        Circle { radius_mm: u32 },
        Named(Inner),
        Empty,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(tag = "kind")]
    enum Tagged {
        Point { x_pos: i32 },
    }

    #[test]
    fn enums_maps_and_unknown_keys() {
        assert_eq!(
            from_str_case_insensitive::<Vec<Shape>>(
                r#"[{"circle":{"RadiusMm":3}},{"named":{"DISPLAY_NAME":"n"}},"empty"]"#
            )
            .unwrap(),
            vec![
                Shape::Circle { radius_mm: 3 },
                Shape::Named(Inner {
                    display_name: "n".into()
                }),
                Shape::Empty
            ]
        );
        assert_eq!(
            from_str_case_insensitive::<Tagged>(r#"{"kind":"Point","x_pos":-2}"#).unwrap(),
            Tagged::Point { x_pos: -2 }
        );
        // Map keys are data, not field names: they keep their spelling.
        let map: std::collections::BTreeMap<String, Inner> =
            from_str_case_insensitive(r#"{"Key_One":{"displayName":"v"}}"#).unwrap();
        assert_eq!(map["Key_One"].display_name, "v");
        // Keys that match no field are ignored, as serde does by default.
        let inner: Inner =
            from_str_case_insensitive(r#"{"Other":[1,{"a":2}],"displayName":"x"}"#).unwrap();
        assert_eq!(inner.display_name, "x");
        let value: serde_json::Value =
            from_str_case_insensitive(r#"{"A":[1,"b",null,{"c":true}]}"#).unwrap();
        assert_eq!(value, serde_json::json!({"A":[1,"b",null,{"c":true}]}));
    }
}
