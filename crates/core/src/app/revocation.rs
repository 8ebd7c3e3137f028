//! `POST /oauth2/revoke` (RFC 7009) and `POST /oauth2/introspect` (RFC
//! 7662): a client hands back one of this deployment's access tokens, to
//! revoke it or to ask whether it is still good. Both authenticate the
//! client exactly as the token endpoint does (RFC 7009 §2.1, RFC 7662
//! §2.1), through the same function, so every credential, lockout and
//! failure count applies here too. And `GET /oauth2/revocations`, the
//! revocation list verifiers hold.

use m2m_edge_verify::claims::Binding;
use std::collections::BTreeMap;

use m2m_edge_verify::Requirements;
use serde::Serialize;
use serde_json::Value;

use super::admin_scope::AdminScope;
use super::own_token::{self, Audience, Unaccepted};
use super::token::client_authentication;
use super::{render, Ports, Runtime};
use crate::client::ClientRecord;
use crate::http::{Body, Header, Request, Response};
use crate::limits;
use crate::oauth::form::parse_pairs;
use crate::oauth::metadata::{INTROSPECTION_PATH, REVOCATION_PATH};
use crate::oauth::params::TokenParams;
use crate::oauth::{ErrorCode, OAuthError};
use crate::revocation::{Issued, RevocationStore};

/// Answer one revocation request.
pub async fn revoke<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> Response {
    answer(req, p, REVOCATION_PATH, revoke_token).await
}

/// Answer one introspection request.
pub async fn introspect<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> Response {
    answer(req, p, INTROSPECTION_PATH, introspect_token).await
}

/// What both endpoints do around their own step: the issuer, the form,
/// the client's authentication, the `token` parameter; errors rendered as
/// the token endpoint renders them (RFC 6749 §5.2, which both RFCs use).
async fn answer<R: Runtime, F>(req: &Request, p: &Ports<'_, R>, called: &str, step: F) -> Response
where
    F: AsyncFn(&str, &str, &ClientRecord, &Ports<'_, R>) -> Result<Response, OAuthError>,
{
    let issuer = match p.config.issuer_for(&req.origin) {
        Ok(issuer) => issuer,
        Err(unset) => return super::issuer_unset(unset, p),
    };
    let outcome = async {
        let params = params(req)?;
        let source = limits::source(req);
        let authorization = req.header(Header::Authorization);
        let (client, _) = client_authentication(authorization, &params, issuer, called, source.as_deref(), p).await?;
        let token = params.token.as_deref().ok_or_else(|| OAuthError::invalid_request("missing token"))?;
        step(token, issuer, &client, p).await
    };
    match outcome.await {
        Ok(response) => response.with_header("cache-control", "no-store"),
        Err(error) => {
            if let Some(detail) = &error.log {
                p.log.error(detail);
            }
            render::oauth_error(&error, issuer)
        }
    }
}

/// The request's parameters: RFC 7009 §2.1 and RFC 7662 §2.1 are
/// form-encoded; JSON is taken as at the token endpoint.
fn params(req: &Request) -> Result<TokenParams, OAuthError> {
    let body = match &req.body {
        Body::Bytes(b) => b,
        Body::TooLarge => return Err(OAuthError::invalid_request("the request body exceeds 16 KiB").with_status(413)),
    };
    match req.media_type().as_deref() {
        Some("application/x-www-form-urlencoded") => TokenParams::from_form(body),
        Some("application/json") => TokenParams::from_json(body),
        _ => Err(OAuthError::invalid_request("Content-Type must be application/x-www-form-urlencoded")),
    }
}

/// RFC 7009 §2.1–2.2. A token that is not this deployment's, or no longer
/// valid, has nothing left to revoke: 200, as §2.2 says of invalid tokens.
/// `token_type_hint` needs no lookup here: every token this server issues
/// is an access token, and §2.1 has a server search past a hint anyway.
/// A valid token issued to another client is refused (§2.1: "If this
/// validation fails, the request is refused"), with `invalid_grant`, RFC
/// 6749 §5.2's code for a grant "issued to another client".
async fn revoke_token<R: Runtime>(
    token: &str,
    issuer: &str,
    client: &ClientRecord,
    p: &Ports<'_, R>,
) -> Result<Response, OAuthError> {
    let verified = match own_token::verify(token, issuer, Audience::Any, Binding::Any, p).await {
        Ok(verified) => verified,
        Err(Unaccepted::Token(_)) => return Ok(Response::empty(200)),
        Err(Unaccepted::Server(why)) => return Err(OAuthError::server(format!("revocation: {why}"))),
    };
    if verified.client_id != client.id.as_str() {
        return Err(OAuthError::new(ErrorCode::InvalidGrant, "the token was issued to another client"));
    }
    p.store
        .revoke(&own_token::revocation_of(&verified))
        .await
        .map_err(|e| OAuthError::server(format!("revocation: {e}")))?;
    Ok(Response::empty(200))
}

/// RFC 7662 §2.2. The caller must be granted `tokens:introspect` on the
/// admin audience; a client of a project sees that project's tokens only.
/// Any token it may not see, or that is not valid now, is `active: false`
/// and nothing more (§2.2, and §4: the answer must not tell a token that
/// exists from one that does not).
async fn introspect_token<R: Runtime>(
    token: &str,
    issuer: &str,
    client: &ClientRecord,
    p: &Ports<'_, R>,
) -> Result<Response, OAuthError> {
    let granted = client.grants.iter().any(|g| {
        p.config.is_admin_audience(g.audience.as_str())
            && g.scopes.iter().any(|s| s.as_str() == AdminScope::TokensIntrospect.as_str())
    });
    if !granted {
        return Err(OAuthError::new(
            ErrorCode::UnauthorizedClient,
            "this client may not introspect tokens (admin scope tokens:introspect)",
        ));
    }
    let inactive = || Ok(Response::json(200, r#"{"active":false}"#));
    let own_token::Signed { token: verified, claims: mut answer } =
        match own_token::live(token, issuer, Audience::Any, Binding::Any, &Requirements::none(), p).await {
            Ok(signed) => signed,
            Err(Unaccepted::Token(_)) => return inactive(),
            Err(Unaccepted::Server(why)) => return Err(OAuthError::server(format!("introspection: {why}"))),
        };
    let own_project = client.project_id.as_ref().map(|p| p.as_str());
    if own_project.is_some() && own_token::project_of(&verified) != own_project {
        return inactive();
    }
    // Every claim the token carries, as signed (RFC 7662 §2.2 names most
    // of them and allows the rest).
    answer.insert("active".into(), Value::Bool(true));
    // RFC 9449 §6.2: a token bound to a key (`cnf`) is of the DPoP type.
    let token_type = if answer.contains_key("cnf") { "DPoP" } else { "Bearer" };
    answer.insert("token_type".into(), Value::String(token_type.into()));
    Ok(Response::json(200, Value::Object(answer).to_string()))
}

/// `GET /oauth2/revocations`: everything revoked that can still refuse a
/// token, read from the primary, for verifiers that check tokens without
/// calling back (`m2m_edge_verify::Verifier::revocations`). Like a
/// certificate revocation list (RFC 5280 §5) it is public: it names `jti`s
/// (which grant nothing), client ids (not secrets, RFC 6749 §2.2) and
/// project ids, with the times of their revocations.
pub async fn list<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> Response {
    let issuer = match p.config.issuer_for(&req.origin) {
        Ok(issuer) => issuer,
        Err(unset) => return super::issuer_unset(unset, p),
    };
    let now = p.clock.now();
    let asked = match query_of_one(req) {
        Ok(asked) => asked,
        Err(error) => return render::oauth_error(&error, issuer),
    };
    let all = match &asked {
        // A verifier in strict mode asks of one token on every request.
        Some(one) => {
            let issued = Issued { jti: &one.jti, client_id: &one.client_id, project_id: one.project_id.as_deref() };
            p.store.standing(&issued).await.map(|standing| standing.as_list(&issued))
        }
        None => p.store.revocations(now).await,
    };
    let all = match all {
        Ok(all) => all,
        Err(e) => return render::oauth_error(&OAuthError::server(format!("revocation list: {e}")), issuer),
    };
    let document = List {
        issuer,
        generated_at: now,
        tokens: all.tokens.iter().map(|t| Entry { jti: &t.jti, project_id: t.project_id.as_deref() }).collect(),
        clients: all.clients.iter().map(|(id, at)| (id.as_str(), *at)).collect(),
        projects: all.projects.iter().map(|(id, at)| (id.as_str(), *at)).collect(),
    };
    let body = match serde_json::to_vec(&document) {
        Ok(body) => body,
        Err(e) => return render::oauth_error(&OAuthError::server(format!("revocation list: {e}")), issuer),
    };
    Response::json(200, body).with_header("cache-control", "no-cache")
}

/// The revocation list as published.
#[derive(Serialize)]
struct List<'a> {
    issuer: &'a str,
    generated_at: i64,
    tokens: Vec<Entry<'a>>,
    clients: BTreeMap<&'a str, i64>,
    projects: BTreeMap<&'a str, i64>,
}

/// One revoked `jti`; with a project, only that project's token.
#[derive(Serialize)]
struct Entry<'a> {
    jti: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    project_id: Option<&'a str>,
}

/// The token a list is asked for: its query's `jti`, `client_id`, and
/// `project_id` if it has one.
struct OneToken {
    jti: String,
    client_id: String,
    project_id: Option<String>,
}

/// The token the request's query names, if it has a query.
fn query_of_one(req: &Request) -> Result<Option<OneToken>, OAuthError> {
    let Some(query) = req.query.as_deref().filter(|q| !q.is_empty()) else { return Ok(None) };
    let pairs = parse_pairs(query.as_bytes()).map_err(|e| OAuthError::invalid_request(e.describe()))?;
    let value = |name: &str| pairs.iter().find(|(k, v)| k == name && !v.is_empty()).map(|(_, v)| v.clone());
    match (value("jti"), value("client_id")) {
        (Some(jti), Some(client_id)) => Ok(Some(OneToken { jti, client_id, project_id: value("project_id") })),
        _ => Err(OAuthError::invalid_request("a list for one token needs its jti and client_id")),
    }
}
