//! Token endpoint errors, RFC 6749 §5.2, plus `invalid_target` from RFC 8707 §2.

use std::borrow::Cow;

use crate::http::Response;

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
    /// "The authorization grant type is not supported by the authorization server."
    UnsupportedGrantType,
    /// "The requested scope is invalid, unknown, malformed, or exceeds the
    /// scope granted by the resource owner."
    InvalidScope,
    /// RFC 8707 §2: "The requested resource is invalid, missing, unknown, or malformed."
    InvalidTarget,
    /// A storage or key failure on our side; details go to the log only.
    ServerError,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::InvalidTarget => "invalid_target",
            ErrorCode::ServerError => "server_error",
        }
    }

    /// RFC 6749 §5.2: 400 unless stated otherwise; `invalid_client` is 401.
    pub fn status(self) -> u16 {
        match self {
            ErrorCode::InvalidClient => 401,
            ErrorCode::ServerError => 500,
            _ => 400,
        }
    }
}

/// An error response in the making.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    pub status: u16,
    /// Operator-facing detail for the log; never sent to the client.
    pub log: Option<String>,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError { code, description: description.into(), status: code.status(), log: None }
    }

    pub fn invalid_request(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidRequest, description)
    }

    /// The one client-authentication failure. The description is the same
    /// whatever went wrong, so a caller cannot tell an unknown id from a
    /// wrong secret or an inactive client.
    pub fn invalid_client() -> OAuthError {
        OAuthError::new(ErrorCode::InvalidClient, "client authentication failed")
    }

    pub fn invalid_scope(description: impl Into<Cow<'static, str>>) -> OAuthError {
        OAuthError::new(ErrorCode::InvalidScope, description)
    }

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

    pub fn with_status(mut self, status: u16) -> OAuthError {
        self.status = status;
        self
    }

    /// The RFC 6749 §5.2 JSON body with `Cache-Control: no-store` (§5.1).
    pub fn to_response(&self, realm: &str) -> Response {
        let body = serde_json::json!({
            "error": self.code.as_str(),
            "error_description": self.description,
        });
        let mut response = Response::json(self.status, body.to_string())
            .with_header("cache-control", "no-store")
            .with_header("pragma", "no-cache");
        // RFC 6749 §5.2 requires the challenge when the Authorization header
        // was used; RFC 9110 §15.5.2 requires one on every 401. Basic is the
        // scheme this endpoint accepts in that header.
        if self.status == 401 {
            response = response.with_header(
                "www-authenticate",
                format!("Basic realm=\"{}\", charset=\"UTF-8\"", realm.replace(['"', '\\'], "")),
            );
        }
        response
    }
}

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

    #[test]
    fn response_is_rfc_json_and_not_cacheable() {
        let r = OAuthError::invalid_scope("nope").to_response("x");
        assert_eq!(r.status, 400);
        assert_eq!(r.header("cache-control"), Some("no-store"));
        assert_eq!(r.body_json()["error"], "invalid_scope");
        assert_eq!(r.body_json()["error_description"], "nope");
        assert!(r.header("www-authenticate").is_none());
    }

    #[test]
    fn basic_challenge_on_every_401() {
        let r = OAuthError::invalid_client().to_response("m2m \"edge\"");
        assert_eq!(r.status, 401);
        assert_eq!(r.header("www-authenticate"), Some("Basic realm=\"m2m edge\", charset=\"UTF-8\""));
        assert!(OAuthError::invalid_request("x").to_response("x").header("www-authenticate").is_none());
    }

    #[test]
    fn server_error_hides_detail() {
        let e = OAuthError::server("D1: no such table clients");
        let r = e.to_response("x");
        assert_eq!(r.status, 500);
        assert!(!String::from_utf8_lossy(&r.body).contains("D1"));
        assert_eq!(e.log.as_deref(), Some("D1: no such table clients"));
    }
}
