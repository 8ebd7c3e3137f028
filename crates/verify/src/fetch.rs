//! Getting the issuer's documents: a small trait the caller can implement
//! for any HTTP client, with implementations for `reqwest` (native, feature
//! `reqwest`) and for Workers (`fetch` or a service binding, feature
//! `worker`; [`fetch_within_bounds`] on wasm32), and the bounds every fetch
//! keeps: at most [`FETCH_TIMEOUT_MS`], no redirect followed, at most
//! [`MAX_DOCUMENT_BYTES`] read ([`MAX_LIST_BYTES`] of a revocation list). An issuer's URLs come from an admin or from
//! its metadata; a redirect would let whoever answers them send this server
//! elsewhere, and a slow or endless answer would hold the requests that
//! need the keys.

use std::fmt;
use std::future::Future;

/// Largest document an issuer's metadata or JWK set may be: a set of 32
/// RSA-4096 keys is under 30 KB, and nothing larger is read.
pub const MAX_DOCUMENT_BYTES: usize = 64 * 1024;

/// How long one fetch may take, from the request to the last byte of the
/// body (as jose's remote JWK sets time out: 5 s).
pub const FETCH_TIMEOUT_MS: u32 = 5_000;

/// A fetched document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetched {
    /// The HTTP status.
    pub status: u16,
    /// The `Cache-Control` header, if any: its `max-age` sets how long the
    /// JWKS is used before it is fetched again (bounded).
    pub cache_control: Option<String>,
    /// The body.
    pub body: Vec<u8>,
}

/// The document could not be fetched (network, DNS, TLS, a binding error).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchError(pub String);

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fetch failed: {}", self.0)
    }
}

impl std::error::Error for FetchError {}

/// GET a URL. Implement it for the HTTP client an API already uses; a
/// response of any status is a [`Fetched`] (its body need only be read for
/// a 200), only a failure to get one is an error. Keep the bounds the
/// implementations here keep: give up after [`FETCH_TIMEOUT_MS`], answer a
/// redirect with its 3xx instead of following it, and stop reading a body
/// past `limit` bytes (an error): [`MAX_DOCUMENT_BYTES`] for metadata and
/// keys, [`MAX_LIST_BYTES`] for a revocation list. The verifier refuses a
/// 3xx and a larger body whatever the fetcher does, but only the fetcher
/// can stop waiting or reading.
pub trait Fetcher {
    /// GET `url`, reading at most `limit` bytes of its body.
    fn get(&self, url: &str, limit: usize) -> impl Future<Output = Result<Fetched, FetchError>>;
}

/// The largest revocation list read: 4 MiB, some 100,000 revocations in
/// flight (an issuer's keys and metadata stay within [`MAX_DOCUMENT_BYTES`]).
pub const MAX_LIST_BYTES: usize = 4 * 1024 * 1024;

/// A 200 with a body, or the status a document was not found with.
pub(crate) enum Answer {
    Document(Fetched),
    Status(u16),
}

/// GET `url` as an issuer's document is fetched: a failure to fetch, or a
/// body over `limit`, is an error naming the URL.
pub(crate) async fn answer<F: Fetcher>(fetcher: &F, url: &str, limit: usize) -> Result<Answer, FetchError> {
    let fetched = fetcher.get(url, limit).await.map_err(|e| FetchError(format!("{url}: {}", e.0)))?;
    if fetched.status != 200 {
        return Ok(Answer::Status(fetched.status));
    }
    if fetched.body.len() > limit {
        return Err(too_large(url, limit));
    }
    Ok(Answer::Document(fetched))
}

/// An issuer's document at `url`: a 200 within the bounds
/// ([`MAX_DOCUMENT_BYTES`]); any other status is an error (a 3xx included:
/// redirects are not followed).
pub async fn document<F: Fetcher>(fetcher: &F, url: &str) -> Result<Fetched, FetchError> {
    document_within(fetcher, url, MAX_DOCUMENT_BYTES).await
}

/// [`document`], reading at most `limit` bytes.
pub(crate) async fn document_within<F: Fetcher>(fetcher: &F, url: &str, limit: usize) -> Result<Fetched, FetchError> {
    match answer(fetcher, url, limit).await? {
        Answer::Document(fetched) => Ok(fetched),
        Answer::Status(status) => Err(not_a_document(url, status)),
    }
}

/// Why an answer of `status` is no document.
pub(crate) fn not_a_document(url: &str, status: u16) -> FetchError {
    match status {
        300..=399 => FetchError(format!("{url} answered {status} (redirects are not followed)")),
        _ => FetchError(format!("{url} answered {status}")),
    }
}

fn too_large(url: &str, limit: usize) -> FetchError {
    FetchError(format!("{url} is larger than {limit} bytes"))
}

/// `max-age` of a `Cache-Control` value (RFC 9111 §5.2.2.1), if it has one.
pub fn max_age(cache_control: &str) -> Option<u64> {
    cache_control.split(',').find_map(|directive| {
        let (name, value) = directive.trim().split_once('=')?;
        name.trim().eq_ignore_ascii_case("max-age").then(|| value.trim().trim_matches('"').parse().ok())?
    })
}

#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
mod with_reqwest {
    use std::time::Duration;

    use super::{too_large, FetchError, Fetched, Fetcher, FETCH_TIMEOUT_MS};

    /// [`Fetcher`] over a `reqwest::Client` (feature `reqwest`).
    #[derive(Debug, Clone)]
    pub struct ReqwestFetcher {
        client: reqwest::Client,
    }

    impl Default for ReqwestFetcher {
        /// A client of its own, that follows no redirect and gives up after
        /// [`FETCH_TIMEOUT_MS`].
        fn default() -> ReqwestFetcher {
            let client = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_millis(FETCH_TIMEOUT_MS.into()))
                .build()
                .unwrap_or_default();
            ReqwestFetcher { client }
        }
    }

    impl ReqwestFetcher {
        /// Over `client` (the API's own, with its proxy and TLS settings).
        /// Each fetch still gives up after [`FETCH_TIMEOUT_MS`]; build the
        /// client with `redirect::Policy::none()`, or an answer from a URL
        /// it was redirected to is refused after the fact.
        pub fn new(client: reqwest::Client) -> ReqwestFetcher {
            ReqwestFetcher { client }
        }
    }

    fn failed(e: reqwest::Error) -> FetchError {
        if e.is_timeout() {
            return FetchError(format!("no answer within {FETCH_TIMEOUT_MS} ms"));
        }
        FetchError(e.to_string())
    }

    impl Fetcher for ReqwestFetcher {
        async fn get(&self, url: &str, limit: usize) -> Result<Fetched, FetchError> {
            let timeout = Duration::from_millis(FETCH_TIMEOUT_MS.into());
            let mut response = self.client.get(url).timeout(timeout).send().await.map_err(failed)?;
            if reqwest::Url::parse(url).ok().as_ref() != Some(response.url()) {
                return Err(FetchError(format!("{url} was redirected to another URL, which is not followed")));
            }
            let status = response.status().as_u16();
            let cache_control = response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            if status != 200 {
                return Ok(Fetched { status, cache_control, body: Vec::new() });
            }
            if response.content_length().is_some_and(|n| n > limit as u64) {
                return Err(too_large(url, limit));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(failed)? {
                if body.len() + chunk.len() > limit {
                    return Err(too_large(url, limit));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(Fetched { status, cache_control, body })
        }
    }
}

#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
pub use with_reqwest::ReqwestFetcher;

#[cfg(target_arch = "wasm32")]
mod js {
    use js_sys::{Function, Object, Promise, Reflect, Uint8Array};
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{AbortSignal, ReadableStreamDefaultReader, Response};

    use super::{too_large, FetchError, Fetched, FETCH_TIMEOUT_MS};

    /// GET `url` with `target.fetch` — the global scope, or a service
    /// binding — within the bounds: `redirect: "manual"` (a 3xx is
    /// answered, not followed), `AbortSignal.timeout(FETCH_TIMEOUT_MS)` for
    /// the response and its body alike, and at most `limit` bytes
    /// of a 200's body read (a larger `Content-Length` is refused unread).
    pub async fn fetch_within_bounds(target: &JsValue, url: &str, limit: usize) -> Result<Fetched, FetchError> {
        let fetch: Function = Reflect::get(target, &JsValue::from_str("fetch"))
            .ok()
            .and_then(|f| f.dyn_into().ok())
            .ok_or_else(|| FetchError("no fetch to call".into()))?;
        let init = Object::new();
        let signal = AbortSignal::timeout_with_u32(FETCH_TIMEOUT_MS);
        Reflect::set(&init, &JsValue::from_str("redirect"), &JsValue::from_str("manual"))
            .and_then(|_| Reflect::set(&init, &JsValue::from_str("signal"), &signal))
            .map_err(|e| failed(&e))?;
        let promise: Promise = fetch
            .call2(target, &JsValue::from_str(url), &init)
            .map_err(|e| failed(&e))?
            .dyn_into()
            .map_err(|_| FetchError("fetch answered no promise".into()))?;
        let response: Response = JsFuture::from(promise)
            .await
            .map_err(|e| failed(&e))?
            .dyn_into()
            .map_err(|_| FetchError("fetch answered no Response".into()))?;
        let status = response.status();
        let headers = response.headers();
        let cache_control = headers.get("cache-control").ok().flatten();
        let declared = headers.get("content-length").ok().flatten().and_then(|v| v.trim().parse::<u64>().ok());
        let Some(stream) = response.body() else {
            return Ok(Fetched { status, cache_control, body: Vec::new() });
        };
        if status != 200 || declared.is_some_and(|n| n > limit as u64) {
            let _ = stream.cancel();
            return match status {
                200 => Err(too_large(url, limit)),
                _ => Ok(Fetched { status, cache_control, body: Vec::new() }),
            };
        }
        let reader: ReadableStreamDefaultReader = stream.get_reader().unchecked_into();
        let mut body = Vec::new();
        loop {
            let read = JsFuture::from(reader.read()).await.map_err(|e| failed(&e))?;
            if Reflect::get(&read, &JsValue::from_str("done")).ok().and_then(|d| d.as_bool()) == Some(true) {
                break;
            }
            let chunk: Uint8Array = Reflect::get(&read, &JsValue::from_str("value"))
                .ok()
                .and_then(|v| v.dyn_into().ok())
                .ok_or_else(|| FetchError("the body is not bytes".into()))?;
            let at = body.len();
            if at + chunk.length() as usize > limit {
                let _ = reader.cancel();
                return Err(too_large(url, limit));
            }
            body.resize(at + chunk.length() as usize, 0);
            chunk.copy_to(&mut body[at..]);
        }
        Ok(Fetched { status, cache_control, body })
    }

    /// A rejection's reason, for the log (no secret in it): the timeout
    /// said plainly, a network error's message otherwise.
    fn failed(e: &JsValue) -> FetchError {
        let field = |name: &str| Reflect::get(e, &JsValue::from_str(name)).ok().and_then(|v| v.as_string());
        if field("name").as_deref() == Some("TimeoutError") {
            return FetchError(format!("no answer within {FETCH_TIMEOUT_MS} ms"));
        }
        FetchError(e.as_string().or_else(|| field("message")).unwrap_or_else(|| "network error".into()))
    }
}

#[cfg(target_arch = "wasm32")]
pub use js::fetch_within_bounds;

#[cfg(all(feature = "worker", target_arch = "wasm32"))]
mod with_worker {
    use super::{fetch_within_bounds, FetchError, Fetched, Fetcher};

    /// [`Fetcher`] for a Worker (feature `worker`): the Workers `fetch`, or a
    /// service binding to the token service, so an edge API gets keys
    /// without leaving Cloudflare's network. Through a binding, the URL's
    /// path is what counts: the binding routes it to the bound worker.
    /// Either way within the bounds ([`fetch_within_bounds`]).
    #[derive(Debug)]
    pub enum WorkerFetcher {
        /// The global `fetch`.
        Internet,
        /// A service binding (`[[services]]` in wrangler.toml).
        Service(worker::Fetcher),
    }

    impl Fetcher for WorkerFetcher {
        async fn get(&self, url: &str, limit: usize) -> Result<Fetched, FetchError> {
            match self {
                WorkerFetcher::Internet => fetch_within_bounds(&js_sys::global(), url, limit).await,
                WorkerFetcher::Service(binding) => fetch_within_bounds(binding.as_ref(), url, limit).await,
            }
        }
    }
}

#[cfg(all(feature = "worker", target_arch = "wasm32"))]
pub use with_worker::WorkerFetcher;

#[cfg(test)]
mod tests {
    use super::max_age;

    #[test]
    fn max_age_of_cache_control() {
        assert_eq!(max_age("public, max-age=300"), Some(300));
        assert_eq!(max_age("Max-Age = 60 , public"), Some(60));
        assert_eq!(max_age("no-store"), None);
        assert_eq!(max_age("max-age=abc"), None);
        assert_eq!(max_age("s-maxage=10"), None);
    }
}
