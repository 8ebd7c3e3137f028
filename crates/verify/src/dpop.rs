//! DPoP proofs (RFC 9449): a JWT the client signs for each request with a
//! key it holds, naming the request's method and URL, so that a token bound
//! to that key (`cnf.jkt`, §6.1) is worth nothing to whoever copies it
//! without the key.
//!
//! [`parse`] makes every check of §4.3 that needs no signature back end and
//! no memory: one `DPoP` value, `typ` `dpop+jwt`, `alg` ES256 or RS256 and
//! the header's `jwk` a public key of that algorithm (no private member),
//! `htm` and `htu` the request's (the URL compared after RFC 3986 §6.2.2 and
//! §6.2.3 normalisation, without query and fragment), `iat` within
//! [`PROOF_WINDOW_SECS`] (plus the leeway), a `jti`, and — at an API —
//! `ath` the hash of the token presented with it. What is left to the
//! caller: the signature (with [`Proof::key`], which the header's `jwk`
//! is), that `jti` is not reused within the window (§11.1), and that the
//! key is the token's (`cnf.jkt` = [`Proof::jkt`]).
//!
//! ```
//! use m2m_edge_verify::dpop::{self, Target};
//! use m2m_edge_verify::Rejection;
//!
//! let target = Target { method: "GET", url: "https://api.example.com/orders" };
//! // A proof that is not a JWT is refused before anything is computed.
//! let refused = dpop::parse("not a proof", &target, 1_800_000_000, 30, None).unwrap_err();
//! assert!(matches!(refused, Rejection::Proof(_)));
//! assert_eq!(refused.error_code(), Some("invalid_dpop_proof"));
//! // Same resource, spelled differently (RFC 3986 §6.2.2–6.2.3).
//! assert!(dpop::same_resource("HTTPS://API.example.com:443/orders?page=2", target.url));
//! ```

use std::collections::HashMap;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::jwks::{self, PublicKey, VerificationKey};
use crate::time::numeric_date;
use crate::token::{self, Algorithm, Jws, Typing};
use crate::Rejection;

/// How old a proof may be, seconds (RFC 9449 §4.3 point 11, §11.1: "a
/// reasonable window"), beside the leeway for clock difference. A proof's
/// `jti` must be remembered this long (plus the leeway) to refuse a replay.
pub const PROOF_WINDOW_SECS: i64 = 60;

/// The longest proof accepted, bytes: a proof carries its key, and an RSA
/// key of 8,192 bits with its signature fits with room to spare.
pub const MAX_PROOF_BYTES: usize = 8 * 1024;

/// The longest `jti` accepted, bytes: it is remembered for the window.
pub const MAX_JTI_BYTES: usize = 256;

/// The request a proof must be for (RFC 9449 §4.2 `htm`, `htu`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The HTTP method, exactly as sent (`POST`, `GET`, …).
    pub method: &'a str,
    /// The request's URL (its query and fragment are not compared).
    pub url: &'a str,
}

/// A proof that passed [`parse`]'s checks; its signature not yet checked.
#[derive(Debug)]
pub struct Proof<'a> {
    /// The JWS, for the signature check with [`Proof::key`].
    pub jws: Jws<'a>,
    /// The header's `jwk`, of the algorithm the header names; its `kid` is
    /// [`Proof::jkt`].
    pub key: VerificationKey,
    /// The key's RFC 7638 thumbprint: what `cnf.jkt` must be (§6.1).
    pub jkt: String,
    /// `jti`: single use within the window.
    pub jti: String,
    /// `iat`, Unix seconds: the replay record may go at
    /// `iat + PROOF_WINDOW_SECS + leeway`.
    pub issued_at: i64,
    /// `nonce`, if the client sent one (§8).
    pub nonce: Option<String>,
}

impl Proof<'_> {
    /// Until when (Unix seconds) this proof could still be accepted, and so
    /// how long its `jti` must be remembered.
    pub fn usable_until(&self, leeway: i64) -> i64 {
        self.issued_at.saturating_add(PROOF_WINDOW_SECS).saturating_add(leeway.max(0))
    }
}

/// Check `proof` (the `DPoP` header's value) for the request `target` at
/// `now`, within `leeway` seconds of clock difference; with the access
/// token it comes with, if any (at an API: `ath` must be its hash, §4.3
/// point 12; at the token endpoint there is none).
pub fn parse<'a>(
    proof: &'a str,
    target: &Target<'_>,
    now: i64,
    leeway: i64,
    access_token: Option<&str>,
) -> Result<Proof<'a>, Rejection> {
    if proof.len() > MAX_PROOF_BYTES {
        return Err(Rejection::Proof("the proof is too large"));
    }
    let jws = token::parse_either(proof, Typing::Any).map_err(|rejection| match rejection {
        Rejection::Algorithm { .. } => Rejection::Proof("alg must be ES256 or RS256"),
        Rejection::Critical => Rejection::Proof("unsupported crit extension"),
        Rejection::Signature => Rejection::Proof("the signature is not of the algorithm's shape"),
        _ => Rejection::Proof("not a JWS of JSON objects in compact serialization"),
    })?;
    // §4.2: "typ": "dpop+jwt" (a media type: any case, `application/` optional).
    let typed = jws
        .typ
        .as_deref()
        .is_some_and(|t| t.eq_ignore_ascii_case("dpop+jwt") || t.eq_ignore_ascii_case("application/dpop+jwt"));
    if !typed {
        return Err(Rejection::Proof("typ must be dpop+jwt"));
    }
    let (key, jkt) = header_key(jws.jwk.as_ref(), jws.algorithm)?;
    let claims =
        token::object(&jws.payload, "payload").map_err(|_| Rejection::Proof("the payload is not a JSON object"))?;
    let text = |name: &'static str| claims.get(name).and_then(Value::as_str).filter(|s| !s.is_empty());
    let jti = text("jti").filter(|j| j.len() <= MAX_JTI_BYTES).ok_or(Rejection::Proof("jti missing or too long"))?;
    if text("htm") != Some(target.method) {
        return Err(Rejection::Proof("htm is not the request's method"));
    }
    if !text("htu").is_some_and(|htu| same_resource(htu, target.url)) {
        return Err(Rejection::Proof("htu is not the request's URL"));
    }
    let issued_at = claims.get("iat").and_then(numeric_date).ok_or(Rejection::Proof("iat missing"))?;
    let leeway = i128::from(leeway.max(0));
    let age = i128::from(now) - i128::from(issued_at);
    if age < -leeway {
        return Err(Rejection::Proof("iat is in the future"));
    }
    if age > i128::from(PROOF_WINDOW_SECS) + leeway {
        return Err(Rejection::Proof("iat is too old"));
    }
    if let Some(token) = access_token {
        if text("ath") != Some(access_token_hash(token).as_str()) {
            return Err(Rejection::Proof("ath is not the hash of the access token"));
        }
    }
    let nonce = match claims.get("nonce") {
        None => None,
        Some(Value::String(nonce)) => Some(nonce.clone()),
        Some(_) => return Err(Rejection::Proof("nonce is not a string")),
    };
    let jti = jti.to_string();
    Ok(Proof { jws, key, jkt, jti, issued_at, nonce })
}

/// The private members of EC and RSA JWKs (RFC 7518 §6.2.2, §6.3.2): a
/// proof's key must carry none (RFC 9449 §4.3 point 7).
const PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The header's `jwk` as a key of `algorithm`, and its thumbprint.
fn header_key(jwk: Option<&Value>, algorithm: Algorithm) -> Result<(VerificationKey, String), Rejection> {
    let Some(Value::Object(jwk)) = jwk else {
        return Err(Rejection::Proof("the header has no jwk"));
    };
    if PRIVATE_MEMBERS.iter().any(|m| jwk.contains_key(*m)) {
        return Err(Rejection::Proof("the jwk holds a private key"));
    }
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    let bytes = |name: &str| member(name).and_then(|v| URL_SAFE_NO_PAD.decode(v).ok());
    let unfit = Rejection::Proof("the jwk is not a public key of the algorithm alg names");
    match (algorithm, member("kty")) {
        (Algorithm::Es256, Some("EC")) if member("crv") == Some("P-256") => {
            let coordinate = |name| bytes(name).and_then(|b| <[u8; 32]>::try_from(b).ok());
            let (Some(x), Some(y), Some(x64), Some(y64)) = (coordinate("x"), coordinate("y"), member("x"), member("y"))
            else {
                return Err(unfit);
            };
            let jkt = jwks::ec_thumbprint(x64, y64);
            Ok((VerificationKey::Es256(PublicKey { kid: jkt.clone(), x, y }), jkt))
        }
        (Algorithm::Rs256, Some("RSA")) => {
            let (Some(n), Some(e), Some(n64), Some(e64)) = (bytes("n"), bytes("e"), member("n"), member("e")) else {
                return Err(unfit);
            };
            let jkt = jwks::thumbprint(&[("e", e64), ("kty", "RSA"), ("n", n64)]);
            let key = jwks::rsa_key(jkt.clone(), &n, &e).ok_or(unfit)?;
            Ok((VerificationKey::Rs256(key), jkt))
        }
        _ => Err(unfit),
    }
}

/// `ath` (RFC 9449 §4.2): the base64url SHA-256 of the access token's
/// ASCII bytes.
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// Whether two URLs name the same resource for `htu` (RFC 9449 §4.3 point
/// 9): equal after RFC 3986 §6.2.2 syntax-based normalisation (scheme and
/// host in lower case, percent-encodings in upper case and unreserved
/// characters decoded) and §6.2.3 scheme-based (the default port dropped,
/// an empty path as `/`), query and fragment left out. Only `http` and
/// `https` URLs without user information compare at all.
pub fn same_resource(a: &str, b: &str) -> bool {
    matches!((normalised(a), normalised(b)), (Some(a), Some(b)) if a == b)
}

/// The URL as [`same_resource`] compares it; `None` if it is not an
/// absolute `http(s)` URL.
fn normalised(url: &str) -> Option<String> {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => ":443",
        "http" => ":80",
        _ => return None,
    };
    let (authority, path) = match rest.find('/') {
        Some(at) => rest.split_at(at),
        None => (rest, ""),
    };
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = authority.to_ascii_lowercase();
    let authority = authority.strip_suffix(default_port).unwrap_or(&authority);
    let authority = authority.strip_suffix(':').unwrap_or(authority);
    let path = if path.is_empty() { "/".to_string() } else { percent_normalised(path)? };
    Some(format!("{scheme}://{authority}{path}"))
}

/// `path` with each percent-encoding of an unreserved character (RFC 3986
/// §2.3) decoded and every other one in upper case; `None` if a `%` is not
/// followed by two hex digits.
fn percent_normalised(path: &str) -> Option<String> {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(char::from(bytes[i]));
            i += 1;
            continue;
        }
        let hex = path.get(i + 1..i + 3)?;
        let value = u8::from_str_radix(hex, 16).ok()?;
        if value.is_ascii_alphanumeric() || matches!(value, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(value));
        } else {
            out.push('%');
            out.push_str(&hex.to_ascii_uppercase());
        }
        i += 3;
    }
    Some(out)
}

/// The `cnf.jkt` of a token's claims (RFC 9449 §6.1): `None` without
/// `cnf`; a `cnf` that is not an object with a string `jkt` is refused
/// (a confirmation this verifier cannot check must not be ignored,
/// RFC 7800 §3.1).
pub fn confirmation(claims: &Map<String, Value>) -> Result<Option<&str>, Rejection> {
    match claims.get("cnf") {
        None => Ok(None),
        Some(Value::Object(cnf)) => match cnf.get("jkt") {
            Some(Value::String(jkt)) if !jkt.is_empty() => Ok(Some(jkt)),
            _ => Err(Rejection::Claim("cnf")),
        },
        Some(_) => Err(Rejection::Claim("cnf")),
    }
}

/// The most proofs a [`SeenProofs`] remembers at once: at the window's 90
/// seconds (60 and the default leeway), over a thousand proofs a second
/// per verifier; about 5 MiB when full.
pub const MAX_SEEN_PROOFS: usize = 100_000;

/// The proofs one verifier has accepted, until each could no longer be
/// accepted anyway (RFC 9449 §11.1): a proof is used once. Held per
/// process or Worker isolate, so a proof copied off the wire could be
/// replayed to *another* isolate within its window — there only with its
/// access token, method and URL (its query and the body are not signed):
/// the bound this crate keeps (README, "Sender-constrained tokens").
#[derive(Debug, Default)]
pub struct SeenProofs {
    /// SHA-256 of `jkt`, a zero byte, `jti` (a fixed size whatever the
    /// client sends) → until when it is remembered.
    until: HashMap<[u8; 32], i64>,
}

impl SeenProofs {
    /// Record `proof` as used; refused if it was used before within its
    /// window, or if [`MAX_SEEN_PROOFS`] proofs still in their windows are
    /// held (it could not be remembered).
    pub fn first_use(&mut self, proof: &Proof<'_>, leeway: i64, now: i64) -> Result<(), Rejection> {
        if self.until.len() >= MAX_SEEN_PROOFS {
            self.until.retain(|_, until| *until >= now);
            if self.until.len() >= MAX_SEEN_PROOFS {
                return Err(Rejection::Proof("too many proofs within the window: try again"));
            }
        }
        let key: [u8; 32] = Sha256::new()
            .chain_update(proof.jkt.as_bytes())
            .chain_update([0])
            .chain_update(proof.jti.as_bytes())
            .finalize()
            .into();
        match self.until.insert(key, proof.usable_until(leeway)) {
            Some(until) if until >= now => Err(Rejection::Proof("the proof was used before")),
            _ => Ok(()),
        }
    }
}

/// The most proof keys a [`ProofKeys`] holds: one per client instance an
/// API serves from one isolate, with room to spare.
pub const MAX_PROOF_KEYS: usize = 1_000;

/// The proof keys of bound tokens a verifier took, imported, by thumbprint
/// (`cnf.jkt`): a client signs every proof with the key its token is bound
/// to (RFC 9449 §2), so an isolate imports that key once rather than per
/// request. A key is remembered only once a proof by it and the token bound
/// to it were accepted, so no one without such a token can fill this; when
/// full, it starts over. The thumbprint is a SHA-256 of the key's members
/// (RFC 7638 §3), so one thumbprint never stands for two keys. (A proof by
/// a held key is answered sooner than one by a key imported for it: who
/// knows a client's public key can tell whether this isolate served that
/// client lately, and nothing more.)
#[derive(Debug)]
pub struct ProofKeys<K> {
    by_jkt: HashMap<String, K>,
}

impl<K> Default for ProofKeys<K> {
    fn default() -> ProofKeys<K> {
        ProofKeys { by_jkt: HashMap::new() }
    }
}

impl<K: Clone> ProofKeys<K> {
    /// The imported key of thumbprint `jkt`, if held.
    pub fn get(&self, jkt: &str) -> Option<K> {
        self.by_jkt.get(jkt).cloned()
    }

    /// Hold `key`, imported from the proof key of thumbprint `jkt`.
    pub fn remember(&mut self, jkt: &str, key: K) {
        if self.by_jkt.len() >= MAX_PROOF_KEYS && !self.by_jkt.contains_key(jkt) {
            self.by_jkt.clear();
        }
        self.by_jkt.insert(jkt.to_string(), key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proof_keys_are_held_by_thumbprint_up_to_the_bound() {
        let mut keys = ProofKeys::default();
        keys.remember("a", 1);
        assert_eq!((keys.get("a"), keys.get("b")), (Some(1), None));
        for i in 1..MAX_PROOF_KEYS {
            keys.remember(&format!("k{i}"), i);
        }
        assert_eq!(keys.by_jkt.len(), MAX_PROOF_KEYS);
        keys.remember("a", 2);
        assert_eq!(keys.by_jkt.len(), MAX_PROOF_KEYS, "a held key is replaced in place");
        keys.remember("one-more", 3);
        assert_eq!((keys.by_jkt.len(), keys.get("a"), keys.get("one-more")), (1, None, Some(3)));
    }

    #[test]
    fn urls_compare_after_normalisation_without_query_or_fragment() {
        let base = "https://api.example.com/orders/1";
        for same in [
            "https://api.example.com/orders/1",
            "HTTPS://API.Example.COM/orders/1",
            "https://api.example.com:443/orders/1",
            "https://api.example.com/orders/1?x=1",
            "https://api.example.com/orders/1#top",
            "https://api.example.com/%6Frders/1",
        ] {
            assert!(same_resource(same, base), "{same}");
        }
        for other in [
            "http://api.example.com/orders/1",
            "https://api.example.com:8443/orders/1",
            "https://api.example.com/Orders/1",
            "https://api.example.com/orders/1/",
            "https://evil.example.com/orders/1",
            "https://user@api.example.com/orders/1",
            "ftp://api.example.com/orders/1",
            "/orders/1",
            "https://api.example.com/orders/%zz",
        ] {
            assert!(!same_resource(other, base), "{other}");
        }
        assert!(same_resource("http://localhost:80", "http://localhost/"));
        assert!(same_resource("https://a.example/x%2fy", "https://a.example/x%2Fy"));
    }

    #[test]
    fn ath_is_rfc_9449s_example() {
        // RFC 9449 §7.1, figure 12: the access token and its `ath`.
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn a_confirmation_must_be_an_object_with_a_jkt() {
        let claims =
            |cnf: Value| serde_json::from_value::<Map<String, Value>>(serde_json::json!({"cnf": cnf})).unwrap();
        assert_eq!(confirmation(&Map::new()), Ok(None));
        assert_eq!(confirmation(&claims(serde_json::json!({"jkt": "abc"}))), Ok(Some("abc")));
        for bad in [serde_json::json!("abc"), serde_json::json!({"x5t#S256": "abc"}), serde_json::json!({"jkt": 1})] {
            assert_eq!(confirmation(&claims(bad.clone())), Err(Rejection::Claim("cnf")), "{bad}");
        }
    }
}
