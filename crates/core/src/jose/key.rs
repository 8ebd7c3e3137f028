//! The key access tokens are issued under, as the app sees it: its `kid`
//! and the JWS protected header. The app builds the whole token response
//! except the signature and leaves that to the port that holds the private
//! key ([`crate::http::SignatureSlot`]): in the Worker, WebCrypto signs in
//! the same JS step that builds the `Response` (docs/architecture.md, "The
//! glue contract"); on the host, the p256 crate (`m2m-edge-testkit`).

/// The key new tokens are issued under. It names the key; it does not
/// sign: whoever fills the [`crate::http::SignatureSlot`] does.
pub trait IssuingKey {
    /// The `kid` of this key, as published in the JWKS.
    fn kid(&self) -> &str;

    /// The base64url protected header for tokens from this key
    /// ([`crate::jose::jws::access_token_header`]), rendered once.
    fn header_b64(&self) -> &str;
}
