//! Client authentication at the token endpoint (RFC 6749 §2.3):
//! `client_secret_basic`, `client_secret_post` and `private_key_jwt`
//! (RFC 7523 §2.2). This module only extracts
//! the presented credentials; checking them against the registry is the
//! app's job (it needs the store).

use base64::alphabet::STANDARD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::form::decode_component;
use super::params::TokenParams;
use super::OAuthError;
use crate::assertion::CLIENT_ASSERTION_TYPE;
use crate::http::MAX_AUTHORIZATION_BYTES;

/// Standard base64; padding optional, since some clients strip it.
const BASIC_B64: GeneralPurpose = GeneralPurpose::new(
    &STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// How a client authenticated, RFC 6749 §2.3.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `Authorization: Basic`.
    ClientSecretBasic,
    /// `client_id` and `client_secret` in the body.
    ClientSecretPost,
}

/// The id and secret a client presented. `Debug` redacts the secret, so it
/// cannot reach a log line through a stray `{:?}`.
pub struct Credentials {
    /// Which method was used.
    pub method: AuthMethod,
    /// The id as presented (not yet known to exist).
    pub client_id: String,
    /// The secret as presented.
    pub secret: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("method", &self.method)
            .field("client_id", &self.client_id)
            .field("secret", &"[redacted]")
            .finish()
    }
}

/// Work out which single method the client used, and what it presented.
///
/// `authorization` is the header as the Fetch API gives it: repeated
/// headers arrive joined with ", " (RFC 9110 §5.3). A Basic credential is
/// base64 and never holds a comma, so one marks a repeated header, which
/// RFC 6749 §3.2 forbids ("parameters MUST NOT be included more than once").
pub fn extract(authorization: Option<&str>, params: &TokenParams) -> Result<Credentials, OAuthError> {
    if authorization.is_some_and(|h| h.contains(',')) {
        return Err(OAuthError::invalid_request("the Authorization header is repeated"));
    }
    match authorization {
        Some(header) => {
            // RFC 6749 §2.3: "The client MUST NOT use more than one
            // authentication method in each request."
            if params.client_secret.is_some() {
                return Err(OAuthError::invalid_request(
                    "the client used more than one authentication method (Authorization header and client_secret)",
                ));
            }
            let (client_id, secret) = parse_basic(header)?;
            // A `client_id` in the body beside Basic is allowed (RFC 6749
            // §3.2.1 lets clients send it) but must name the same client.
            if params.client_id.as_deref().is_some_and(|id| id != client_id) {
                return Err(OAuthError::invalid_request(
                    "client_id in the body differs from the one in the Authorization header",
                ));
            }
            Ok(Credentials { method: AuthMethod::ClientSecretBasic, client_id, secret })
        }
        None => match (&params.client_id, &params.client_secret) {
            (Some(id), Some(secret)) => {
                Ok(Credentials { method: AuthMethod::ClientSecretPost, client_id: id.clone(), secret: secret.clone() })
            }
            // No authentication at all, or half of it: this server has no
            // public clients (RFC 6749 §4.4: the client MUST authenticate).
            _ => Err(OAuthError::invalid_client()),
        },
    }
}

/// `Authorization: Basic base64(urlencode(id) ":" urlencode(secret))`,
/// RFC 6749 §2.3.1 with RFC 7617. Every flaw is the same `invalid_client`.
/// What a token request presented to authenticate its client.
#[derive(Debug)]
pub enum Presented {
    /// A secret, by Basic or in the body.
    Secret(Credentials),
    /// A JWT the client signed (`private_key_jwt`).
    Assertion(ClientAssertion),
}

/// A client assertion as presented (RFC 7523 §2.2), not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAssertion {
    /// `client_assertion`.
    pub jwt: String,
    /// `client_id`, if sent too: it must then be the assertion's `sub`.
    pub client_id: Option<String>,
}

/// The credentials of a token request, whichever method it used; more
/// than one is an `invalid_request` (RFC 6749 §2.3).
pub fn presented(authorization: Option<&str>, params: &TokenParams) -> Result<Presented, OAuthError> {
    if params.client_assertion.is_none() && params.client_assertion_type.is_none() {
        return extract(authorization, params).map(Presented::Secret);
    }
    if authorization.is_some() || params.client_secret.is_some() {
        return Err(OAuthError::invalid_request(
            "the client used more than one authentication method (client_assertion and a secret)",
        ));
    }
    let Some(jwt) = &params.client_assertion else {
        return Err(OAuthError::invalid_request("client_assertion_type without client_assertion"));
    };
    match params.client_assertion_type.as_deref() {
        Some(CLIENT_ASSERTION_TYPE) => {}
        None => return Err(OAuthError::invalid_request("client_assertion without client_assertion_type")),
        // RFC 7521 §4.2: an assertion type the server does not support
        // cannot authenticate the client.
        Some(_) => return Err(OAuthError::invalid_client()),
    }
    Ok(Presented::Assertion(ClientAssertion { jwt: jwt.clone(), client_id: params.client_id.clone() }))
}

fn parse_basic(header: &str) -> Result<(String, String), OAuthError> {
    if header.len() > MAX_AUTHORIZATION_BYTES {
        return Err(OAuthError::invalid_client());
    }
    let (scheme, token) = header.trim().split_once(' ').ok_or_else(OAuthError::invalid_client)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(OAuthError::invalid_client());
    }
    let decoded = BASIC_B64.decode(token.trim()).map_err(|_| OAuthError::invalid_client())?;
    let decoded = String::from_utf8(decoded).map_err(|_| OAuthError::invalid_client())?;
    let (raw_id, raw_secret) = decoded.split_once(':').ok_or_else(OAuthError::invalid_client)?;
    let id = decode_component(raw_id.as_bytes()).map_err(|_| OAuthError::invalid_client())?;
    let secret = decode_component(raw_secret.as_bytes()).map_err(|_| OAuthError::invalid_client())?;
    if id.is_empty() || secret.is_empty() {
        return Err(OAuthError::invalid_client());
    }
    Ok((id, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth::ErrorCode;
    use base64::engine::general_purpose::STANDARD as B64;

    fn basic(raw: &str) -> String {
        format!("Basic {}", B64.encode(raw))
    }

    fn params(id: Option<&str>, secret: Option<&str>) -> TokenParams {
        TokenParams {
            client_id: id.map(str::to_string),
            client_secret: secret.map(str::to_string),
            ..TokenParams::default()
        }
    }

    #[test]
    fn basic_is_form_decoded() {
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before base64.
        let c = extract(Some(&basic("my%20id:s%3Acret+x")), &params(None, None)).unwrap();
        assert_eq!(c.method, AuthMethod::ClientSecretBasic);
        assert_eq!(c.client_id, "my id");
        assert_eq!(c.secret, "s:cret x");
    }

    #[test]
    fn basic_scheme_is_case_insensitive_and_padding_optional() {
        let token = B64.encode("id:secret1");
        let unpadded = token.trim_end_matches('=');
        let c = extract(Some(&format!("bAsIc {unpadded}")), &params(None, None)).unwrap();
        assert_eq!(c.secret, "secret1");
    }

    #[test]
    fn post_credentials() {
        let c = extract(None, &params(Some("id"), Some("s"))).unwrap();
        assert_eq!(c.method, AuthMethod::ClientSecretPost);
    }

    #[test]
    fn both_methods_is_invalid_request() {
        let e = extract(Some(&basic("id:s")), &params(Some("id"), Some("s"))).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn body_client_id_must_match_basic() {
        assert!(extract(Some(&basic("id:s")), &params(Some("id"), None)).is_ok());
        let e = extract(Some(&basic("id:s")), &params(Some("other"), None)).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest);
    }

    #[test]
    fn malformed_basic_is_invalid_client() {
        let long = format!("Basic {}", "A".repeat(5000));
        for header in [
            "Basic !!!notbase64",
            "Basic",
            "Bearer abc",
            "Basic aWQ=", // "id", no colon
            &basic(":secret"),
            &basic("id:"),
            &basic("id:%zz"),
            &format!("Basic {}", B64.encode([0xff, b':', b'x'])),
            &long,
        ] {
            let e = extract(Some(header), &params(None, None)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidClient, "{header:.40}");
            assert_eq!(e.status, 401);
        }
    }

    #[test]
    fn missing_credentials_is_invalid_client() {
        for p in [params(None, None), params(Some("id"), None), params(None, Some("s"))] {
            assert_eq!(extract(None, &p).unwrap_err().code, ErrorCode::InvalidClient);
        }
    }

    #[test]
    fn repeated_authorization_header() {
        // What the Fetch API makes of two Authorization headers.
        let joined = format!("{}, {}", basic("a:b"), basic("c:d"));
        assert_eq!(extract(Some(&joined), &params(None, None)).unwrap_err().code, ErrorCode::InvalidRequest);
    }
}
