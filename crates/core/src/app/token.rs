//! `POST /oauth2/token`: the client-credentials grant, RFC 6749 §4.4.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Serialize;

use m2m_edge_verify::dpop::{Proof, Target};
use m2m_edge_verify::Rejection;

use super::attempt::{answer, attempt};
use super::own_token::Unaccepted;
use super::{apart, dpop, federation};
use super::{render, Ports, Runtime};
use crate::client::secret::verify_any;
use crate::client::ClientStore;
use crate::client::{ClientId, ClientRecord, SecretHash, Status};
use crate::federation::platform::is_platform_token;
use crate::grant::scope::join;
use crate::http::{Body, Header, Request, Response, SignatureSlot};
use crate::jose::{jws, IssuingKey};
use crate::limits;
use crate::oauth::claims::{AccessTokenClaims, Actor, Confirmation, CustomClaims};
use crate::oauth::client_auth::{self, Credentials, Presented};
use crate::oauth::metadata::{endpoint, TOKEN_PATH};
use crate::oauth::negotiate::negotiate;
use crate::oauth::params::{TokenParams, CLIENT_CREDENTIALS, JWT_BEARER, TOKEN_EXCHANGE};
use crate::oauth::{ErrorCode, OAuthError};
use crate::refusal::Refusal;
use crate::resource::ResourceStore;

/// Answer one token request.
pub async fn handle<R: Runtime>(req: &Request, p: &Ports<'_, R>) -> Response {
    let issuer = match p.config.issuer_for(&req.origin) {
        Ok(issuer) => issuer,
        Err(unset) => return super::issuer_unset(unset, p),
    };
    let response = match issue(req, p, issuer).await {
        Ok(response) => response,
        Err(error) => {
            if let Some(detail) = &error.log {
                p.log.error(detail);
            }
            render::oauth_error(&error, issuer)
        }
    };
    // RFC 9449 §8.2: the nonce may come with any response; every one this
    // endpoint makes for an issuer carries the current one, so that a
    // client's next proof can have it without a refused request first.
    match &p.config.dpop_nonce {
        Some(nonces) => response.with_header("dpop-nonce", nonces.current(issuer, p.clock.now())),
        None => response,
    }
}

/// RFC 6749 §5.1.
#[derive(Serialize)]
struct TokenResponse<'a> {
    access_token: &'a str,
    token_type: &'static str,
    expires_in: u32,
    #[serde(skip_serializing_if = "str::is_empty")]
    scope: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    issued_token_type: Option<&'static str>,
}

async fn issue<R: Runtime>(req: &Request, p: &Ports<'_, R>, issuer: &str) -> Result<Response, OAuthError> {
    let body = match &req.body {
        Body::Bytes(b) => b,
        Body::TooLarge => return Err(OAuthError::invalid_request("the request body exceeds 16 KiB").with_status(413)),
    };
    // RFC 6749 §4.4.2: form-encoded; JSON with the same fields is accepted too.
    let params = match req.media_type().as_deref() {
        Some("application/x-www-form-urlencoded") => TokenParams::from_form(body)?,
        Some("application/json") => TokenParams::from_json(body)?,
        _ => {
            return Err(OAuthError::invalid_request(
                "Content-Type must be application/x-www-form-urlencoded (or application/json)",
            ))
        }
    };
    // A DPoP proof's form first: a malformed or misdirected one refuses the
    // request before client authentication spends anything (an assertion's
    // or a platform token's jti).
    let token_endpoint = endpoint(issuer, TOKEN_PATH);
    let proof = match req.header(Header::Dpop) {
        Some(proof) => {
            let target = Target { method: "POST", url: &token_endpoint };
            let proof = dpop::parse(proof, &target, None, p).map_err(refused_proof)?;
            with_nonce(&proof, issuer, p)?;
            Some(proof)
        }
        None => None,
    };
    let source = limits::source(req);
    let address = source.as_deref();
    let (client, actor) = match params.grant_type.as_deref() {
        None => return Err(OAuthError::invalid_request("missing grant_type")),
        Some(CLIENT_CREDENTIALS) => {
            client_authentication(req.header(Header::Authorization), &params, issuer, TOKEN_PATH, address, p).await?
        }
        Some(grant @ (TOKEN_EXCHANGE | JWT_BEARER)) => {
            let (client, actor) = apart(platform_grant(grant, req, &params, issuer, address, p)).await?;
            (client, Some(actor))
        }
        Some(_) => {
            return Err(OAuthError::new(
                ErrorCode::UnsupportedGrantType,
                "supported: client_credentials, token-exchange (RFC 8693) and jwt-bearer (RFC 7523)",
            ))
        }
    };
    let decision = negotiate(&client.grants, &params.resource, &params.audience, params.scope.as_deref())?;
    let bound_to = bound_key(proof, &client, p).await?;
    let signer = p.signer.map_err(|e| OAuthError::server(format!("cannot sign tokens: {e}")))?;

    // A registered API resource's token_ttl caps the lifetime: the shorter wins.
    let resource = p
        .store
        .resource_by_identifier(decision.audience.as_str())
        .await
        .map_err(|e| OAuthError::server(e.to_string()))?;
    let client_ttl = client.token_ttl.unwrap_or(p.config.default_token_ttl);
    let ttl = resource.and_then(|r| r.token_ttl).map_or(client_ttl, |cap| cap.min(client_ttl));
    let now = p.clock.now();
    let mut jti_bytes = [0u8; 16]; // RFC 9068 §2.2 / RFC 7519 §4.1.7: unique; 128 random bits
    p.random.fill(&mut jti_bytes).map_err(|_| OAuthError::server("random source failed"))?;
    let jti = URL_SAFE_NO_PAD.encode(jti_bytes);
    let scope = join(&decision.scopes);
    let claims = AccessTokenClaims {
        iss: issuer,
        sub: client.id.as_str(),
        aud: decision.audience.as_str(),
        exp: now + i64::from(ttl),
        iat: now,
        nbf: now,
        jti: &jti,
        client_id: client.id.as_str(),
        scope: (!scope.is_empty()).then_some(scope.as_str()),
        project_id: client.project_id.as_ref().map(|p| p.as_str()),
        client_incarnation: client.incarnation.as_ref().map(|i| i.as_str()),
        act: actor.as_ref(),
        cnf: bound_to.as_deref().map(|jkt| Confirmation { jkt }),
        custom: CustomClaims(&client.custom_claims),
    };
    let payload = serde_json::to_vec(&claims).map_err(|e| OAuthError::server(format!("claims: {e}")))?;
    let signing_input = jws::signing_input(signer.header_b64(), &payload);
    // RFC 8693 §2.2.1: a token exchange says what it issued.
    let issued_token_type = (params.grant_type.as_deref() == Some(TOKEN_EXCHANGE)).then_some(ACCESS_TOKEN_TYPE);
    // RFC 9449 §5: a bound token is of the DPoP type.
    let token_type = if bound_to.is_some() { "DPoP" } else { "Bearer" };
    token_response(&signing_input, token_type, ttl, &scope, issued_token_type)
}

/// The client and actor of a grant that presents a platform token: a token
/// exchange (RFC 8693) naming its client, or the JWT bearer grant (RFC
/// 7523), whose client may be found by the token alone.
async fn platform_grant<R: Runtime>(
    grant: &str,
    req: &Request,
    params: &TokenParams,
    issuer: &str,
    address: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<(ClientRecord, Actor), OAuthError> {
    let jwt = platform_token(grant, params)?;
    // RFC 8693 §2.2.2: an unacceptable subject token is
    // invalid_request; RFC 7523 §3.1: a bad JWT grant invalid_grant.
    let code = if grant == TOKEN_EXCHANGE { ErrorCode::InvalidRequest } else { ErrorCode::InvalidGrant };
    let id = match platform_client(req, params, issuer, address, p).await? {
        Some(id) => id,
        // Only the JWT bearer grant finds its client by the token (the MCP
        // workload identity federation profile); a token exchange names it.
        None if grant == TOKEN_EXCHANGE => {
            return Err(OAuthError::invalid_request("missing client_id: it names the client the token is for"))
        }
        None => federation::sole_match(jwt, issuer, p)
            .await
            .map_err(|refusal| {
                if refusal.counts() {
                    p.log.error(&format!("federated token refused (no client_id sent): {refusal}"));
                }
                answer(refusal, || denied(code))
            })?
            .as_str()
            .to_string(),
    };
    federated(jwt, &id, issuer, address, code, p).await
}

/// The key the token is to be bound to: the key of the request's DPoP
/// proof (RFC 9449 §5), its signature checked and its `jti` spent once the
/// client has authenticated, so that no one else's request uses up a
/// client's proof. A client registered with `dpop_bound_access_tokens`
/// must send one (§5.2).
async fn bound_key<R: Runtime>(
    proof: Option<Proof<'_>>,
    client: &ClientRecord,
    p: &Ports<'_, R>,
) -> Result<Option<String>, OAuthError> {
    let Some(proof) = proof else {
        return match client.dpop_bound_access_tokens {
            true => Err(refused_proof(Rejection::Proof("this client must send one (dpop_bound_access_tokens)"))),
            false => Ok(None),
        };
    };
    apart(async {
        dpop::signed(&proof, p).await.map_err(refused_proof)?;
        dpop::spend(&proof, p).await.map_err(|unaccepted| match unaccepted {
            Unaccepted::Token(rejection) => refused_proof(rejection),
            Unaccepted::Server(why) => OAuthError::server(why),
        })
    })
    .await?;
    Ok(Some(proof.jkt))
}

/// RFC 9449 §8: with `DPOP_NONCE_SECRET` set, a proof must carry a nonce
/// this deployment handed out, not yet stale; else `use_dpop_nonce`, the
/// response carrying the one to use ([`handle`]).
fn with_nonce<R: Runtime>(proof: &Proof<'_>, issuer: &str, p: &Ports<'_, R>) -> Result<(), OAuthError> {
    let Some(nonces) = &p.config.dpop_nonce else { return Ok(()) };
    match proof.nonce.as_deref() {
        Some(nonce) if nonces.accepts(issuer, nonce, p.clock.now()) => Ok(()),
        Some(_) => {
            Err(OAuthError::new(ErrorCode::UseDpopNonce, "the DPoP proof's nonce is stale: use the one in DPoP-Nonce"))
        }
        None => Err(OAuthError::new(ErrorCode::UseDpopNonce, "the DPoP proof must carry the nonce in DPoP-Nonce")),
    }
}

/// RFC 9449 §5: a refused proof at the token endpoint.
fn refused_proof(rejection: Rejection) -> OAuthError {
    OAuthError::new(ErrorCode::InvalidDpopProof, rejection.to_string())
}

/// RFC 8693 §3: what this server issues.
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
/// RFC 8693 §3: the subject token types a trusted issuer's token may be
/// sent as: any JWT, an identity token, or an access token (whether the
/// issuer's access tokens are taken is the issuer's setting, read from the
/// token's own `typ`).
const SUBJECT_TOKEN_TYPES: [&str; 3] =
    ["urn:ietf:params:oauth:token-type:jwt", "urn:ietf:params:oauth:token-type:id_token", ACCESS_TOKEN_TYPE];

/// The platform token of a token-exchange or JWT-bearer request.
fn platform_token<'a>(grant: &str, params: &'a TokenParams) -> Result<&'a str, OAuthError> {
    if grant != TOKEN_EXCHANGE {
        return params.assertion.as_deref().ok_or_else(|| OAuthError::invalid_request("missing assertion"));
    }
    if params.actor_token.is_some() {
        return Err(OAuthError::invalid_request("actor_token is not supported"));
    }
    if params.requested_token_type.as_deref().is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
        return Err(OAuthError::invalid_request("requested_token_type: only access tokens are issued"));
    }
    match params.subject_token_type.as_deref() {
        Some(t) if SUBJECT_TOKEN_TYPES.contains(&t) => {}
        Some(_) => {
            return Err(OAuthError::invalid_request(
                "subject_token_type must be urn:ietf:params:oauth:token-type:jwt, …:id_token or …:access_token",
            ))
        }
        None => return Err(OAuthError::invalid_request("missing subject_token_type")),
    }
    params.subject_token.as_deref().ok_or_else(|| OAuthError::invalid_request("missing subject_token"))
}

/// The id of the client a platform token is exchanged for. Client
/// authentication is optional with both grants (RFC 7523 §2.1; RFC 8693
/// §2.1 leaves it to the server) and many libraries always send it: when
/// sent, it must succeed and authenticate that very client — `client_id`
/// in the body, if there is one, names it — or the request is
/// `invalid_client`. Without it, `client_id` names the client and the
/// platform token is the only credential; without that either, `None`:
/// the token itself must match exactly one client
/// ([`federation::sole_match`], MCP's workload identity federation).
async fn platform_client<R: Runtime>(
    req: &Request,
    params: &TokenParams,
    issuer: &str,
    address: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<Option<String>, OAuthError> {
    let authorization = req.header(Header::Authorization);
    let sent = authorization.is_some()
        || params.client_secret.is_some()
        || params.client_assertion.is_some()
        || params.client_assertion_type.is_some();
    if !sent {
        return Ok(params.client_id.clone());
    }
    // The Basic header names the client it authenticates; the body's
    // client_id the one the token is for: compared below, so that one
    // client's secret never stands for another (invalid_client).
    let mut credentials = params.clone();
    if authorization.is_some() {
        credentials.client_id = None;
    }
    let (client, _) = client_authentication(authorization, &credentials, issuer, TOKEN_PATH, address, p).await?;
    match &params.client_id {
        Some(id) if id != client.id.as_str() => Err(OAuthError::invalid_client()),
        _ => Ok(Some(client.id.as_str().to_string())),
    }
}

/// The client a request to the endpoint at `called` (a path) authenticates
/// (RFC 6749 §2.3): a secret, its own `private_key_jwt` assertion, or a
/// platform's token as its assertion (RFC 7523 §2.2 with workload identity
/// federation, the client named by `client_id`, Azure's shape) — then with
/// who acted for it. Revocation and introspection authenticate the same
/// way (RFC 7009 §2.1, RFC 7662 §2.1).
pub(super) async fn client_authentication<R: Runtime>(
    authorization: Option<&str>,
    params: &TokenParams,
    issuer: &str,
    called: &str,
    address: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<(ClientRecord, Option<Actor>), OAuthError> {
    match client_auth::presented(authorization, params)? {
        Presented::Secret(credentials) => Ok((authenticate(&credentials, address, p).await?, None)),
        Presented::Assertion(a) if is_platform_token(&a.jwt, a.client_id.as_deref()) => {
            let id = a.client_id.as_deref().unwrap_or_default();
            let (client, actor) = federated(&a.jwt, id, issuer, address, ErrorCode::InvalidClient, p).await?;
            Ok((client, Some(actor)))
        }
        Presented::Assertion(a) => {
            Ok((apart(super::assertion::authenticate(&a, issuer, called, address, p)).await?, None))
        }
    }
}

/// A federated client and its actor, or the refusal as `code` says.
async fn federated<R: Runtime>(
    jwt: &str,
    client_id: &str,
    issuer: &str,
    address: Option<&str>,
    code: ErrorCode,
    p: &Ports<'_, R>,
) -> Result<(ClientRecord, Actor), OAuthError> {
    apart(federation::authenticate(jwt, client_id, issuer, address, || denied(code), p)).await
}

/// The refusal of a platform token, as the grant's `code` says.
fn denied(code: ErrorCode) -> OAuthError {
    match code {
        ErrorCode::InvalidClient => OAuthError::invalid_client(),
        code => OAuthError::new(code, "the platform token is not accepted for this client"),
    }
}

/// The RFC 6749 §5.1 body with the access token's signature left to the
/// signing port ([`SignatureSlot`]). `access_token` is serialized first and
/// its value (base64url and dots) needs no JSON escaping, so the signing
/// input sits right after `{"access_token":"`; that is checked, not assumed.
fn token_response(
    signing_input: &str,
    token_type: &'static str,
    ttl: u32,
    scope: &str,
    issued_token_type: Option<&'static str>,
) -> Result<Response, OAuthError> {
    const PREFIX: &[u8] = br#"{"access_token":""#;
    let unsigned = format!("{signing_input}.");
    let body = TokenResponse { access_token: &unsigned, token_type, expires_in: ttl, scope, issued_token_type };
    let body = serde_json::to_vec(&body).map_err(|e| OAuthError::server(format!("response: {e}")))?;
    let input = PREFIX.len()..PREFIX.len() + signing_input.len();
    let at = input.end + 1;
    if !body.starts_with(PREFIX)
        || body.get(input.clone()) != Some(signing_input.as_bytes())
        || body.get(at) != Some(&b'"')
    {
        return Err(OAuthError::server("token response layout"));
    }
    let mut response =
        Response::json(200, body).with_header("cache-control", "no-store").with_header("pragma", "no-cache");
    response.signature = Some(SignatureSlot { input, at });
    Ok(response)
}

/// Check the presented secret against the client's secret and, during a
/// rotation, its next one. Unknown client, wrong secret, inactive client:
/// one `invalid_client`, same message, same work. Each failure counts
/// against the failure limit of the client id and `address`; a pair over
/// it is refused before the record is read or any secret compared.
async fn authenticate<R: Runtime>(
    credentials: &Credentials,
    address: Option<&str>,
    p: &Ports<'_, R>,
) -> Result<ClientRecord, OAuthError> {
    // Only well-formed ids are counted: anything else is refused without a
    // read, and counting it would let junk ids crowd out the lockouts of
    // real ones. The secret is compared anyway, so that a malformed id
    // costs what a wrong secret does.
    let Some(id) = ClientId::parse(&credentials.client_id) else {
        verify_any(&SecretHash::UNMATCHABLE, Some(&SecretHash::UNMATCHABLE), &credentials.secret);
        return Err(OAuthError::invalid_client());
    };
    attempt("client_secret", &id, address, p, || secret(&id, &credentials.secret, p))
        .await
        .map_err(|refusal| answer(refusal, OAuthError::invalid_client))
}

/// The active secret client `id`, if `presented` is its secret or its
/// pending one.
async fn secret<R: Runtime>(id: &ClientId, presented: &str, p: &Ports<'_, R>) -> Result<ClientRecord, Refusal> {
    let record = p.store.get(id).await?;
    let Some(record) = record else {
        // Unknown id: compare anyway, so it costs the same as a wrong secret.
        verify_any(&SecretHash::UNMATCHABLE, Some(&SecretHash::UNMATCHABLE), presented);
        return Err(Refusal::UnknownClient);
    };
    let matches = verify_any(&record.secret.hash, record.next_secret.as_ref().map(|n| &n.hash), presented);
    // A private_key_jwt client has no secret (its hash matches none); said
    // here too, so no secret path depends on that alone.
    if record.status != Status::Active || record.keys.is_some() {
        return Err(Refusal::UnknownClient);
    }
    if !matches {
        return Err(Refusal::WrongSecret);
    }
    Ok(record)
}
