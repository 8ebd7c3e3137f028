//! Verification for the APIs beside the token service: a Worker bound to it
//! (a service binding) calls `verify(token, {audience, scopes,
//! maxTokenAge, realm, …})` and gets the token's claims or the RFC 6750
//! refusal, revocation included, with nothing to cache (the JS face of the
//! verifier; README, "Verifying tokens in your API"). A DPoP-bound token
//! comes with its request's `dpop` proof, `method` and `url` (RFC 9449
//! §7.1), checked as the Rust verifier checks them, the proof spent in the
//! store every isolate shares.

use m2m_edge_verify::claims::Binding;
use m2m_edge_verify::dpop::Target;
use m2m_edge_verify::token::{self, Scheme};
use m2m_edge_verify::{Rejection, Requirements};
use serde_json::{json, Value};

use super::own_token::{self, Audience, Signed, Unaccepted};
use super::{dpop, Ports, Runtime};
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
            return Response::json(200, refused(&Rejection::TooLarge, &Challenge::default(), p, None).to_string())
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

/// The API's own part of a refusal's challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// Its `realm`.
    pub realm: String,
    /// Its RFC 9728 metadata's URL (`resource_metadata`, §5.1), if given.
    pub resource_metadata: Option<String>,
}

impl Default for Challenge {
    fn default() -> Challenge {
        Challenge { realm: DEFAULT_REALM.to_string(), resource_metadata: None }
    }
}

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
    /// What the `WWW-Authenticate` challenge of a refusal says beside the error.
    pub challenge: Challenge,
    /// The request's `DPoP` header, if it has one.
    pub dpop: Option<String>,
    /// The request's method and URL, which a DPoP proof must name.
    pub request: Option<(String, String)>,
    /// Take DPoP-bound tokens only (RFC 9728 `dpop_bound_access_tokens_required`).
    pub dpop_bound: bool,
}

impl Ask {
    /// The options object of `verify`, as JSON: `audience` required,
    /// `scopes` (array of strings), `maxTokenAge` (seconds), `projectId`,
    /// `realm`, `resourceMetadata` (the API's RFC 9728 metadata URL, for the
    /// challenge), and for DPoP `dpop` (the `DPoP` header's value, or null),
    /// `method` and `url` (together), `dpopBound` (a boolean) optional. A member given but not of its type is an
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
        let text = |name: &str| match options.get(name) {
            None => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.clone())),
            Some(_) => Err(format!("options.{name}: a string")),
        };
        let challenge = Challenge {
            realm: text("realm")?.unwrap_or_else(|| DEFAULT_REALM.to_string()),
            resource_metadata: text("resourceMetadata")?,
        };
        let dpop = match options.get("dpop") {
            // Headers.get gives null for a header the request lacks.
            Some(Value::Null) => None,
            _ => text("dpop")?,
        };
        let request = match (text("method")?, text("url")?) {
            (Some(method), Some(url)) => Some((method, url)),
            (None, None) => None,
            _ => return Err("options.method and options.url: both, or neither".into()),
        };
        let dpop_bound = match options.get("dpopBound") {
            None => false,
            Some(bound) => bound.as_bool().ok_or("options.dpopBound: a boolean")?,
        };
        Ok(Ask {
            audience: audience.to_string(),
            scopes,
            max_token_age,
            project_id,
            challenge,
            dpop,
            request,
            dpop_bound,
        })
    }
}

/// The answer: `{valid: true, claims}` with every claim the token carries,
/// or `{valid: false, status, error, error_description, headers}` — the
/// RFC 6750 answer to send as it is (`headers` holds `www-authenticate`, or
/// `retry-after` for a 503).
pub async fn verify<R: Runtime>(authorization: &str, ask: &Ask, p: &Ports<'_, R>) -> Value {
    let issuer = match p.config.issuer_for("") {
        Ok(issuer) => issuer,
        Err(unset) => return refused(&Rejection::KeysUnavailable, &ask.challenge, p, Some(unset.to_string())),
    };
    let mut required = Requirements::scopes(&ask.scopes);
    required.max_token_age = ask.max_token_age;
    required.dpop_bound = ask.dpop_bound;
    if let Some(project) = &ask.project_id {
        required = required.claim("project_id", project.as_str());
    }
    match presented(authorization, issuer, ask, &required, p).await {
        // Every claim as signed (the verified token keeps only some).
        Ok(signed) => json!({"valid": true, "claims": signed.claims}),
        Err(Unaccepted::Token(rejection)) => refused(&rejection, &ask.challenge, p, None),
        Err(Unaccepted::Server(why)) => refused(&Rejection::KeysUnavailable, &ask.challenge, p, Some(why)),
    }
}

/// The token of `authorization` as it was presented: a bearer token, or a
/// DPoP-bound one with a proof for the request (RFC 9449 §7.1), spent last
/// so that only a proof that passed everything is used up.
async fn presented<R: Runtime>(
    authorization: &str,
    issuer: &str,
    ask: &Ask,
    required: &Requirements,
    p: &Ports<'_, R>,
) -> Result<Signed, Unaccepted> {
    let audience = Audience::Only(&ask.audience);
    let token = match token::credentials(authorization).map_err(Unaccepted::Token)? {
        (Scheme::Bearer, token) => return own_token::live(token, issuer, audience, Binding::Bearer, required, p).await,
        (Scheme::Dpop, token) => token,
    };
    let Some((method, url)) = &ask.request else {
        return Err(Unaccepted::Token(Rejection::Proof("the call names no request: pass its method and url")));
    };
    let proof = ask.dpop.as_deref().ok_or(Unaccepted::Token(Rejection::Proof("the request has no DPoP header")))?;
    let target = Target { method, url };
    let proof = dpop::parse(proof, &target, Some(token), p).map_err(Unaccepted::Token)?;
    // The token first: only the holder of a live token bound to this key
    // gets the proof's key imported and its jti written.
    let signed = own_token::live(token, issuer, audience, Binding::Proven(&proof.jkt), required, p).await?;
    dpop::signed(&proof, p).await.map_err(Unaccepted::Token)?;
    dpop::spend(&proof, p).await?;
    Ok(signed)
}

/// A refusal as the RPC answers it; `log` is for the operator only.
fn refused<R: Runtime>(rejection: &Rejection, challenge: &Challenge, p: &Ports<'_, R>, log: Option<String>) -> Value {
    if let Some(why) = log {
        p.log.error(&format!("verify (service binding): {why}"));
    }
    let header = rejection.header_with(&challenge.realm, challenge.resource_metadata.as_deref());
    json!({
        "valid": false,
        "status": rejection.status(),
        "error": rejection.error_name(),
        "error_description": rejection.to_string(),
        "headers": {header.0: header.1},
    })
}
