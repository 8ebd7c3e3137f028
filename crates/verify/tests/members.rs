//! The in-place reading of a token's claims (`members`), and the map a
//! verified token keeps (`token::object`, built from it), against a
//! reference written the plain way — `serde_json`'s own `Value` for every
//! member, names kept in a set to find a repeat: over arbitrary objects
//! (repeated names, names escaped differently, nested values, trailing
//! bytes, broken JSON) all three refuse the same inputs and read the same
//! claims from the rest.

#![cfg(not(target_arch = "wasm32"))]

use std::collections::HashSet;
use std::fmt;

use m2m_edge_verify::members::{ClaimSet, Members};
use m2m_edge_verify::token::object;
use proptest::prelude::*;
use serde::de::{Deserializer, Error, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The reference: one JSON object and nothing after it, each member's
/// value as `serde_json` reads a `Value`, no name twice once unescaped.
fn reference(bytes: &[u8]) -> Option<Map<String, Value>> {
    struct Distinct;
    impl<'de> Visitor<'de> for Distinct {
        type Value = Map<String, Value>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
            let (mut seen, mut map) = (HashSet::new(), Map::new());
            while let Some((name, value)) = access.next_entry::<String, Value>()? {
                if !seen.insert(name.clone()) {
                    return Err(A::Error::custom("repeated"));
                }
                map.insert(name, value);
            }
            Ok(map)
        }
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let map = de.deserialize_map(Distinct).ok()?;
    de.end().ok()?;
    Some(map)
}

/// A member name as a JSON string: a few names, some spelled with escapes
/// (`\u0061` is `a`), so that repeats hide behind different spellings.
fn name() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![r#""a""#, r#""\u0061""#, r#""b""#, r#""iss""#, r#""i\u0073s""#, r#""""#, r#""sub""#])
}

/// A value as JSON text, well formed or not.
fn value() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "1",
        "-2.5e3",
        "1e400",
        "true",
        "null",
        r#""x""#,
        r#""\"q\"""#,
        r#""\u00e9""#,
        r#""\ud800""#,
        "[1,\"y\"]",
        r#"{"k":"v","k":"w"}"#,
        r#"[{"a":[1,{"b":null,"\u0062":2.0}]},"\u00e9"]"#,
        r#"{"x":{"y":["z"]},"":{}}"#,
        // The names serde_json gives its own meaning under its
        // `arbitrary_precision` and `raw_value` features: were either ever
        // turned on in the graph, Members and `Value` would read these (and
        // every number) apart, and this test would say so.
        r#"{"$serde_json::private::Number":"1"}"#,
        r#"{"$serde_json::private::RawValue":"1"}"#,
        "[]",
        "{}",
        "[",
        "tru",
        r#""unterminated"#,
        "",
        "[1,]",
        r#"{"k":}"#,
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    #[test]
    fn reads_what_the_reference_reads(
        members in prop::collection::vec((name(), value()), 0..6),
        tail in prop::sample::select(vec!["", " ", "x", "}", "\n"]),
    ) {
        let body: Vec<String> = members.iter().map(|(n, v)| format!("{n}:{v}")).collect();
        let text = format!("{{{}}}{tail}", body.join(","));
        let bytes = text.as_bytes();
        let expected = reference(bytes);
        let (view, map) = (Members::parse(bytes, "payload"), object(bytes, "payload"));
        prop_assert_eq!(view.is_ok(), expected.is_some(), "{}", text);
        prop_assert_eq!(map.as_ref().ok(), expected.as_ref(), "{}", text);
        if let (Ok(view), Some(expected)) = (view, expected) {
            prop_assert_eq!(view.len(), expected.len());
            for name in ["a", "b", "iss", "", "sub", "missing"] {
                prop_assert_eq!(view.value(name), expected.value(name));
                prop_assert_eq!(view.string(name), expected.string(name));
                prop_assert_eq!(view.has(name), expected.has(name));
            }
        }
    }
}
