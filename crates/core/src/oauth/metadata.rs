//! Authorization server metadata, RFC 8414 §2 (also served as the OpenID
//! discovery document, since many client libraries only look there).

use serde::Serialize;

use super::params::GRANT_TYPES;

/// The token endpoint.
pub const TOKEN_PATH: &str = "/oauth2/token";
/// The revocation endpoint (RFC 7009 §2).
pub const REVOCATION_PATH: &str = "/oauth2/revoke";
/// The introspection endpoint (RFC 7662 §2).
pub const INTROSPECTION_PATH: &str = "/oauth2/introspect";
/// The revocation list verifiers hold (not an RFC endpoint: like a
/// certificate revocation list for access tokens).
pub const REVOCATION_LIST_PATH: &str = "/oauth2/revocations";
/// The JWKS (RFC 7517 §5).
pub const JWKS_PATH: &str = "/.well-known/jwks.json";

/// The OpenAPI 3.1 document of the whole HTTP surface: a static asset
/// (wrangler.toml `[assets]`), not routed by the app.
pub const OPENAPI_PATH: &str = "/openapi.json";

/// Where the admin API lives; also the path of its audience.
pub const ADMIN_PATH: &str = "/admin";

/// The audience of access tokens for this deployment's own admin API
/// (`<issuer>/admin`): a client granted it, with admin scopes, administers
/// the deployment with its tokens.
pub fn admin_audience(issuer: &str) -> String {
    endpoint(issuer, ADMIN_PATH)
}

/// The endpoint URL for `path` under `issuer` (an issuer may end in `/`).
pub fn endpoint(issuer: &str, path: &str) -> String {
    format!("{}{path}", issuer.trim_end_matches('/'))
}

/// How clients authenticate at the token, revocation and introspection
/// endpoints (RFC 6749 §2.3, RFC 7523 §2.2).
const AUTH_METHODS: [&str; 3] = ["client_secret_basic", "client_secret_post", "private_key_jwt"];
/// The algorithms a `private_key_jwt` assertion may be signed with.
const ASSERTION_ALGS: [&str; 2] = ["ES256", "RS256"];

/// The metadata document of an issuer (serialized as written: a struct,
/// not a `json!` map, is a fraction of the code in the wasm).
#[derive(Debug, Clone, Serialize)]
pub struct Document<'a> {
    issuer: &'a str,
    token_endpoint: String,
    jwks_uri: String,
    /// RFC 8693 token exchange and the RFC 7523 JWT bearer grant take a
    /// trusted platform's identity token instead of a client secret.
    grant_types_supported: [&'static str; 3],
    token_endpoint_auth_methods_supported: [&'static str; 3],
    /// RFC 8414 §2: the algorithms private_key_jwt assertions may use.
    token_endpoint_auth_signing_alg_values_supported: [&'static str; 2],
    /// RFC 8414 §2: revocation (RFC 7009) and introspection (RFC 7662)
    /// authenticate clients exactly as the token endpoint does.
    revocation_endpoint: String,
    revocation_endpoint_auth_methods_supported: [&'static str; 3],
    revocation_endpoint_auth_signing_alg_values_supported: [&'static str; 2],
    introspection_endpoint: String,
    introspection_endpoint_auth_methods_supported: [&'static str; 3],
    introspection_endpoint_auth_signing_alg_values_supported: [&'static str; 2],
    /// RFC 8414 §2: REQUIRED, "an empty array" is not excluded; this
    /// server has no authorization endpoint, so it supports no response type.
    response_types_supported: [&'static str; 0],
    response_modes_supported: [&'static str; 0],
    /// RFC 9068 tokens are ES256-signed JWTs with typ at+jwt.
    access_token_signing_alg_values_supported: [&'static str; 1],
    /// RFC 8707: the `resource` parameter selects the audience.
    resource_indicators_supported: bool,
    /// RFC 9449 §5.1: the token endpoint binds tokens to DPoP proofs
    /// signed with these.
    dpop_signing_alg_values_supported: [&'static str; 2],
    subject_types_supported: [&'static str; 1],
    /// RFC 8414 §2 `scopes_supported` (RECOMMENDED): the registered API
    /// resources' scopes, when there are any.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes_supported: Vec<&'a str>,
    /// RFC 8414 §2 `service_documentation`: the machine-readable API
    /// description doubles as the developers' reference.
    service_documentation: String,
    /// Not an RFC 8414 name (§2 allows more): where verifiers that check
    /// tokens themselves learn of revocations.
    revocation_list_uri: String,
    /// Not an RFC 8414 name (§2 allows more): the audience an admin
    /// client's tokens must carry for the admin API.
    admin_audience: String,
}

/// The metadata document for `issuer`.
pub fn document(issuer: &str) -> Document<'_> {
    Document {
        issuer,
        token_endpoint: endpoint(issuer, TOKEN_PATH),
        jwks_uri: endpoint(issuer, JWKS_PATH),
        grant_types_supported: GRANT_TYPES,
        token_endpoint_auth_methods_supported: AUTH_METHODS,
        token_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        revocation_endpoint: endpoint(issuer, REVOCATION_PATH),
        revocation_endpoint_auth_methods_supported: AUTH_METHODS,
        revocation_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        introspection_endpoint: endpoint(issuer, INTROSPECTION_PATH),
        introspection_endpoint_auth_methods_supported: AUTH_METHODS,
        introspection_endpoint_auth_signing_alg_values_supported: ASSERTION_ALGS,
        response_types_supported: [],
        response_modes_supported: [],
        access_token_signing_alg_values_supported: ["ES256"],
        resource_indicators_supported: true,
        dpop_signing_alg_values_supported: ASSERTION_ALGS,
        subject_types_supported: ["public"],
        scopes_supported: Vec::new(),
        service_documentation: endpoint(issuer, OPENAPI_PATH),
        revocation_list_uri: endpoint(issuer, REVOCATION_LIST_PATH),
        admin_audience: admin_audience(issuer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_follow_issuer() {
        let d = serde_json::to_value(document("https://auth.example.com/")).unwrap();
        assert_eq!(d["issuer"], "https://auth.example.com/");
        assert_eq!(d["token_endpoint"], "https://auth.example.com/oauth2/token");
        assert_eq!(d["jwks_uri"], "https://auth.example.com/.well-known/jwks.json");
        assert_eq!(d["response_types_supported"], serde_json::json!([]));
    }
}
