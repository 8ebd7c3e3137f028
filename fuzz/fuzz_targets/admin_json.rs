//! Admin API bodies: every JSON document is checked without panicking, and
//! a rejection always names a field.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m2m_edge_core::client::input;
use m2m_edge_core::resource;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    for field in [
        input::parse_new(&body).err().map(|e| e.field),
        input::parse_patch(&body).err().map(|e| e.field),
        resource::parse_new(&body).err().map(|e| e.field),
        resource::parse_patch(&body).err().map(|e| e.field),
    ]
    .into_iter()
    .flatten()
    {
        assert!(!field.is_empty(), "a rejection names its field");
    }
});
