//! The token request's parsers on arbitrary bytes: form body, JSON body,
//! and the Basic header (client authentication). None may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use m2m_edge_core::oauth::client_auth::extract;
use m2m_edge_core::oauth::form::parse_pairs;
use m2m_edge_core::oauth::params::TokenParams;

fuzz_target!(|data: &[u8]| {
    let _ = parse_pairs(data);
    let from_form = TokenParams::from_form(data);
    let _ = TokenParams::from_json(data);
    let header = String::from_utf8_lossy(data);
    let params = from_form.unwrap_or_default();
    let _ = extract(Some(&header), &params);
    let _ = extract(None, &params);
});
