//! Plain HTTP request and response types: what the glue hands the app and
//! what the app hands back. No `worker` types cross this line.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

/// Largest request body the worker reads. Token and admin requests are a few
/// hundred bytes; anything larger is refused before it is parsed.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Largest `Authorization` header value considered. A Basic header for a
/// 64-byte id and a 49-byte secret is under 200 bytes.
pub const MAX_AUTHORIZATION_BYTES: usize = 4096;

/// The request method; anything this server never serves is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl Method {
    /// The method from its (case-sensitive, RFC 9110 §9.1) token.
    pub fn parse(s: &str) -> Method {
        match s {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "PATCH" => Method::Patch,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            _ => Method::Other,
        }
    }
}

/// The request body as the glue could read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// The whole body, at most [`MAX_BODY_BYTES`].
    Bytes(Vec<u8>),
    /// Declared or found to be over [`MAX_BODY_BYTES`]; not read further.
    TooLarge,
}

/// The request headers the app reads: a closed set, so the host tests and
/// the Worker hand the app exactly the same thing (the glue asks the
/// runtime for these names and no others).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Header {
    /// Client credentials (RFC 6749 §2.3.1) or the admin bearer key (RFC 6750 §2.1).
    Authorization,
    /// The body's media type.
    ContentType,
    /// The declared body size, so an oversized body is refused unread.
    ContentLength,
    /// The version an admin change expects (RFC 9110 §13.1.1).
    IfMatch,
    /// The client's address as Cloudflare's edge saw it; the key of the
    /// per-address rate limits (set by the edge, replaced if a client sends it).
    CfConnectingIp,
    /// The zone of the Worker that sent a subrequest (set by Cloudflare);
    /// with Cloudflare's Workers address, the rate limits' key
    /// (`limits::source`).
    CfWorker,
    /// A DPoP proof (RFC 9449 §4.1): the token is to be bound to its key.
    /// Two `DPoP` fields arrive joined by a comma, which no proof holds, and
    /// are refused (§4.3 point 1).
    Dpop,
}

impl Header {
    /// Every header the app reads, in a fixed order.
    pub const ALL: [Header; 7] = [
        Header::Authorization,
        Header::ContentType,
        Header::ContentLength,
        Header::IfMatch,
        Header::CfConnectingIp,
        Header::CfWorker,
        Header::Dpop,
    ];

    /// The names of [`Header::ALL`], newline-separated: how the Worker's
    /// glue asks the runtime for them in one call.
    pub const NAMES: &'static str =
        "authorization\ncontent-type\ncontent-length\nif-match\ncf-connecting-ip\ncf-worker\ndpop";

    /// The lower-case field name.
    pub const fn name(self) -> &'static str {
        match self {
            Header::Authorization => "authorization",
            Header::ContentType => "content-type",
            Header::ContentLength => "content-length",
            Header::IfMatch => "if-match",
            Header::CfConnectingIp => "cf-connecting-ip",
            Header::CfWorker => "cf-worker",
            Header::Dpop => "dpop",
        }
    }

    /// The header of that field name (any case), if the app reads it.
    pub fn parse(name: &str) -> Option<Header> {
        Header::ALL.into_iter().find(|h| h.name().eq_ignore_ascii_case(name))
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// A request URL split the way the app needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplitUrl<'a> {
    /// `scheme://host[:port]`.
    pub origin: &'a str,
    /// The path, `/` at least, as sent (not percent-decoded).
    pub path: &'a str,
    /// The query without its `?`, if any.
    pub query: Option<&'a str>,
}

/// Split an absolute URL (`scheme://host[:port]/path?query#fragment`), as
/// the runtime hands it over, already normalized (WHATWG URL): slicing is
/// all that is needed. `None` for a URL without `://`.
pub fn split_url(url: &str) -> Option<SplitUrl<'_>> {
    let after_scheme = url.find("://")? + 3;
    let path_start = url[after_scheme..].find(['/', '?', '#']).map_or(url.len(), |i| after_scheme + i);
    let origin = &url[..path_start];
    let rest = url[path_start..].split('#').next().unwrap_or("");
    let (path, query) = match rest.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (rest, None),
    };
    Some(SplitUrl { origin, path: if path.is_empty() { "/" } else { path }, query })
}

/// A request as the app sees it.
#[derive(Debug, Clone)]
pub struct Request {
    /// The method.
    pub method: Method,
    /// Path without the query string, as sent (not percent-decoded).
    pub path: String,
    /// Raw query string without the leading `?`, if any.
    pub query: Option<String>,
    /// The values of the headers in [`Header::ALL`], by position.
    headers: [Option<String>; Header::ALL.len()],
    /// The body, or the fact that it was too large to read.
    pub body: Body,
    /// `scheme://host[:port]` of the request URL; the issuer when `ISSUER` is unset.
    pub origin: String,
    /// How it came: over HTTP, or as a call of a Worker bound to this one.
    pub via: Via,
}

/// How a request reached the app. Only the Worker's RPC method makes a
/// [`Via::ServiceBinding`] request ([`Request::from_service_binding`]);
/// nothing a client sends over HTTP can.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// A request over HTTP.
    Http,
    /// A call of a Worker bound to this one (`env.AUTH.verify(…)`).
    ServiceBinding,
}

impl Request {
    /// The call `body` of a Worker bound to this one (a service binding's
    /// RPC method), as a request to `path`.
    pub fn from_service_binding(path: &str, body: impl Into<Vec<u8>>) -> Request {
        let mut req = Request::new(Method::Post, path, "").with_body(body);
        req.via = Via::ServiceBinding;
        req
    }

    /// A request for `url_path_and_query` (`/path?query`) at `origin`, with
    /// no headers and an empty body.
    pub fn new(method: Method, url_path_and_query: &str, origin: &str) -> Request {
        let (path, query) = match url_path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (url_path_and_query.to_string(), None),
        };
        Request {
            method,
            path,
            query,
            headers: Default::default(),
            body: Body::Bytes(Vec::new()),
            origin: origin.to_string(),
            via: Via::Http,
        }
    }

    /// A request for an absolute URL, as the runtime hands it over.
    pub fn for_url(method: Method, url: &str) -> Option<Request> {
        let split = split_url(url)?;
        let mut req = Request::new(method, split.path, split.origin);
        req.query = split.query.map(str::to_string);
        Some(req)
    }

    /// Add a header field as received. Fields the app does not read are
    /// dropped; a repeated field is joined to the earlier value with ", ",
    /// exactly as the Fetch API's `Headers.get` does (RFC 9110 §5.3), so a
    /// host test sees what the Worker sees.
    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        if let Some(header) = Header::parse(name) {
            let slot = &mut self.headers[header.index()];
            match slot {
                Some(earlier) => {
                    earlier.push_str(", ");
                    earlier.push_str(value);
                }
                None => *slot = Some(value.to_string()),
            }
        }
        self
    }

    /// The body as received; over [`MAX_BODY_BYTES`] it is [`Body::TooLarge`].
    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        let bytes = body.into();
        self.body = if bytes.len() > MAX_BODY_BYTES { Body::TooLarge } else { Body::Bytes(bytes) };
        self
    }

    /// The header's value (repeats joined with ", "), if it was sent.
    pub fn header(&self, header: Header) -> Option<&str> {
        self.headers[header.index()].as_deref()
    }

    /// The declared body size, when `Content-Length` is a number.
    pub fn declared_length(&self) -> Option<u64> {
        self.header(Header::ContentLength).and_then(|v| v.trim().parse::<u64>().ok())
    }

    /// The media type of `Content-Type`, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header(Header::ContentType).map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

/// A response as the app makes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// Header names lower-case; values never hold a newline.
    pub headers: Vec<(&'static str, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
    /// Set when `body` still lacks a signature: see [`SignatureSlot`].
    pub signature: Option<SignatureSlot>,
}

/// Where a response body still lacks its access token's ES256 signature:
/// the port that holds the key signs `body[input]` (the JWS signing input,
/// RFC 7515 §5.1) and writes the base64url signature at `at`
/// ([`Response::fill_signature`]). The app stops short of signing so that,
/// in the Worker, the signature and the `Response` are made in one JS step
/// (docs/architecture.md, "The glue contract"): awaiting WebCrypto from Rust
/// costs a trip through the wasm executor (BENCHMARKS.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSlot {
    /// The byte range of the JWS signing input in the body.
    pub input: std::ops::Range<usize>,
    /// Where the base64url signature goes.
    pub at: usize,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type", "application/json".to_string())],
            body: body.into(),
            signature: None,
        }
    }

    /// A response with no body.
    pub fn empty(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new(), signature: None }
    }

    /// Add a header.
    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Replace any header of that name.
    pub fn set_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.retain(|(k, _)| *k != name);
        self.with_header(name, value)
    }

    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| *k == name).map(|(_, v)| v.as_str())
    }

    /// The bytes to sign, when a signature is still missing.
    pub fn signing_input(&self) -> Option<&[u8]> {
        self.signature.as_ref().and_then(|slot| self.body.get(slot.input.clone()))
    }

    /// Write the 64-byte ES256 signature (`R || S`, RFC 7518 §3.4) into its
    /// slot as base64url: what `glue.js` does in the Worker.
    pub fn fill_signature(mut self, signature: &[u8; 64]) -> Response {
        if let Some(slot) = self.signature.take() {
            let encoded = URL_SAFE_NO_PAD.encode(signature);
            let at = slot.at.min(self.body.len());
            self.body.splice(at..at, encoded.into_bytes());
        }
        self
    }

    /// The body parsed as JSON (`Null` if it is not JSON), for tests and tools.
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_as_the_runtime_hands_them_over() {
        let cases = [
            ("https://a.test/oauth2/token", "https://a.test", "/oauth2/token", None),
            (
                "http://127.0.0.1:8787/admin/clients?limit=2&cursor=x",
                "http://127.0.0.1:8787",
                "/admin/clients",
                Some("limit=2&cursor=x"),
            ),
            ("https://a.test", "https://a.test", "/", None),
            ("https://a.test?x=1", "https://a.test", "/", Some("x=1")),
            ("https://a.test/p#frag", "https://a.test", "/p", None),
            ("https://a.test/p?q=1#frag", "https://a.test", "/p", Some("q=1")),
        ];
        for (url, origin, path, query) in cases {
            assert_eq!(split_url(url), Some(SplitUrl { origin, path, query }), "{url}");
        }
        assert_eq!(split_url("not a url"), None);
    }

    #[test]
    fn headers_are_the_read_set_with_repeats_joined_like_fetch() {
        let req = Request::new(Method::Post, "/", "https://a.test")
            .with_header("Authorization", "Bearer a,b c")
            .with_header("X-Other", "dropped")
            .with_header("content-type", "application/json")
            .with_header("AUTHORIZATION", "Basic x");
        // What `Headers.get("authorization")` returns for the same request.
        assert_eq!(req.header(Header::Authorization), Some("Bearer a,b c, Basic x"));
        assert_eq!(req.media_type().as_deref(), Some("application/json"));
        assert_eq!(req.header(Header::ContentLength), None);
        assert_eq!(Header::parse("x-other"), None);
        let names: Vec<&str> = Header::ALL.iter().map(|h| h.name()).collect();
        assert_eq!(Header::NAMES, names.join("\n"));
    }
}
