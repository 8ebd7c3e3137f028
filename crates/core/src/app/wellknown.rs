//! `GET /.well-known/jwks.json` (RFC 7517 §5) and the RFC 8414 metadata.
//! (The OpenAPI document, `/openapi.json`, is a static asset: wrangler.toml
//! `[assets]`, written by `scripts/openapi-asset.mjs`.)

use super::{render, Ports, Runtime};
use crate::config::JWKS_MAX_AGE;
use crate::http::{Request, Response};
use crate::oauth::{metadata, OAuthError};
use crate::resource::ResourceStore;

pub fn jwks<R: Runtime>(p: &Ports<'_, R>) -> Response {
    match p.jwks {
        Ok(jwks) => Response::json(200, jwks.as_bytes().to_vec())
            .set_header("content-type", "application/jwk-set+json")
            .with_header("cache-control", format!("public, max-age={JWKS_MAX_AGE}"))
            .with_header("access-control-allow-origin", "*"),
        Err(e) => {
            let error = OAuthError::server(format!("JWKS unavailable: {e}"));
            p.log.error(error.log.as_deref().unwrap_or_default());
            render::oauth_error(&error, "m2m-edge")
        }
    }
}

pub async fn metadata<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> Response {
    let issuer = match p.config.issuer_for(&req.origin) {
        Ok(issuer) => issuer,
        Err(unset) => return super::issuer_unset(unset, p),
    };
    let mut document = metadata::document(issuer);
    // RFC 8414 §2 `scopes_supported` (RECOMMENDED): the registered API
    // resources' scopes. Without storage the document is still served.
    let resources = p.store.resources().await;
    match &resources {
        Ok(resources) => {
            let mut scopes: Vec<&str> =
                resources.iter().flat_map(|r| r.scopes.iter().map(|s| s.name.as_str())).collect();
            scopes.sort_unstable();
            scopes.dedup();
            document.scopes_supported = scopes;
        }
        Err(e) => p.log.error(&format!("discovery: scopes_supported left out: {e}")),
    }
    let body = match serde_json::to_vec(&document) {
        Ok(body) => body,
        Err(e) => return render::oauth_error(&OAuthError::server(format!("metadata: {e}")), issuer),
    };
    Response::json(200, body)
        .with_header("cache-control", format!("public, max-age={JWKS_MAX_AGE}"))
        .with_header("access-control-allow-origin", "*")
}
