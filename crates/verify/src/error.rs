//! Why a token was refused, and the RFC 6750 §3 answer for it.

use std::fmt;

/// A refused request. Each variant names the check that failed — never
/// key material, never the token — and its message states the rule the
/// token broke, never the rule it kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No bearer token: no `Authorization` header, another scheme, or an
    /// empty token. RFC 6750 §3.1: answered without an error code.
    Missing,
    /// The `Authorization` header is not `Bearer <token>` with a token in
    /// the RFC 6750 §2.1 syntax.
    MalformedRequest,
    /// Longer than [`MAX_TOKEN_BYTES`](crate::MAX_TOKEN_BYTES).
    TooLarge,
    /// Not a compact JWS of three canonical base64url parts holding JSON
    /// objects without repeated member names; names what was wrong.
    Malformed(&'static str),
    /// `alg` is not the one algorithm expected — `ES256` for access
    /// tokens (RFC 8725 §3.1: the algorithm is fixed, never taken from the
    /// token).
    Algorithm {
        /// The algorithm the token had to use (`ES256`, `RS256`).
        expected: &'static str,
    },
    /// `typ` is not `at+jwt` where an access token is required (RFC 9068
    /// §4, RFC 8725 §3.11: an ID token or another JWT is not an access
    /// token).
    Type,
    /// `typ` is `at+jwt` where an access token is not accepted (a client
    /// assertion; a platform token of an issuer whose access tokens are
    /// not taken): RFC 8725 §3.11 the other way round.
    AccessTokenType,
    /// `crit` lists extensions this verifier does not implement (RFC 7515 §4.1.11).
    Critical,
    /// No `kid`, or a `kid` the issuer's JWKS does not hold.
    UnknownKey,
    /// The signature does not verify (or is not a 64-byte `r || s` with
    /// both in `[1, n-1]`).
    Signature,
    /// `iss` is not exactly the configured issuer.
    Issuer,
    /// `aud` holds none of the configured audiences.
    Audience,
    /// `exp` has passed (beyond the leeway).
    Expired,
    /// `nbf` or `iat` is in the future (beyond the leeway).
    NotYetValid,
    /// `iat` is older than the required maximum token age.
    TooOld,
    /// Valid for longer than the maximum lifetime accepted (`exp` − `iat`):
    /// for assertions, whose lifetime the receiver bounds.
    TooLong,
    /// A claim RFC 9068 §2.2 requires is missing or of the wrong type.
    Claim(&'static str),
    /// A claim the API requires ([`crate::Requirements::claim`]) is not the
    /// value it requires: a token of another tenant.
    ClaimValue(String),
    /// Valid, but without every required scope (RFC 6750 §3.1 `insufficient_scope`).
    InsufficientScope {
        /// The scopes the request needs, space-separated, for the challenge.
        required: String,
    },
    /// The issuer's keys could not be fetched and no recent copy is held.
    KeysUnavailable,
    /// Valid, but withdrawn by the issuer since it was issued: revoked, or
    /// its client deactivated or deleted.
    Revoked,
    /// The issuer's revocation list could not be had and the one held is
    /// older than the verifier's bound.
    RevocationsUnavailable,
    /// The DPoP proof is missing, malformed, for another request, replayed
    /// or signed by another key than the token's (RFC 9449 §4.3, §7.1):
    /// `invalid_dpop_proof`, with the `DPoP` challenge.
    Proof(&'static str),
    /// The token's binding is not how it was presented (RFC 9449 §7.1): a
    /// DPoP-bound token (`cnf.jkt`) sent as a bearer token, a bearer token
    /// sent under the `DPoP` scheme, or a bearer token where the API takes
    /// only DPoP-bound ones: `invalid_token`, with the `DPoP` challenge.
    Bound(&'static str),
}

/// The proof algorithms m2m-edge's verifiers check, as the `DPoP`
/// challenge's `algs` lists them (RFC 9449 §7.1).
pub const DPOP_ALGORITHMS: &str = "ES256 RS256";

impl Rejection {
    /// The RFC 6750 §3.1 `error` code, if the answer carries one.
    pub fn error_code(&self) -> Option<&'static str> {
        match self {
            Rejection::Missing => None,
            Rejection::MalformedRequest => Some("invalid_request"),
            Rejection::InsufficientScope { .. } => Some("insufficient_scope"),
            Rejection::Proof(_) => Some("invalid_dpop_proof"),
            // Not the caller's fault: no code of RFC 6750 fits; 503 says so.
            Rejection::KeysUnavailable | Rejection::RevocationsUnavailable => None,
            _ => Some("invalid_token"),
        }
    }

    /// The HTTP status (RFC 6750 §3.1; 503 when the keys are unavailable).
    pub fn status(&self) -> u16 {
        match self {
            Rejection::MalformedRequest => 400,
            Rejection::InsufficientScope { .. } => 403,
            Rejection::KeysUnavailable | Rejection::RevocationsUnavailable => 503,
            _ => 401,
        }
    }

    /// The `WWW-Authenticate` value (RFC 6750 §3): `Bearer realm="…"`, and
    /// `error`, `error_description` and `scope` where they apply. A refusal
    /// of the DPoP proof or of the token's binding is a `DPoP` challenge
    /// with the algorithms proofs may use (RFC 9449 §7.1).
    pub fn www_authenticate(&self, realm: &str) -> String {
        self.www_authenticate_with(realm, None)
    }

    /// [`Rejection::www_authenticate`], pointing at the API's RFC 9728
    /// metadata (`resource_metadata`, §5.1) when given: how a client that
    /// knows only the API's URL finds where to get a token.
    pub fn www_authenticate_with(&self, realm: &str, resource_metadata: Option<&str>) -> String {
        let mut value = match self {
            Rejection::Proof(_) | Rejection::Bound(_) => {
                format!("DPoP realm=\"{}\", algs=\"{DPOP_ALGORITHMS}\"", quoted(realm))
            }
            _ => format!("Bearer realm=\"{}\"", quoted(realm)),
        };
        if let Some(code) = self.error_code() {
            value.push_str(&format!(", error=\"{code}\", error_description=\"{}\"", quoted(&self.to_string())));
        }
        if let Rejection::InsufficientScope { required } = self {
            value.push_str(&format!(", scope=\"{}\"", quoted(required)));
        }
        if let Some(url) = resource_metadata {
            value.push_str(&format!(", resource_metadata=\"{}\"", quoted(url)));
        }
        value
    }

    /// The `error` of the JSON body: the RFC 6750 code, or
    /// `temporarily_unavailable` (503), or `unauthorized` (no token sent).
    pub fn error_name(&self) -> &'static str {
        match self.error_code() {
            Some(code) => code,
            None if self.status() == 503 => "temporarily_unavailable",
            None => "unauthorized",
        }
    }

    /// The header that goes with the refusal: `WWW-Authenticate` (RFC 6750
    /// §3), or `Retry-After` for a 503.
    pub fn header(&self, realm: &str) -> (&'static str, String) {
        self.header_with(realm, None)
    }

    /// [`Rejection::header`] with the challenge's `resource_metadata`
    /// ([`Rejection::www_authenticate_with`]).
    pub fn header_with(&self, realm: &str, resource_metadata: Option<&str>) -> (&'static str, String) {
        match self.status() {
            503 => ("retry-after", "30".into()),
            _ => ("www-authenticate", self.www_authenticate_with(realm, resource_metadata)),
        }
    }

    /// The whole answer: status, headers and an RFC 6750-style JSON body.
    pub fn to_response(&self, realm: &str) -> ErrorResponse {
        self.to_response_with(realm, None)
    }

    /// [`Rejection::to_response`] whose challenge points at the API's RFC
    /// 9728 metadata ([`crate::resource::ResourceMetadata::url`]).
    pub fn to_response_with(&self, realm: &str, resource_metadata: Option<&str>) -> ErrorResponse {
        let body = serde_json::json!({"error": self.error_name(), "error_description": self.to_string()});
        let headers = vec![
            ("content-type", "application/json".to_string()),
            ("cache-control", "no-store".into()),
            self.header_with(realm, resource_metadata),
        ];
        ErrorResponse { status: self.status(), headers, body: body.to_string() }
    }
}

/// A refusal as HTTP: hand it to whatever framework serves the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorResponse {
    /// 400, 401, 403 or 503.
    pub status: u16,
    /// Lower-case names: `content-type`, `cache-control`, and
    /// `www-authenticate` (or `retry-after` for 503).
    pub headers: Vec<(&'static str, String)>,
    /// `{"error": …, "error_description": …}`.
    pub body: String,
}

/// A quoted-string's content (RFC 9110 §5.6.4), with `"` and `\` left out
/// rather than escaped: some clients do not unescape.
fn quoted(s: &str) -> String {
    s.chars().filter(|c| *c != '"' && *c != '\\' && !c.is_control()).collect()
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::Missing => f.write_str("no bearer token"),
            Rejection::MalformedRequest => f.write_str("the Authorization header is not `Bearer <token>`"),
            Rejection::TooLarge => f.write_str("the token is too large"),
            Rejection::Malformed(what) => write!(f, "malformed token: {what}"),
            Rejection::Algorithm { expected } => write!(f, "alg must be {expected}"),
            Rejection::Type => f.write_str("typ must be at+jwt"),
            Rejection::AccessTokenType => f.write_str("typ must not be at+jwt: an access token is not accepted here"),
            Rejection::Critical => f.write_str("unsupported crit extension"),
            Rejection::UnknownKey => f.write_str("kid names no key of the issuer"),
            Rejection::Signature => f.write_str("bad signature"),
            Rejection::Issuer => f.write_str("wrong issuer"),
            Rejection::Audience => f.write_str("wrong audience"),
            Rejection::Expired => f.write_str("the token has expired"),
            Rejection::NotYetValid => f.write_str("the token is not valid yet"),
            Rejection::TooOld => f.write_str("the token was issued too long ago"),
            Rejection::TooLong => f.write_str("the token is valid for longer than accepted"),
            Rejection::Claim(name) => write!(f, "claim `{name}` missing or invalid"),
            Rejection::ClaimValue(name) => write!(f, "claim `{name}` is not the value this API requires"),
            Rejection::InsufficientScope { required } => write!(f, "requires scope: {required}"),
            Rejection::KeysUnavailable => f.write_str("the issuer's keys are unavailable"),
            Rejection::Revoked => f.write_str("the token has been revoked"),
            Rejection::RevocationsUnavailable => f.write_str("the issuer's revocation list is unavailable"),
            Rejection::Proof(why) => write!(f, "DPoP proof: {why}"),
            Rejection::Bound(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Rejection {}
