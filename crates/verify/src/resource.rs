//! An API's own metadata (RFC 9728, OAuth 2.0 Protected Resource
//! Metadata): which authorization servers issue its tokens, which scopes it
//! knows, how tokens are presented — what an MCP client reads, from the
//! `resource_metadata` of a 401's challenge, to find where to get a token.
//!
//! ```
//! use m2m_edge_verify::resource::{ResourceMetadata, WELL_KNOWN_PATH};
//! use m2m_edge_verify::Rejection;
//!
//! let metadata = ResourceMetadata::new("https://orders.example.com/mcp", "https://auth.example.com")
//!     .scopes(["orders:read", "orders:write"]);
//! // Served at the well-known path inserted before the resource's path (§3.1).
//! assert_eq!(metadata.url().as_deref(), Some("https://orders.example.com/.well-known/oauth-protected-resource/mcp"));
//! assert!(metadata.path().is_some_and(|p| p.starts_with(WELL_KNOWN_PATH)));
//! let document: serde_json::Value = serde_json::from_str(&metadata.to_json()).unwrap();
//! assert_eq!(document["authorization_servers"][0], "https://auth.example.com");
//! // A refusal points at it (§5.1).
//! let answer = Rejection::Missing.to_response_with("orders", metadata.url().as_deref());
//! assert!(answer.headers.iter().any(|(name, value)| *name == "www-authenticate"
//!     && value.contains(r#"resource_metadata="https://orders.example.com/.well-known/oauth-protected-resource/mcp""#)));
//! ```

use serde::Serialize;

use crate::DPOP_ALGORITHMS;

/// RFC 9728 §3: the well-known path, inserted between a resource
/// identifier's host and path.
pub const WELL_KNOWN_PATH: &str = "/.well-known/oauth-protected-resource";

/// An API's RFC 9728 §2 metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ResourceMetadata {
    /// The API's resource identifier: the `aud` its tokens carry and the
    /// `resource` a client asks for (RFC 8707); a client checks that it is
    /// the identifier it fetched the metadata for (§3.3).
    pub resource: String,
    /// The issuers whose tokens the API takes.
    pub authorization_servers: Vec<String>,
    /// The scopes the API knows (RECOMMENDED).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<String>,
    /// How a token may be sent: the `Authorization` header only (RFC 6750
    /// §2.1); never the body or the query.
    pub bearer_methods_supported: [&'static str; 1],
    /// A name for people, if set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resource_name: Option<String>,
    /// The algorithms DPoP proofs may use with it (RFC 9449 §5.1's names).
    pub dpop_signing_alg_values_supported: Vec<&'static str>,
    /// Whether it takes DPoP-bound tokens only.
    pub dpop_bound_access_tokens_required: bool,
}

impl ResourceMetadata {
    /// The metadata of the API `resource`, whose tokens `authorization_server` issues.
    pub fn new(resource: impl Into<String>, authorization_server: impl Into<String>) -> ResourceMetadata {
        ResourceMetadata {
            resource: resource.into(),
            authorization_servers: vec![authorization_server.into()],
            scopes_supported: Vec::new(),
            bearer_methods_supported: ["header"],
            resource_name: None,
            dpop_signing_alg_values_supported: DPOP_ALGORITHMS.split(' ').collect(),
            dpop_bound_access_tokens_required: false,
        }
    }

    /// The same, naming the scopes the API knows.
    pub fn scopes<I, S>(mut self, scopes: I) -> ResourceMetadata
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.scopes_supported = scopes.into_iter().map(Into::into).collect();
        self
    }

    /// The same, with a name for people.
    pub fn name(mut self, name: impl Into<String>) -> ResourceMetadata {
        self.resource_name = Some(name.into());
        self
    }

    /// The same, for an API that takes DPoP-bound tokens only
    /// ([`crate::Requirements::dpop_bound`]).
    pub fn dpop_bound(mut self) -> ResourceMetadata {
        self.dpop_bound_access_tokens_required = true;
        self
    }

    /// Where the document is served (RFC 9728 §3.1): `None` if the resource
    /// identifier is not an absolute `https` or `http` URL.
    pub fn url(&self) -> Option<String> {
        metadata_url(&self.resource)
    }

    /// The path the API serves the document at (of [`ResourceMetadata::url`]).
    pub fn path(&self) -> Option<String> {
        let url = self.url()?;
        let after_scheme = url.find("://")? + 3;
        let path = url[after_scheme..].find('/')? + after_scheme;
        Some(url[path..].to_string())
    }

    /// The JSON document (`application/json`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// The metadata URL of `resource` (RFC 9728 §3.1): the well-known path
/// inserted between its host and its path, a path's terminating `/`
/// dropped, the query kept; `None` if it is not an absolute `http(s)` URL
/// without a fragment (§1.2: a resource identifier has none).
pub fn metadata_url(resource: &str) -> Option<String> {
    let (scheme, rest) = resource.split_once("://")?;
    if !matches!(scheme, "https" | "http") || resource.contains('#') {
        return None;
    }
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    if authority.is_empty() {
        return None;
    }
    let (path, query) = match tail.find('?') {
        Some(at) => tail.split_at(at),
        None => (tail, ""),
    };
    let path = path.strip_suffix('/').unwrap_or(path);
    Some(format!("{scheme}://{authority}{WELL_KNOWN_PATH}{path}{query}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_well_known_path_goes_between_host_and_path() {
        for (resource, url) in [
            ("https://api.example.com", "https://api.example.com/.well-known/oauth-protected-resource"),
            ("https://api.example.com/", "https://api.example.com/.well-known/oauth-protected-resource"),
            ("https://api.example.com/mcp", "https://api.example.com/.well-known/oauth-protected-resource/mcp"),
            ("https://api.example.com/a/b/", "https://api.example.com/.well-known/oauth-protected-resource/a/b"),
            ("http://localhost:8787/x?t=1", "http://localhost:8787/.well-known/oauth-protected-resource/x?t=1"),
        ] {
            assert_eq!(metadata_url(resource).as_deref(), Some(url), "{resource}");
        }
        for not in ["urn:example:api", "https://", "https://a.example/#x", "api.example.com"] {
            assert_eq!(metadata_url(not), None, "{not}");
        }
    }

    #[test]
    fn the_document_names_what_rfc_9728_asks_for() {
        let metadata = ResourceMetadata::new("https://orders.example.com", "https://auth.example.com").dpop_bound();
        let document: serde_json::Value = serde_json::from_str(&metadata.to_json()).unwrap();
        assert_eq!(
            document,
            serde_json::json!({
                "resource": "https://orders.example.com",
                "authorization_servers": ["https://auth.example.com"],
                "bearer_methods_supported": ["header"],
                "dpop_signing_alg_values_supported": ["ES256", "RS256"],
                "dpop_bound_access_tokens_required": true,
            })
        );
        assert_eq!(metadata.path().as_deref(), Some(WELL_KNOWN_PATH));
    }
}
