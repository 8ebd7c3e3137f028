//! Verification for the APIs beside the token service: a Worker bound to it
//! (a service binding) calls `verify(token, {audience, scopes,
//! maxTokenAge, realm})` and gets the token's claims or the RFC 6750
//! refusal, revocation included, with nothing to cache (the JS face of the
//! verifier; README, "Verifying tokens in your API").

use m2m_edge_verify::{token, Rejection, Requirements};
use serde_json::{json, Value};

use super::own_token::{self, Audience, Unaccepted};
use super::{Ports, Runtime};
use crate::http::{Body, Request, Response};

/// The path of the verification call (only ever a
/// [`crate::http::Via::ServiceBinding`] request).
pub const VERIFY_PATH: &str = "/verify";

/// Answer one call: a body `{"authorization": …, "options": {…}}`; 200 with
/// [`verify`]'s answer, or 400 `{"error": "invalid_options", …}` when the
/// call is not that (the Worker's glue rejects the call with a `TypeError`).
pub async fn answer<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> Response {
    let call: Value = match &req.body {
        Body::Bytes(bytes) => serde_json::from_slice(bytes).unwrap_or(Value::Null),
        // The call carries the Authorization value whole: past the body
        // limit it is past any token's size, a refusal like any other.
        Body::TooLarge => {
            return Response::json(200, refused(&Rejection::TooLarge, DEFAULT_REALM, p, None).to_string())
        }
    };
    let authorization = call.get("authorization").and_then(Value::as_str);
    let ask =
        call.get("options").ok_or_else(|| "options: an object is required".to_string()).and_then(Ask::from_options);
    match (authorization, ask) {
        (Some(authorization), Ok(ask)) => Response::json(200, verify(authorization, &ask, p).await.to_string()),
        (None, _) => invalid("authorization: a string (the Authorization header's value, or a token)"),
        (_, Err(why)) => invalid(&why),
    }
}

fn invalid(why: &str) -> Response {
    Response::json(400, json!({"error": "invalid_options", "error_description": why}).to_string())
}

/// The challenge's realm when the caller names none.
const DEFAULT_REALM: &str = "api";

/// What a caller asks of a token.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ask {
    /// The API the token must be for (its `aud`).
    pub audience: String,
    /// Scopes it must carry, each.
    pub scopes: Vec<String>,
    /// Refuse a token issued longer ago than this, seconds.
    pub max_token_age: Option<u64>,
    /// The project the token's client must belong to (its `project_id`
    /// claim): an API that serves one tenant.
    pub project_id: Option<String>,
    /// The realm of the `WWW-Authenticate` challenge of a refusal.
    pub realm: String,
}

impl Ask {
    /// The options object of `verify`, as JSON: `audience` required,
    /// `scopes` (array of strings), `maxTokenAge` (seconds), `projectId`
    /// and `realm` optional. A member given but not of its type is an
    /// error, never ignored: `maxTokenAge: NaN` arrives as `null` (JSON has
    /// no NaN) and is refused rather than taken as no limit.
    pub fn from_options(options: &Value) -> Result<Ask, String> {
        let audience = options.get("audience").and_then(Value::as_str).filter(|a| !a.is_empty());
        let audience = audience.ok_or("options.audience: the API's audience, a string, is required")?;
        let scopes = match options.get("scopes") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(list)) => list
                .iter()
                .map(|s| s.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or("options.scopes: an array of strings")?,
            Some(_) => return Err("options.scopes: an array of strings".into()),
        };
        let max_token_age = match options.get("maxTokenAge") {
            None => None,
            Some(age) => Some(age.as_u64().ok_or("options.maxTokenAge: a whole number of seconds")?),
        };
        let project_id = match options.get("projectId") {
            None => None,
            Some(Value::String(id)) if !id.is_empty() => Some(id.clone()),
            Some(_) => return Err("options.projectId: a project id, a string".into()),
        };
        let realm = match options.get("realm") {
            None => DEFAULT_REALM.to_string(),
            Some(Value::String(realm)) => realm.clone(),
            Some(_) => return Err("options.realm: a string".into()),
        };
        Ok(Ask { audience: audience.to_string(), scopes, max_token_age, project_id, realm })
    }
}

/// The answer: `{valid: true, claims}` with every claim the token carries,
/// or `{valid: false, status, error, error_description, headers}` — the
/// RFC 6750 answer to send as it is (`headers` holds `www-authenticate`, or
/// `retry-after` for a 503).
pub async fn verify<R: Runtime>(authorization: &str, ask: &Ask, p: &Ports<'_, R>) -> Value {
    let issuer = match p.config.issuer_for("") {
        Ok(issuer) => issuer,
        Err(unset) => return refused(&Rejection::KeysUnavailable, &ask.realm, p, Some(unset.to_string())),
    };
    let presented = match token::bearer(authorization) {
        Ok(presented) => presented,
        Err(rejection) => return refused(&rejection, &ask.realm, p, None),
    };
    let mut required = Requirements::scopes(&ask.scopes);
    required.max_token_age = ask.max_token_age;
    if let Some(project) = &ask.project_id {
        required = required.claim("project_id", project.as_str());
    }
    match own_token::live(presented, issuer, Audience::Only(&ask.audience), &required, p).await {
        // Every claim as signed (the verified token keeps only some).
        Ok(signed) => json!({"valid": true, "claims": signed.claims}),
        Err(Unaccepted::Token(rejection)) => refused(&rejection, &ask.realm, p, None),
        Err(Unaccepted::Server(why)) => refused(&Rejection::KeysUnavailable, &ask.realm, p, Some(why)),
    }
}

/// A refusal as the RPC answers it; `log` is for the operator only.
fn refused<R: Runtime>(rejection: &Rejection, realm: &str, p: &Ports<'_, R>, log: Option<String>) -> Value {
    if let Some(why) = log {
        p.log.error(&format!("verify (service binding): {why}"));
    }
    let header = rejection.header(realm);
    json!({
        "valid": false,
        "status": rejection.status(),
        "error": rejection.error_name(),
        "error_description": rejection.to_string(),
        "headers": {header.0: header.1},
    })
}
