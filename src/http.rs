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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
    Bytes(Vec<u8>),
    /// Declared or found to be over [`MAX_BODY_BYTES`]; not read further.
    TooLarge,
}

#[derive(Debug, Clone)]
pub struct Request {
    pub method: Method,
    /// Path without the query string, as sent (not percent-decoded).
    pub path: String,
    /// Raw query string without the leading `?`, if any.
    pub query: Option<String>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Body,
    /// `scheme://host[:port]` of the request URL; the issuer when `ISSUER` is unset.
    pub origin: String,
}

impl Request {
    pub fn new(method: Method, url_path_and_query: &str, origin: &str) -> Request {
        let (path, query) = match url_path_and_query.split_once('?') {
            Some((p, q)) => (p.to_string(), Some(q.to_string())),
            None => (url_path_and_query.to_string(), None),
        };
        Request { method, path, query, headers: Vec::new(), body: Body::Bytes(Vec::new()), origin: origin.to_string() }
    }

    pub fn with_header(mut self, name: &str, value: &str) -> Request {
        self.headers.push((name.to_ascii_lowercase(), value.to_string()));
        self
    }

    pub fn with_body(mut self, body: impl Into<Vec<u8>>) -> Request {
        let bytes = body.into();
        self.body = if bytes.len() > MAX_BODY_BYTES { Body::TooLarge } else { Body::Bytes(bytes) };
        self
    }

    /// The first header of that (lower-case) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// How many headers of that name were sent (a repeated `Authorization` is refused).
    pub fn header_count(&self, name: &str) -> usize {
        self.headers.iter().filter(|(k, _)| k == name).count()
    }

    /// The media type of `Content-Type`, lower-cased, without parameters.
    pub fn media_type(&self) -> Option<String> {
        self.header("content-type").map(|v| v.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// Set when `body` still lacks a signature: see [`SignatureSlot`].
    pub signature: Option<SignatureSlot>,
}

/// Where a response body still lacks its access token's ES256 signature:
/// the port that holds the key signs `body[input]` (the JWS signing input,
/// RFC 7515 §5.1) and writes the base64url signature at `at`
/// ([`Response::fill_signature`]). The app stops short of signing so that,
/// in the Worker, the signature and the `Response` are made in one JS step
/// (`src/wasm/glue.js`): awaiting WebCrypto from Rust cost a trip through
/// the wasm executor that was measured at ~10 µs a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSlot {
    pub input: std::ops::Range<usize>,
    pub at: usize,
}

impl Response {
    pub fn json(status: u16, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            headers: vec![("content-type", "application/json".to_string())],
            body: body.into(),
            signature: None,
        }
    }

    pub fn empty(status: u16) -> Response {
        Response { status, headers: Vec::new(), body: Vec::new(), signature: None }
    }

    pub fn with_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.push((name, value.into()));
        self
    }

    /// Replace any header of that name.
    pub fn set_header(mut self, name: &'static str, value: impl Into<String>) -> Response {
        self.headers.retain(|(k, _)| *k != name);
        self.with_header(name, value)
    }

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

    pub fn body_json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or(serde_json::Value::Null)
    }
}
