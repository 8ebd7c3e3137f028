//! Minifies the OpenAPI document (`openapi.json`, kept pretty-printed for
//! people) into `OUT_DIR` for `app::OPENAPI_DOCUMENT`: whitespace outside
//! strings only, members in the order written. The embedded copy is part of
//! the wasm every isolate loads, and indentation was about half of it.

use std::{env, fs, path::Path};

/// `json` without the whitespace between its tokens; strings untouched.
fn minify(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in json.chars() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if !c.is_ascii_whitespace() {
            out.push(c);
        }
    }
    out
}

fn main() {
    println!("cargo:rerun-if-changed=openapi.json");
    let pretty = fs::read_to_string("openapi.json").expect("crates/core/openapi.json is readable");
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("openapi.min.json");
    fs::write(out, minify(&pretty)).expect("OUT_DIR is writable");
}
