//! Getting the issuer's documents: a small trait the caller can implement
//! for any HTTP client, with implementations for `reqwest` (native, feature
//! `reqwest`) and for Workers (`fetch` or a service binding, feature `worker`).

use std::fmt;
use std::future::Future;

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
/// response of any status is a [`Fetched`], only a failure to get one is
/// an error.
pub trait Fetcher {
    /// GET `url`.
    fn get(&self, url: &str) -> impl Future<Output = Result<Fetched, FetchError>>;
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
    use super::{FetchError, Fetched, Fetcher};

    /// [`Fetcher`] over a `reqwest::Client` (feature `reqwest`).
    #[derive(Debug, Clone, Default)]
    pub struct ReqwestFetcher {
        client: reqwest::Client,
    }

    impl ReqwestFetcher {
        /// Over `client` (reuse the API's own, with its timeouts and proxy).
        pub fn new(client: reqwest::Client) -> ReqwestFetcher {
            ReqwestFetcher { client }
        }
    }

    impl Fetcher for ReqwestFetcher {
        async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
            let response = self.client.get(url).send().await.map_err(|e| FetchError(e.to_string()))?;
            let status = response.status().as_u16();
            let cache_control = response
                .headers()
                .get(reqwest::header::CACHE_CONTROL)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let body = response.bytes().await.map_err(|e| FetchError(e.to_string()))?.to_vec();
            Ok(Fetched { status, cache_control, body })
        }
    }
}

#[cfg(all(feature = "reqwest", not(target_arch = "wasm32")))]
pub use with_reqwest::ReqwestFetcher;

#[cfg(all(feature = "worker", target_arch = "wasm32"))]
mod with_worker {
    use super::{FetchError, Fetched, Fetcher};

    /// [`Fetcher`] for a Worker (feature `worker`): the Workers `fetch`, or a
    /// service binding to the token service, so an edge API gets keys
    /// without leaving Cloudflare's network. Through a binding, the URL's
    /// path is what counts: the binding routes it to the bound worker.
    #[derive(Debug)]
    pub enum WorkerFetcher {
        /// The global `fetch`.
        Internet,
        /// A service binding (`[[services]]` in wrangler.toml).
        Service(worker::Fetcher),
    }

    fn failed(e: worker::Error) -> FetchError {
        FetchError(e.to_string())
    }

    impl Fetcher for WorkerFetcher {
        async fn get(&self, url: &str) -> Result<Fetched, FetchError> {
            let mut response = match self {
                WorkerFetcher::Internet => {
                    let url = worker::Url::parse(url).map_err(|e| FetchError(e.to_string()))?;
                    worker::Fetch::Url(url).send().await.map_err(failed)?
                }
                WorkerFetcher::Service(binding) => binding.fetch(url, None).await.map_err(failed)?,
            };
            let status = response.status_code();
            let cache_control = response.headers().get("cache-control").ok().flatten();
            let body = response.bytes().await.map_err(failed)?;
            Ok(Fetched { status, cache_control, body })
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
