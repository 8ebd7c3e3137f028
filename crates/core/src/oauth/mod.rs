//! The OAuth 2.0 protocol core: parsing, client authentication, audience and
//! scope negotiation, token claims, errors and metadata. No I/O happens here.

pub mod claims;
pub mod client_auth;
pub mod dpop_nonce;
pub mod error;
pub mod form;
pub mod metadata;
pub mod negotiate;
pub mod params;

pub use error::{ErrorCode, OAuthError};
