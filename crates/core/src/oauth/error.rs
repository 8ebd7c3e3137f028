//! Token endpoint errors, RFC 6749 §5.2, plus `invalid_target` from RFC 8707 §2.
//! How they are rendered (JSON body, headers) is the app's: `crate::app::render`.

use std::borrow::Cow;

/// The `error` codes this server returns, documented in the RFCs' own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// "The request is missing a required parameter, includes an unsupported
    /// parameter value (other than grant type), repeats a parameter, includes
    /// multiple credentials, utilizes more than one mechanism for
    /// authenticating the client, or is otherwise malformed."
    InvalidRequest,
    /// "Client authentication failed (e.g., unknown client, no client
    /// authentication included, or unsupported authentication method)."
    InvalidClient,
    /// "The provided authorization grant ... is invalid, expired, revoked"
    /// (RFC 6749 §5.2): a JWT bearer grant (RFC 7523 §3.1) that fails.
    InvalidGrant,
    /// "The authenticated client is not authorized to use this
    /// authorization grant type": here, a client not granted introspection.
    UnauthorizedClient,
    /// "The authorization grant type is not supported by the authorization server."
    UnsupportedGrantType,
    /// "The requested scope is invalid, unknown, malformed, or exceeds the
    /// scope granted by the resource owner."
    InvalidScope,
    /// RFC 8707 §2: "The requested resource is invalid, missing, unknown, or malformed."
    InvalidTarget,
    /// RFC 9449 §5: "The DPoP proof JWT in the DPoP HTTP header is invalid"
    /// — or missing where the client must send one (§5.2).
    InvalidDpopProof,
    /// RFC 9449 §8: "Authorization server requires nonce in DPoP proof" —
    /// the proof carries none, or one no longer (or never) handed out. Sent
    /// with the nonce to use in `DPoP-Nonce`.
    UseDpopNonce,
    /// A storage or key failure on our side; details go to the log only.
    ServerError,
    /// Not an RFC 6749 code (§5.2 has none for this): the caller went over a
    /// rate limit. 429 (RFC 6585 §4) with `Retry-After`; the name is the
    /// one Auth0 uses for the same answer.
    TooManyRequests,
}

impl ErrorCode {
    /// The `error` value.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::InvalidDpopProof => "invalid_dpop_proof",
            ErrorCode::UseDpopNonce => "use_dpop_nonce",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TooManyRequests => "too_many_requests",
        }
    }

    /// RFC 6749 §5.2: 400 unless stated otherwise; `invalid_client` is 401.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            ErrorCode::TooManyRequests => 429,
            _ => 400,
        }
    }
}

/// An error response in the making.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    /// The `error` value.
    pub code: ErrorCode,
    /// The `error_description`: for the client, never internal detail.
    pub description: Cow<'static, str>,
    /// The HTTP status.
    pub status: u16,
    /// Operator-facing detail for the log; never sent to the client.
    pub log: Option<String>,
}

impl OAuthError {
    /// An error with its RFC status.
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError { code, description: description.into(), status: code.status(), log: None }
    }

    /// `invalid_request`, 400.
    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    /// The one client-authentication failure. The description is the same
    /// whatever went wrong, so a caller cannot tell an unknown id from a
    /// wrong secret or an inactive client.
    pub fn invalid_client() -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, "client authentication failed")
    }

    /// `invalid_scope`, 400.
    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidScope, description)
    }

    /// `invalid_target`, 400 (RFC 8707).
    pub fn invalid_target(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidTarget, description)
    }

    /// A failure on our side: a generic message out, the detail to the log.
    pub fn server(log: impl Into<String>) -> OAuthError {
        OAuthError {
            log: Some(log.into()),
            ..OAuthError::new(ErrorCode::ServerError, "the server could not complete the request")
        }
    }

    /// `too_many_requests`, 429: a rate limit was exceeded.
    pub fn too_many_requests() -> OAuthError {
        OAuthError::new(ErrorCode::TooManyRequests, "too many requests; retry after the time in Retry-After")
    }

    /// The same error with another status (405, 413).
    pub fn with_status(mut self, status: u16) -> OAuthError {
        self.status = status;
        self
    }
}

impl std::fmt::Display for OAuthError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.description)
    }
}

impl std::error::Error for OAuthError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_follow_rfc6749() {
        assert_eq!(ErrorCode::InvalidClient.status(), 401);
        assert_eq!(ErrorCode::InvalidRequest.status(), 400);
        assert_eq!(ErrorCode::InvalidTarget.status(), 400);
        assert_eq!(ErrorCode::ServerError.status(), 500);
    }
}
