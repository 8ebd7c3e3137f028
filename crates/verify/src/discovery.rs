//! Where an issuer's metadata is, and its `jwks_uri` from there.
//!
//! Two specifications place the document differently for an issuer with a
//! path (`https://as.example/tenant`): OpenID Connect Discovery 1.0 §4
//! appends `/.well-known/openid-configuration` to the issuer
//! (`https://as.example/tenant/.well-known/openid-configuration`), RFC 8414
//! §3 inserts `/.well-known/oauth-authorization-server` between the host
//! and the path (`https://as.example/.well-known/oauth-authorization-server/tenant`).
//! Both are tried, in the order that suits the kind of issuer; without a
//! path they differ only in the name.

use serde_json::Value;

use crate::fetch::{self, Answer, FetchError, Fetcher};

/// Which specification to try first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metadata {
    /// An OAuth 2.0 authorization server (an m2m-edge deployment): RFC 8414
    /// first, then OpenID Connect Discovery.
    OAuth,
    /// An OpenID provider (a platform issuing identity tokens: GitHub
    /// Actions, Kubernetes): OpenID Connect Discovery first, then RFC 8414.
    OpenId,
}

/// The URLs of `issuer`'s metadata, in the order to try them.
pub fn metadata_urls(issuer: &str, first: Metadata) -> [String; 2] {
    let issuer = issuer.trim_end_matches('/');
    let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
    let (origin, path) = match issuer[after_scheme..].find('/') {
        Some(i) => issuer.split_at(after_scheme + i),
        None => (issuer, ""),
    };
    let inserted = format!("{origin}/.well-known/oauth-authorization-server{path}");
    let appended = format!("{issuer}/.well-known/openid-configuration");
    match first {
        Metadata::OAuth => [inserted, appended],
        Metadata::OpenId => [appended, inserted],
    }
}

/// What an issuer's metadata says a verifier needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// `jwks_uri` (RFC 8414 §2).
    pub jwks_uri: String,
    /// `revocation_list_uri`: an m2m-edge deployment's revocation list
    /// (not an RFC 8414 name); `None` for other issuers.
    pub revocation_list_uri: Option<String>,
}

/// The `jwks_uri` of `issuer`'s metadata ([`locate`]).
pub async fn jwks_uri<F: Fetcher>(fetcher: &F, issuer: &str, first: Metadata) -> Result<String, FetchError> {
    locate(fetcher, issuer, first).await.map(|located| located.jwks_uri)
}

/// What `issuer`'s metadata names ([`Located`]), found at the first of
/// [`metadata_urls`] that answers 200; its `issuer` must be `issuer`
/// exactly (RFC 8414 §3.3, OpenID Connect Discovery 1.0 §4.3). A URL that
/// answers another status (a redirect included: not followed) moves on to
/// the next; a failure to fetch or an oversized document (the host is the
/// same for both) ends the search.
pub async fn locate<F: Fetcher>(fetcher: &F, issuer: &str, first: Metadata) -> Result<Located, FetchError> {
    let mut last = None;
    for url in metadata_urls(issuer, first) {
        let fetched = match fetch::answer(fetcher, &url, fetch::MAX_DOCUMENT_BYTES).await? {
            Answer::Document(fetched) => fetched,
            Answer::Status(status) => {
                last = Some(fetch::not_a_document(&url, status));
                continue;
            }
        };
        let metadata: Value =
            serde_json::from_slice(&fetched.body).map_err(|_| FetchError(format!("{url} is not JSON")))?;
        if metadata.get("issuer").and_then(Value::as_str) != Some(issuer) {
            return Err(FetchError(format!("{url} names another issuer")));
        }
        let jwks_uri = metadata
            .get("jwks_uri")
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| FetchError(format!("{url} names no jwks_uri")))?;
        let revocation_list_uri = metadata.get("revocation_list_uri").and_then(Value::as_str).map(str::to_string);
        return Ok(Located { jwks_uri, revocation_list_uri });
    }
    Err(last.unwrap_or_else(|| FetchError("no metadata".into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_locations_in_the_order_asked() {
        assert_eq!(
            metadata_urls("https://as.example", Metadata::OAuth),
            [
                "https://as.example/.well-known/oauth-authorization-server",
                "https://as.example/.well-known/openid-configuration"
            ]
        );
        assert_eq!(
            metadata_urls("https://as.example/tenant/", Metadata::OpenId),
            [
                "https://as.example/tenant/.well-known/openid-configuration",
                "https://as.example/.well-known/oauth-authorization-server/tenant"
            ]
        );
        assert_eq!(
            metadata_urls("http://127.0.0.1:8787/a/b", Metadata::OAuth),
            [
                "http://127.0.0.1:8787/.well-known/oauth-authorization-server/a/b",
                "http://127.0.0.1:8787/a/b/.well-known/openid-configuration"
            ]
        );
    }
}
