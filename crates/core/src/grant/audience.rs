//! Audiences: the resource servers a token is for. RFC 8707 §2: the
//! `resource` value "MUST be an absolute URI, as specified by Section 4.3 of
//! RFC 3986" and "MUST NOT include a fragment component".

use std::fmt;

use serde::{Deserialize, Serialize};

/// Longest audience accepted, in bytes.
pub const MAX_AUDIENCE_LEN: usize = 512;

/// An absolute URI naming an API: a token's `aud`. Valid by construction.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Audience(String);

/// Why a string is not an audience.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudienceError {
    /// Not `scheme:rest` with printable ASCII.
    NotAbsoluteUri,
    /// Has a `#fragment` (RFC 8707 §2 forbids one).
    HasFragment,
    /// Longer than [`MAX_AUDIENCE_LEN`].
    TooLong,
}

impl std::error::Error for AudienceError {}

impl fmt::Display for AudienceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AudienceError::NotAbsoluteUri => "must be an absolute URI (scheme:rest, no spaces)",
            AudienceError::HasFragment => "must not contain a fragment (#...)",
            AudienceError::TooLong => "must be at most 512 characters",
        })
    }
}

impl Audience {
    /// Check `s` against RFC 8707 §2.
    pub fn parse(s: &str) -> Result<Audience, AudienceError> {
        if s.len() > MAX_AUDIENCE_LEN {
            return Err(AudienceError::TooLong);
        }
        // RFC 3986 §3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        let Some((scheme, rest)) = s.split_once(':') else {
            return Err(AudienceError::NotAbsoluteUri);
        };
        let scheme_ok = scheme.as_bytes().first().is_some_and(u8::is_ascii_alphabetic)
            && scheme.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'-' || b == b'.');
        // The rest: printable ASCII without spaces (URI characters, not a full
        // RFC 3986 grammar check), and something after the colon.
        let rest_ok = !rest.is_empty() && rest.bytes().all(|b| (0x21..=0x7E).contains(&b));
        if !scheme_ok || !rest_ok {
            return Err(AudienceError::NotAbsoluteUri);
        }
        if rest.contains('#') {
            return Err(AudienceError::HasFragment);
        }
        Ok(Audience(s.to_string()))
    }
}

crate::grant::checked_string!(Audience, AudienceError);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absolute_uris() {
        for ok in ["https://api.example.com", "https://api.example.com/v1?x=1", "urn:example:billing", "api+v2://x"] {
            assert!(Audience::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "api", "/relative", "https:", "1http://x", "https://a b", "https://x/\u{e9}", ":x"] {
            assert_eq!(Audience::parse(bad), Err(AudienceError::NotAbsoluteUri), "{bad:?}");
        }
        assert_eq!(Audience::parse("https://x#frag"), Err(AudienceError::HasFragment));
    }
}
