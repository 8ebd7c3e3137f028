//! A JWT's claims read where they lie: [`Members`] takes a JSON object
//! apart without copying its strings — each member's name and each string
//! value borrowed from the bytes unless it holds an escape — and
//! [`ClaimSet`] is what the claim checks read, from such a view or from a
//! parsed [`Map`].
//!
//! Why a second reading of the same object: a platform's identity token
//! carries twenty claims or more (GitHub Actions: repository, workflow,
//! ref, run ids…) of which a token exchange reads a handful. Parsed into a
//! `Map<String, Value>`, each name and each string value is an allocation,
//! and building and freeing the map was the largest part of an exchange's
//! own work (m2m-edge's docs/architecture.md, "what is left of a token
//! exchange's cost"). The view refuses anything but one JSON object,
//! trailing bytes, a member name twice (RFC 7515 §4, RFC 7519 §4; names
//! compared once unescaped), and whatever `serde_json` refuses in a value,
//! and reads each value as `serde_json`'s `Value` reads it. It is the one
//! home of those rules: [`crate::token::object`], the claims a verified
//! token keeps, is [`Members::into_map`] of it.
//!
//! ```
//! use m2m_edge_verify::members::{ClaimSet, Members};
//!
//! let payload = br#"{"iss":"https://token.actions.githubusercontent.com","aud":["m2m-edge"],"exp":1800000000}"#;
//! let claims = Members::parse(payload, "payload").unwrap();
//! assert_eq!(claims.string("iss").as_deref(), Some("https://token.actions.githubusercontent.com"));
//! assert_eq!(claims.value("aud").unwrap().as_array().map(Vec::len), Some(1));
//! assert!(claims.has("exp") && !claims.has("nbf"));
//! assert!(Members::parse(br#"{"iss":"a","iss":"b"}"#, "payload").is_err());
//! ```

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::Rejection;

/// A token's claims, however they were read: what the claim checks
/// ([`crate::time::check`], and a server's own rules) ask of them.
pub trait ClaimSet {
    /// The claim `name`, parsed, if the token has it.
    fn value(&self, name: &str) -> Option<Cow<'_, Value>>;
    /// The claim `name`, if the token has it and it is a string.
    fn string(&self, name: &str) -> Option<Cow<'_, str>>;
    /// Whether the token has the claim `name`, whatever its value.
    fn has(&self, name: &str) -> bool;
}

impl ClaimSet for Map<String, Value> {
    fn value(&self, name: &str) -> Option<Cow<'_, Value>> {
        self.get(name).map(Cow::Borrowed)
    }

    fn string(&self, name: &str) -> Option<Cow<'_, str>> {
        self.get(name).and_then(Value::as_str).map(Cow::Borrowed)
    }

    fn has(&self, name: &str) -> bool {
        self.contains_key(name)
    }
}

/// A JSON object's members, read from the bytes they were parsed from:
/// names distinct, strings borrowed where they can be.
#[derive(Debug)]
pub struct Members<'a> {
    /// By name, so that a repeated name is found next to itself and a
    /// lookup is a binary search.
    sorted: Vec<(Cow<'a, str>, Member<'a>)>,
}

/// One member's value: a string, most claims, kept as it lies; anything
/// else as `serde_json` reads it (numbers and booleans allocate nothing).
#[derive(Debug)]
enum Member<'a> {
    Text(Cow<'a, str>),
    Json(Value),
}

impl Member<'_> {
    fn into_value(self) -> Value {
        match self {
            Member::Text(text) => Value::String(text.into_owned()),
            Member::Json(value) => value,
        }
    }
}

impl<'a> Members<'a> {
    /// The members of the JSON object `bytes` holds; what is malformed is
    /// [`Rejection::Malformed`] with `what` (which part of the token).
    pub fn parse(bytes: &'a [u8], what: &'static str) -> Result<Members<'a>, Rejection> {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        let mut sorted = de.deserialize_map(Object).map_err(|_| Rejection::Malformed(what))?;
        de.end().map_err(|_| Rejection::Malformed(what))?;
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if sorted.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(Rejection::Malformed(what));
        }
        Ok(Members { sorted })
    }

    fn get(&self, name: &str) -> Option<&Member<'a>> {
        let at = self.sorted.binary_search_by(|(n, _)| n.as_ref().cmp(name)).ok()?;
        Some(&self.sorted[at].1)
    }

    /// How many members there are.
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    /// Whether the object is `{}`.
    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    /// The members as an owned map, for a caller that keeps the claims
    /// (a verified token hands them to the API that asked).
    pub fn into_map(self) -> Map<String, Value> {
        self.sorted.into_iter().map(|(name, member)| (name.into_owned(), member.into_value())).collect()
    }
}

impl ClaimSet for Members<'_> {
    fn value(&self, name: &str) -> Option<Cow<'_, Value>> {
        match self.get(name)? {
            Member::Text(text) => Some(Cow::Owned(Value::String(text.to_string()))),
            Member::Json(value) => Some(Cow::Borrowed(value)),
        }
    }

    fn string(&self, name: &str) -> Option<Cow<'_, str>> {
        match self.get(name)? {
            Member::Text(text) => Some(Cow::Borrowed(text)),
            Member::Json(_) => None,
        }
    }

    fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }
}

/// Reads an object's members as (name, value) pairs, in order.
struct Object;

impl<'de> Visitor<'de> for Object {
    type Value = Vec<(Cow<'de, str>, Member<'de>)>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut members = Vec::with_capacity(access.size_hint().unwrap_or(16));
        while let Some(name) = access.next_key_seed(Text)? {
            members.push((name, access.next_value_seed(AnyMember)?));
        }
        Ok(members)
    }
}

/// A JSON string, borrowed from the input when it holds no escape.
struct Text;

impl<'de> DeserializeSeed<'de> for Text {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Text {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(s))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(s.to_string()))
    }
}

/// Any member's value: a string kept as [`Text`] reads it, anything else
/// built as `serde_json`'s own `Value` is, from the same calls.
struct AnyMember;

impl<'de> DeserializeSeed<'de> for AnyMember {
    type Value = Member<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for AnyMember {
    type Value = Member<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Borrowed(s)))
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<Self::Value, E> {
        Ok(Member::Text(Cow::Owned(s.to_string())))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Self::Value, E> {
        Ok(Member::Json(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Self::Value, E> {
        Ok(Member::Json(Value::from(n)))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Self::Value, E> {
        Ok(Member::Json(Value::from(n)))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Self::Value, E> {
        // As serde_json's Value: a float JSON can spell is finite.
        Ok(Member::Json(Value::from(n)))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(Member::Json(Value::Null))
    }

    // Nested values are built by this same visitor, as serde_json's Value
    // builds them (a repeated name in a nested object: the last one kept).
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(AnyMember)? {
            items.push(item.into_value());
        }
        Ok(Member::Json(Value::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut object = Map::new();
        while let Some(name) = map.next_key_seed(Text)? {
            object.insert(name.into_owned(), map.next_value_seed(AnyMember)?.into_value());
        }
        Ok(Member::Json(Value::Object(object)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_what_is_not_one_object_of_distinct_names() {
        for bad in [
            &br#"{"a":1,"a":2}"#[..],
            br#"{"a":1,"\u0061":2}"#,
            br#"[1]"#,
            br#"{"a":1} x"#,
            br#"{"a":}"#,
            br#"{"a":1"#,
            b"\"a\"",
            b"",
            b"{\"a\":\"\xff\"}",
            br#"{"a":"\ud800"}"#,
        ] {
            assert_eq!(
                Members::parse(bad, "x").err(),
                Some(Rejection::Malformed("x")),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn reads_each_member_as_serde_json_does() {
        let bytes = br#"{"s":"a\"b","e":"\u00e9","n":7,"f":1.5,"t":true,"z":null,"l":[1,"x"],"o":{"k":"v"},"\u006b":"key escaped"}"#;
        let members = Members::parse(bytes, "x").unwrap();
        let map: Map<String, Value> = serde_json::from_slice(bytes).unwrap();
        assert_eq!(members.len(), map.len());
        for name in ["s", "e", "n", "f", "t", "z", "l", "o", "k", "missing"] {
            assert_eq!(members.value(name), map.value(name), "{name}");
            assert_eq!(members.string(name), map.string(name), "{name}");
            assert_eq!(members.has(name), map.has(name), "{name}");
        }
        assert!(matches!(members.get("s"), Some(Member::Text(Cow::Owned(_)))), "an escaped string is unescaped");
        assert_eq!(members.string("k").as_deref(), Some("key escaped"));
        assert_eq!(members.into_map(), map);
    }

    #[test]
    fn borrows_names_and_strings_without_escapes() {
        let bytes = br#"{"iss":"https://issuer.example","sub":"repo:acme/deploy"}"#;
        let members = Members::parse(bytes, "x").unwrap();
        assert!(members
            .sorted
            .iter()
            .all(|(name, value)| matches!((name, value), (Cow::Borrowed(_), Member::Text(Cow::Borrowed(_))))));
        assert!(matches!(members.string("sub"), Some(Cow::Borrowed("repo:acme/deploy"))));
        assert!(Members::parse(b"{}", "x").unwrap().is_empty());
    }
}
