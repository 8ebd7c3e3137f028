//! The access token's claims, RFC 9068 §2.2.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

/// Claims the server sets itself, or that resource servers read as
/// authorization this server never grants. A client's `custom_claims` may
/// not use them: the RFC 9068 §2.2 set; registered claims (RFC 7519 §4.1,
/// RFC 9068 §2.2.3, OIDC Core §2) whose forgery would change how a resource
/// server reads the token; RFC 9396's `authorization_details`; the RFC 9068
/// §2.2.3.1 authorization attributes (`roles`, `groups`, `entitlements`);
/// the scope and permission claims other issuers' verifiers read as
/// grants (`scp` of Okta and Microsoft, `scopes`, `permissions` of Auth0's
/// role-based access); and `token_type`, which some verifiers read to tell
/// token kinds apart.
pub const RESERVED_CLAIMS: [&str; 29] = [
    "iss",
    "sub",
    "aud",
    "exp",
    "nbf",
    "iat",
    "jti",
    "client_id",
    "scope",
    "project_id",
    "client_incarnation",
    "auth_time",
    "acr",
    "amr",
    "azp",
    "cnf",
    "act",
    "may_act",
    "nonce",
    "sid",
    "typ",
    "token_type",
    "authorization_details",
    "roles",
    "groups",
    "entitlements",
    "scp",
    "scopes",
    "permissions",
];

/// Everything a token says. Borrowed, since it lives for one serialization.
#[derive(Debug, serde::Serialize)]
pub struct AccessTokenClaims<'a> {
    /// The issuer.
    pub iss: &'a str,
    /// RFC 9068 §2.2: for a client-credentials token "the sub claim ... SHOULD
    /// correspond to" the client, so `sub` = `client_id`.
    pub sub: &'a str,
    /// The one audience the token is for (RFC 8707).
    pub aud: &'a str,
    /// Expiry, Unix seconds.
    pub exp: i64,
    /// Issued at.
    pub iat: i64,
    /// Not before: the same as `iat`.
    pub nbf: i64,
    /// A unique id (128 random bits).
    pub jti: &'a str,
    /// The client (RFC 9068 §2.2).
    pub client_id: &'a str,
    /// RFC 9068 §2.2.3: space-delimited, as in RFC 6749 §3.3. Omitted when
    /// the grant carries no scopes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<&'a str>,
    /// The project (tenant) of the client, when it has one: an API tells
    /// which tenant is calling from this, and no custom claim can replace it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<&'a str>,
    /// Which incarnation of the client id the token was issued to
    /// ([`crate::client::Incarnation`]): this server's own admin API checks
    /// it against the stored client, so a token never outlives its
    /// client's identity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_incarnation: Option<&'a str>,
    /// RFC 8693 §4.1: for a token got with a platform's identity token
    /// (workload identity federation), who acted — the platform's issuer
    /// and subject — and which federated credential matched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub act: Option<&'a Actor>,
    /// RFC 9449 §6.1: the key a DPoP-bound token is bound to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cnf: Option<Confirmation<'a>>,
    /// The client's own claims, never replacing the ones above.
    #[serde(flatten)]
    pub custom: CustomClaims<'a>,
}

/// The `cnf` claim of a DPoP-bound token (RFC 7800 §3.1, RFC 9449 §6.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Confirmation<'a> {
    /// The RFC 7638 thumbprint of the proof's key.
    pub jkt: &'a str,
}

/// The `act` claim of a federated token.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Actor {
    /// The platform token's `iss`.
    pub iss: String,
    /// The platform token's `sub`.
    pub sub: String,
    /// The name of the client's federated credential it matched.
    pub federated_credential: String,
}

/// A client's extra claims, with reserved names dropped again at issue time
/// (input validation already refuses them; this keeps an old or hand-edited
/// record from overriding `sub` or `aud`).
#[derive(Debug)]
pub struct CustomClaims<'a>(pub &'a Map<String, Value>);

impl Serialize for CustomClaims<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (k, v) in self.0.iter().filter(|(k, _)| !RESERVED_CLAIMS.contains(&k.as_str())) {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_claims_never_replace_registered_ones() {
        let mut custom = Map::new();
        custom.insert("sub".into(), json!("attacker"));
        custom.insert("tenant".into(), json!("acme"));
        custom.insert("project_id".into(), json!("someone-elses"));
        custom.insert("act".into(), json!({"sub": "forged"}));
        let claims = AccessTokenClaims {
            iss: "https://issuer",
            sub: "m2m_1",
            aud: "https://api",
            exp: 20,
            iat: 10,
            nbf: 10,
            jti: "j",
            client_id: "m2m_1",
            scope: None,
            project_id: Some("payments"),
            client_incarnation: None,
            act: None,
            cnf: None,
            custom: CustomClaims(&custom),
        };
        let v: Value = serde_json::to_value(&claims).unwrap();
        assert_eq!(v["sub"], "m2m_1");
        assert_eq!(v["project_id"], "payments");
        assert_eq!(v["tenant"], "acme");
        assert!(v.get("scope").is_none());
        assert!(v.get("act").is_none(), "no custom claim can claim an actor");
        let text = serde_json::to_string(&claims).unwrap();
        assert_eq!(text.matches("\"sub\"").count(), 1);
    }
}
