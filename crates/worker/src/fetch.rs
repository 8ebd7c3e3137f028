//! GET for trusted issuers' metadata and keys, with the global `fetch`
//! called directly: the `worker` crate's `Fetch` would bring the `url`
//! crate and its Unicode tables into the wasm (+~430 KB), for a URL the
//! admin API already checked.

use js_sys::{Function, Promise, Reflect, Uint8Array};
use m2m_edge_verify::{FetchError, Fetched, Fetcher};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

/// The global `fetch`, GET only.
pub struct GlobalFetch;

fn failed(what: &str) -> FetchError {
    FetchError(format!("fetch: {what}"))
}

impl Fetcher for GlobalFetch {
    async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
        let global = js_sys::global();
        let fetch: Function =
            Reflect::get(&global, &JsValue::from_str("fetch")).map_err(|_| failed("no fetch"))?.unchecked_into();
        let promise: Promise = fetch
            .call1(&global, &JsValue::from_str(url))
            .map_err(|_| failed("the request was refused"))?
            .unchecked_into();
        // A network failure rejects; its message (no secret in it) says why.
        let response: Response = JsFuture::from(promise)
            .await
            .map_err(|e| {
                FetchError(
                    e.as_string()
                        .or_else(|| js_sys::Error::from(e).message().as_string())
                        .unwrap_or_else(|| "network error".into()),
                )
            })?
            .unchecked_into();
        let status = response.status();
        let cache_control = response.headers().get("cache-control").ok().flatten();
        let buffer = response.array_buffer().map_err(|_| failed("body unreadable"))?;
        let body = JsFuture::from(buffer).await.map_err(|_| failed("body unreadable"))?;
        Ok(Fetched { status, cache_control, body: Uint8Array::new(&body).to_vec() })
    }
}
