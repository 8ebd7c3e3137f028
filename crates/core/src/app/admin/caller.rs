//! Who is calling the admin API, and what that caller may do: the root
//! `ADMIN_API_KEY`, or an access token this deployment issued to an admin
//! client (Workflo's Client_Admin policy). A token is checked by the
//! verifier's own rules (`m2m_edge_verify`), against the deployment's
//! current keys, with `aud` = `<issuer>/admin`, and its client is read
//! again from storage on every request: deactivating or deleting an admin
//! client stops its tokens at once (on D1; within KV's propagation on KV).

use m2m_edge_verify::claims::Binding;
use m2m_edge_verify::Rejection;

use super::AdminError;
use crate::app::own_token::{self, Audience, Unaccepted};
use crate::app::{Ports, Runtime};
use crate::client::{ClientId, SecretHash};
use crate::config::{AdminKey, MIN_ADMIN_KEY_CHARS};
use crate::http::{Header, Request};
use crate::oauth::metadata::admin_audience;
use crate::project::ProjectId;

pub use crate::app::admin_scope::AdminScope;

/// An authenticated admin caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// The `ADMIN_API_KEY`: everything.
    Root,
    /// An admin client's token.
    Client {
        /// The admin client.
        id: ClientId,
        /// Its project: it sees and changes only that project.
        project: Option<ProjectId>,
        /// The admin scopes it may use now: those its token carries that
        /// the client is still granted (a downgrade applies to tokens
        /// already issued).
        scopes: Vec<AdminScope>,
    },
}

impl Caller {
    /// The project this caller is confined to, if any.
    pub fn project(&self) -> Option<&ProjectId> {
        match self {
            Caller::Root => None,
            Caller::Client { project, .. } => project.as_ref(),
        }
    }

    /// Whether the caller may see a record of `project`.
    pub fn sees(&self, project: Option<&ProjectId>) -> bool {
        self.project().is_none_or(|own| project == Some(own))
    }

    /// `actor` of the audit trail: `root` or the admin client's id.
    pub fn actor(&self) -> &str {
        match self {
            Caller::Root => "root",
            Caller::Client { id, .. } => id.as_str(),
        }
    }
}

/// Authenticate the request and check that it may use a route needing
/// `needed`: the root key, or an admin token (RFC 6750 answers for a bad
/// one). A project's admin is refused deployment-wide scopes outright.
pub async fn authorize<R: Runtime>(
    req: &Request,
    needed: Option<AdminScope>,
    p: &Ports<'_, R>,
) -> Result<Caller, AdminError> {
    let root = match &p.config.admin_api_key {
        AdminKey::Set(key) => key,
        AdminKey::Unset => return Err(AdminError::Server("ADMIN_API_KEY is not set; the admin API is disabled".into())),
        AdminKey::TooShort => {
            return Err(AdminError::Server(format!(
                "ADMIN_API_KEY is shorter than {MIN_ADMIN_KEY_CHARS} characters; the admin API is disabled until a longer one is set"
            )))
        }
    };
    let presented = req
        .header(Header::Authorization)
        .and_then(|h| h.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .ok_or(AdminError::Unauthorized)?;
    // Constant-time, both sides hashed first (which also hides the key's
    // length). The header is compared whole: a key may hold any visible
    // character, commas included.
    if SecretHash::of(root).verify(presented) {
        return Ok(Caller::Root);
    }
    // Not the key: an access token, if it has a JWT's shape.
    if presented.matches('.').count() != 2 {
        return Err(AdminError::Unauthorized);
    }
    let caller = admin_token(presented, req, needed, p).await?;
    if caller.project().is_some() && needed.is_some_and(AdminScope::deployment_wide) {
        return Err(AdminError::Forbidden("a project's admin cannot change deployment-wide settings".into()));
    }
    Ok(caller)
}

/// The caller an admin token names, after every check.
async fn admin_token<R: Runtime>(
    presented: &str,
    req: &Request,
    needed: Option<AdminScope>,
    p: &Ports<'_, R>,
) -> Result<Caller, AdminError> {
    let issuer = p.config.issuer_for(&req.origin).map_err(|unset| AdminError::Server(unset.to_string()))?;
    let audiences = [admin_audience(issuer)];
    let verified = match own_token::verify(presented, issuer, Audience::Only(&audiences[0]), Binding::Bearer, p).await {
        Ok(verified) => verified,
        Err(Unaccepted::Token(rejection)) => return Err(AdminError::Token(rejection)),
        Err(Unaccepted::Server(why)) => return Err(AdminError::Server(format!("admin token: {why}"))),
    };
    // Revoked, or its client deactivated, deleted or another incarnation:
    // read again past every cache, so its tokens change now, not when they
    // expire.
    let client = match own_token::live_owner(&verified, p).await {
        Ok(client) => client,
        Err(Unaccepted::Token(rejection)) => return Err(AdminError::Token(rejection)),
        Err(Unaccepted::Server(why)) => return Err(AdminError::Server(format!("admin token: {why}"))),
    };
    // The scopes it may use are those the token carries that the client is
    // still granted: taking a scope away stops the tokens already issued.
    let granted: Vec<AdminScope> = client
        .grants
        .iter()
        .filter(|g| g.audience.as_str() == audiences[0])
        .flat_map(|g| g.scopes.iter().filter_map(|s| AdminScope::parse(s.as_str())))
        .collect();
    let scopes: Vec<AdminScope> =
        verified.scopes.iter().filter_map(|s| AdminScope::parse(s)).filter(|s| granted.contains(s)).collect();
    if let Some(needed) = needed.filter(|n| !scopes.contains(n)) {
        return Err(AdminError::Token(Rejection::InsufficientScope { required: needed.as_str().to_string() }));
    }
    Ok(Caller::Client { id: client.id, project: client.project_id, scopes })
}
