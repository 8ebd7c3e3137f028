//! The in-place reading of a token's claims (`members`) against the strict
//! parse into a map (`token::object`) it stands in for: over arbitrary
//! objects — repeated names, names escaped differently, nested values,
//! trailing bytes, broken JSON — both refuse the same inputs, and read the
//! same claims from the rest.

#![cfg(not(target_arch = "wasm32"))]

use m2m_edge_verify::members::{ClaimSet, Members};
use m2m_edge_verify::token::object;
use proptest::prelude::*;

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
    fn reads_what_the_strict_map_reads(
        members in prop::collection::vec((name(), value()), 0..6),
        tail in prop::sample::select(vec!["", " ", "x", "}", "\n"]),
    ) {
        let body: Vec<String> = members.iter().map(|(n, v)| format!("{n}:{v}")).collect();
        let text = format!("{{{}}}{tail}", body.join(","));
        let (view, map) = (Members::parse(text.as_bytes(), "payload"), object(text.as_bytes(), "payload"));
        prop_assert_eq!(view.as_ref().err(), map.as_ref().err(), "{}", text);
        if let (Ok(view), Ok(map)) = (view, map) {
            prop_assert_eq!(view.len(), map.len());
            for name in ["a", "b", "iss", "", "sub", "missing"] {
                prop_assert_eq!(view.value(name), map.value(name));
                prop_assert_eq!(view.string(name), map.string(name));
                prop_assert_eq!(view.has(name), map.has(name));
            }
        }
    }
}
