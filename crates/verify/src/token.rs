//! Taking a compact JWS apart (RFC 7515 §7.1), strictly: nothing is
//! trusted until the signature verifies, and nothing ambiguous is parsed.

use std::borrow::Cow;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};

use crate::members::{ClaimSet, Members};
use crate::Rejection;

/// The longest token accepted, in bytes: far above any token m2m-edge
/// issues, and small enough that parsing an attacker's input is cheap.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// The authentication scheme an access token came with (RFC 6750 §2.1,
/// RFC 9449 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `Bearer`, or a bare token.
    Bearer,
    /// `DPoP`: the token comes with a proof.
    Dpop,
}

/// The scheme and token of an `Authorization` header value (`Bearer
/// <token>` or `DPoP <token>`, the scheme in any case, RFC 9110 §11.1), or
/// of a bare token (taken as a bearer token).
pub fn credentials(value: &str) -> Result<(Scheme, &str), Rejection> {
    let value = value.trim();
    let (scheme, token) = match value.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => (Scheme::Bearer, rest.trim_start()),
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("dpop") => (Scheme::Dpop, rest.trim_start()),
        Some(_) => return Err(Rejection::Missing),
        None if value.eq_ignore_ascii_case("bearer") || value.eq_ignore_ascii_case("dpop") || value.is_empty() => {
            return Err(Rejection::Missing)
        }
        // A bare token (no scheme); another scheme's credentials have a space.
        None => (Scheme::Bearer, value),
    };
    if token.is_empty() {
        return Err(Rejection::Missing);
    }
    // RFC 6750 §2.1 b64token (RFC 9449 §7.1 takes the same syntax):
    // ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/", then "=".
    let body = token.trim_end_matches('=');
    if !body.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/')) {
        return Err(Rejection::MalformedRequest);
    }
    Ok((scheme, token))
}

/// The bearer token of an `Authorization` header value (`Bearer <token>`),
/// or of a bare token; any other scheme, `DPoP` included, is no bearer
/// token.
pub fn bearer(value: &str) -> Result<&str, Rejection> {
    match credentials(value)? {
        (Scheme::Bearer, token) => Ok(token),
        (Scheme::Dpop, _) => Err(Rejection::Missing),
    }
}

/// A compact JWS taken apart, its signature not yet checked.
#[derive(Debug)]
pub struct Unverified<'a> {
    /// The key id the header names.
    pub kid: String,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The payload bytes.
    pub payload: Vec<u8>,
    /// `r || s`, 32 bytes each (RFC 7518 §3.4).
    pub signature: [u8; 64],
}

/// The JOSE header members this verifier reads. Others (`jku`, `x5u`,
/// `x5c`, …) are ignored: keys come only from the issuer's JWKS (RFC 8725
/// §3.10). `jwk` is handed on as it is, never used as a token's key: only
/// a DPoP proof is checked with the key it carries ([`crate::dpop`]).
struct Header {
    alg: Option<Value>,
    typ: Option<Value>,
    kid: Option<Value>,
    crit: Option<Value>,
    jwk: Option<Value>,
}

impl Header {
    /// The members read from the header's object; a member whose value is
    /// `null` counts as absent, as serde reads an `Option`.
    fn of(members: &Members<'_>) -> Header {
        let member = |name| members.value(name).map(Cow::into_owned).filter(|v| !v.is_null());
        Header { alg: member("alg"), typ: member("typ"), kid: member("kid"), crit: member("crit"), jwk: member("jwk") }
    }
}

/// What a JWT must declare in `typ` (RFC 8725 §3.11: explicit typing keeps
/// one kind of JWT from being accepted as another).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Typing {
    /// An access token: `at+jwt` (RFC 9068 §4).
    AccessToken,
    /// Any JWT that is not an access token: no `typ`, `JWT`, or another
    /// type, but never `at+jwt` — a client assertion (RFC 7523) or a
    /// platform's identity token, which must not be an access token
    /// replayed as one.
    NotAccessToken,
    /// Any `typ`: a trusted issuer's tokens, identity and access tokens
    /// alike, whose kind the caller does not restrict (token exchange,
    /// RFC 8693, takes both).
    Any,
}

/// A JWS algorithm this crate can take apart (RFC 7518 §3.1). Which one a
/// token must use is the caller's fixed choice, never the token's
/// (RFC 8725 §3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// ECDSA P-256 with SHA-256: m2m-edge's own tokens, client assertions.
    Es256,
    /// RSASSA-PKCS1-v1_5 with SHA-256: most platforms' identity tokens
    /// (GitHub Actions, Kubernetes).
    Rs256,
}

impl Algorithm {
    /// The `alg` header value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Es256 => "ES256",
            Algorithm::Rs256 => "RS256",
        }
    }
}

/// A compact JWS taken apart, its signature not yet checked, with an
/// optional `kid` (client assertions need not name a key).
#[derive(Debug)]
pub struct Jws<'a> {
    /// The algorithm it was parsed for (its header's `alg`).
    pub algorithm: Algorithm,
    /// The key id the header names, if any.
    pub kid: Option<String>,
    /// The header's `typ`, if any (as the `Typing` asked for allowed): for
    /// callers whose rules differ by explicit type (RFC 8725 §3.11).
    pub typ: Option<String>,
    /// `header.payload`, the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The payload bytes: borrowed from the [`Split`] that decoded them,
    /// else the token's own.
    pub payload: Cow<'a, [u8]>,
    /// The signature: for ES256 exactly 64 bytes, `r || s` (RFC 7518
    /// §3.4); for RS256 the modulus' length (checked against the key).
    pub signature: Vec<u8>,
    /// The header's `jwk`, if any: a key no check here trusts — a DPoP
    /// proof's own key (RFC 9449 §4.2), checked by [`crate::dpop`].
    pub jwk: Option<Value>,
}

/// Take `token` apart and check its header: `alg` ES256, `typ` at+jwt, no
/// `crit`, a `kid`, a 64-byte signature.
pub fn parse(token: &str) -> Result<Unverified<'_>, Rejection> {
    let jws = parse_jws(token, Typing::AccessToken, Algorithm::Es256)?;
    let kid = jws.kid.ok_or(Rejection::UnknownKey)?;
    let signature = jws.signature.try_into().map_err(|_| Rejection::Signature)?;
    Ok(Unverified { kid, signing_input: jws.signing_input, payload: jws.payload.into_owned(), signature })
}

/// Take any compact JWS apart: `alg` exactly `algorithm`, `typ` as
/// `typing` says, no `crit`, a signature of the algorithm's shape; the
/// same strict decoding as [`parse`].
pub fn parse_jws(token: &str, typing: Typing, algorithm: Algorithm) -> Result<Jws<'_>, Rejection> {
    let parts = Parts::of(token)?;
    checked(&parts, typing, algorithm, None)
}

/// A compact JWS cut at its dots and its payload decoded, nothing else
/// read: for a caller that must read the claims to learn whose token it
/// is — and so which algorithm and typing it must have — before the header
/// is checked ([`Split::jws`]), without decoding the payload twice. The
/// payload is the token's: its claims are the token's claims once the
/// signature over that same token verifies.
#[derive(Debug)]
pub struct Split<'a> {
    parts: Parts<'a>,
    payload: Vec<u8>,
}

/// Cut `token` at its dots and decode its payload, as [`parse_jws`] does.
pub fn split(token: &str) -> Result<Split<'_>, Rejection> {
    let parts = Parts::of(token)?;
    let payload = decode(parts.payload, "payload")?;
    Ok(Split { parts, payload })
}

impl Split<'_> {
    /// The decoded payload, not yet verified.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// [`parse_jws`]'s checks of the header and the signature's shape, the
    /// payload as decoded.
    pub fn jws(&self, typing: Typing, algorithm: Algorithm) -> Result<Jws<'_>, Rejection> {
        checked(&self.parts, typing, algorithm, Some(&self.payload))
    }
}

/// A compact JWS's three base64url parts, and the token.
#[derive(Debug)]
struct Parts<'a> {
    token: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Parts<'a> {
    /// At most [`MAX_TOKEN_BYTES`], exactly three parts (RFC 7515 §7.1).
    fn of(token: &'a str) -> Result<Parts<'a>, Rejection> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Rejection::TooLarge);
        }
        let mut parts = token.split('.');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(header), Some(payload), Some(signature), None) => Ok(Parts { token, header, payload, signature }),
            _ => Err(Rejection::Malformed("not three dot-separated parts")),
        }
    }
}

/// The header and signature checks of [`parse_jws`]; then the payload,
/// `decoded` already or decoded now.
fn checked<'a>(
    parts: &Parts<'a>,
    typing: Typing,
    algorithm: Algorithm,
    decoded: Option<&'a [u8]>,
) -> Result<Jws<'a>, Rejection> {
    let header = Header::of(&Members::parse(&decode(parts.header, "header")?, "header")?);
    // RFC 7515 §4.1.1: case-sensitive; the caller's one algorithm (RFC 8725 §3.1).
    if header.alg.as_ref().and_then(Value::as_str) != Some(algorithm.as_str()) {
        return Err(Rejection::Algorithm { expected: algorithm.as_str() });
    }
    let access_token = match (&header.typ, typing) {
        (None, _) => false,
        (Some(Value::String(t)), _) => is_access_token_type(t),
        (Some(_), Typing::AccessToken) => return Err(Rejection::Type),
        (Some(_), _) => return Err(Rejection::Malformed("typ is not a string")),
    };
    match typing {
        Typing::AccessToken if !access_token => return Err(Rejection::Type),
        Typing::NotAccessToken if access_token => return Err(Rejection::AccessTokenType),
        _ => {}
    }
    match &header.crit {
        None => {}
        Some(Value::Array(names)) if names.is_empty() => {}
        Some(_) => return Err(Rejection::Critical),
    }
    let kid = match header.kid {
        None => None,
        Some(Value::String(kid)) if !kid.is_empty() => Some(kid),
        Some(_) => return Err(Rejection::UnknownKey),
    };
    let signature = decode(parts.signature, "signature")?;
    let shaped = match algorithm {
        Algorithm::Es256 => signature.len() == 64,
        // 2048 to 8192-bit moduli; the exact length is the key's.
        Algorithm::Rs256 => (256..=1024).contains(&signature.len()),
    };
    if !shaped {
        return Err(Rejection::Signature);
    }
    let payload = match decoded {
        Some(payload) => Cow::Borrowed(payload),
        None => Cow::Owned(decode(parts.payload, "payload")?),
    };
    let signing_input = &parts.token.as_bytes()[..parts.header.len() + 1 + parts.payload.len()];
    let typ = match header.typ {
        Some(Value::String(t)) => Some(t),
        _ => None,
    };
    Ok(Jws { algorithm, kid, typ, signing_input, payload, signature, jwk: header.jwk })
}

/// [`parse_jws`] for a JWS signed with ES256 or RS256, whichever its
/// header says: for JWTs signed with a key the caller holds or is given
/// (a client assertion, a DPoP proof), whose algorithm that key then
/// decides (RFC 8725 §3.1: the key's algorithm must be the header's).
pub fn parse_either(token: &str, typing: Typing) -> Result<Jws<'_>, Rejection> {
    match parse_jws(token, typing, Algorithm::Es256) {
        Err(Rejection::Algorithm { .. }) => parse_jws(token, typing, Algorithm::Rs256),
        parsed => parsed,
    }
    .map_err(|rejection| match rejection {
        Rejection::Algorithm { .. } => Rejection::Algorithm { expected: "ES256 or RS256" },
        other => other,
    })
}

/// RFC 9068 §4: `at+jwt`, or `application/at+jwt` (RFC 7515 §4.1.9 lets
/// the `application/` prefix be left out); media types are case-insensitive.
fn is_access_token_type(typ: &str) -> bool {
    typ.eq_ignore_ascii_case("at+jwt") || typ.eq_ignore_ascii_case("application/at+jwt")
}

/// Canonical, unpadded base64url (RFC 7515 §2): padding and non-zero
/// trailing bits are refused, so one token has one spelling.
fn decode(part: &str, what: &'static str) -> Result<Vec<u8>, Rejection> {
    URL_SAFE_NO_PAD.decode(part).map_err(|_| Rejection::Malformed(what))
}

/// A JSON object whose member names are all distinct (RFC 7515 §4, RFC
/// 7519 §4: a repeated name must be refused, or two parties may read two
/// different tokens), as a map. [`Members::parse`] is the one home of
/// that rule; this is its view, owned.
pub fn object(bytes: &[u8], what: &'static str) -> Result<Map<String, Value>, Rejection> {
    Members::parse(bytes, what).map(Members::into_map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_takes_the_token_of_the_header_or_a_bare_one() {
        assert_eq!(bearer("Bearer abc.def.ghi"), Ok("abc.def.ghi"));
        assert_eq!(bearer("bearer  abc"), Ok("abc"));
        assert_eq!(bearer("abc.def.ghi"), Ok("abc.def.ghi"));
        for missing in ["", "   ", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "DPoP abc"] {
            assert_eq!(bearer(missing), Err(Rejection::Missing), "{missing:?}");
        }
        assert_eq!(bearer("Bearer a b"), Err(Rejection::MalformedRequest));
        assert_eq!(bearer("Bearer a\"b"), Err(Rejection::MalformedRequest));
        assert_eq!(credentials("dpop  abc.def"), Ok((Scheme::Dpop, "abc.def")));
        assert_eq!(credentials("DPoP"), Err(Rejection::Missing));
        assert_eq!(credentials("DPoP a,b"), Err(Rejection::MalformedRequest));
    }

    #[test]
    fn repeated_member_names_are_refused() {
        assert!(object(br#"{"a":1,"b":2}"#, "x").is_ok());
        assert_eq!(object(br#"{"a":1,"a":2}"#, "x"), Err(Rejection::Malformed("x")));
        assert_eq!(object(br#"[1]"#, "x"), Err(Rejection::Malformed("x")));
        assert_eq!(object(br#"{"a":1} x"#, "x"), Err(Rejection::Malformed("x")));
    }

    fn jws(header: &str) -> String {
        format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode([1u8; 256])
        )
    }

    #[test]
    fn a_refusal_names_the_rule_the_token_broke_never_its_opposite() {
        let why = |header: &str, typing, algorithm| parse_jws(&jws(header), typing, algorithm).unwrap_err().to_string();
        let es256 = r#"{"alg":"ES256","typ":"JWT"}"#;
        assert_eq!(why(es256, Typing::NotAccessToken, Algorithm::Rs256), "alg must be RS256");
        let rs256 = r#"{"alg":"RS256","typ":"JWT"}"#;
        assert_eq!(why(rs256, Typing::AccessToken, Algorithm::Es256), "alg must be ES256");
        let access_token = r#"{"alg":"RS256","typ":"at+jwt"}"#;
        assert_eq!(
            why(access_token, Typing::NotAccessToken, Algorithm::Rs256),
            "typ must not be at+jwt: an access token is not accepted here"
        );
        assert_eq!(why(rs256, Typing::AccessToken, Algorithm::Rs256), "typ must be at+jwt");
        let numeric = r#"{"alg":"RS256","typ":1}"#;
        assert_eq!(why(numeric, Typing::Any, Algorithm::Rs256), "malformed token: typ is not a string");
        assert_eq!(why(numeric, Typing::AccessToken, Algorithm::Rs256), "typ must be at+jwt");
    }

    #[test]
    fn a_header_member_that_is_null_counts_as_absent() {
        let token = jws(r#"{"alg":"RS256","kid":null,"crit":null,"typ":null}"#);
        let parsed = parse_jws(&token, Typing::Any, Algorithm::Rs256).unwrap();
        assert_eq!((parsed.kid, parsed.typ), (None, None));
        let token = jws(r#"{"alg":null}"#);
        assert_eq!(
            parse_jws(&token, Typing::Any, Algorithm::Rs256).unwrap_err(),
            Rejection::Algorithm { expected: "RS256" }
        );
    }

    #[test]
    fn a_split_token_checks_as_parse_jws_checks_it() {
        let good = jws(r#"{"alg":"RS256","kid":"k1","typ":"JWT"}"#);
        let (whole, cut) = (parse_jws(&good, Typing::Any, Algorithm::Rs256).unwrap(), split(&good).unwrap());
        assert_eq!(cut.payload(), b"{}");
        let parted = cut.jws(Typing::Any, Algorithm::Rs256).unwrap();
        assert_eq!(
            (parted.kid, parted.typ, parted.signing_input, &*parted.payload, parted.signature),
            (whole.kid, whole.typ, whole.signing_input, &*whole.payload, whole.signature)
        );
        assert!(matches!(parted.payload, Cow::Borrowed(_)), "the payload is decoded once");
        // The header's rules hold after a split as they do in parse_jws.
        for (header, typing, algorithm) in [
            (r#"{"alg":"ES256"}"#, Typing::Any, Algorithm::Rs256),
            (r#"{"alg":"RS256","typ":"at+jwt"}"#, Typing::NotAccessToken, Algorithm::Rs256),
            (r#"{"alg":"RS256","crit":["exp"]}"#, Typing::Any, Algorithm::Rs256),
            (r#"{"alg":"RS256","alg":"RS256"}"#, Typing::Any, Algorithm::Rs256),
        ] {
            let token = jws(header);
            let refusal = parse_jws(&token, typing, algorithm).unwrap_err();
            assert_eq!(split(&token).unwrap().jws(typing, algorithm).unwrap_err(), refusal, "{header}");
        }
        // What cannot be split is refused as parse_jws refuses it; a payload
        // that is not canonical base64url too, if for that reason first.
        let long = format!("{}.{}.{}", "a".repeat(MAX_TOKEN_BYTES), "e30", "AQ");
        for bad in ["a.b", "a.b.c.d", long.as_str()] {
            let refusal = parse_jws(bad, Typing::Any, Algorithm::Rs256).unwrap_err();
            assert_eq!(split(bad).unwrap_err(), refusal, "{bad}");
        }
        for bad in ["e30.e30=.AQ", "e30.!.AQ", "e30.e31.AQ"] {
            assert!(parse_jws(bad, Typing::Any, Algorithm::Rs256).is_err(), "{bad}");
            assert_eq!(split(bad).unwrap_err(), Rejection::Malformed("payload"), "{bad}");
        }
    }

    #[test]
    fn access_token_types() {
        for ok in ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"] {
            assert!(is_access_token_type(ok), "{ok}");
        }
        for bad in ["JWT", "jwt", "at+jwt ", "application/jwt", ""] {
            assert!(!is_access_token_type(bad), "{bad}");
        }
    }
}
