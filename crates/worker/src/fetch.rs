//! GET for trusted issuers' metadata and keys, with the global `fetch`
//! called directly, within the verifier crate's bounds
//! (`m2m_edge_verify::fetch_within_bounds`: 5 s, no redirect followed,
//! 64 KiB): the `worker` crate's `Fetch` would bring the `url` crate and its
//! Unicode tables into the wasm (+~430 KB), for a URL the admin API already
//! checked.

use m2m_edge_verify::{fetch_within_bounds, FetchError, Fetched, Fetcher};

/// The global `fetch`, GET only.
pub struct GlobalFetch;

impl Fetcher for GlobalFetch {
    async fn get(&self, url: &str, limit: usize) -> Result<Fetched, FetchError> {
        fetch_within_bounds(&js_sys::global(), url, limit).await
    }
}
