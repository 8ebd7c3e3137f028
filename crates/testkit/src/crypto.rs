//! Host crypto: what WebCrypto does in the Worker, done with RustCrypto.
//! [`P256Signer`] signs access tokens (RFC 6979 deterministic ECDSA) and
//! [`HostCrypto`] generates and seals managed keys (AES-256-GCM).

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey as EcdsaKey};

use m2m_edge_core::http::Response;
use m2m_edge_core::jose::{jws, IssuingKey, JwkError, SigningKey};
use m2m_edge_core::keys::isolate::KeyImport;
use m2m_edge_core::keys::sealed::{CryptoError, Direction, Gcm, KeyCrypto, KeyMaterial};
use m2m_edge_core::keys::KeyError;

/// An imported ES256 signing key on the host.
pub struct P256Signer {
    kid: String,
    header_b64: String,
    key: EcdsaKey,
}

impl P256Signer {
    /// Import `key`, checking that its public coordinates belong to the
    /// private scalar, as WebCrypto's import does in the Worker.
    pub fn new(key: &SigningKey) -> Result<P256Signer, JwkError> {
        let rejected = || JwkError::Rejected { kid: key.kid.clone() };
        let d = URL_SAFE_NO_PAD.decode(key.private_d()).map_err(|_| rejected())?;
        let ecdsa = EcdsaKey::from_slice(&d).map_err(|_| rejected())?;
        let point = ecdsa.verifying_key().to_encoded_point(false);
        let matches = point.x().map(|x| URL_SAFE_NO_PAD.encode(x)) == Some(key.x.clone())
            && point.y().map(|y| URL_SAFE_NO_PAD.encode(y)) == Some(key.y.clone());
        if !matches {
            return Err(rejected());
        }
        Ok(P256Signer { kid: key.kid.clone(), header_b64: jws::access_token_header(&key.kid), key: ecdsa })
    }

    /// ECDSA P-256 / SHA-256 over `message`, as the 64-byte `R || S` JWS wants
    /// (RFC 7518 §3.4).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let signature: Signature = self.key.sign(message);
        signature.to_bytes().into()
    }

    /// Fill the response's signature slot, if it has one: the host's half of
    /// what `glue.js` does in the Worker.
    pub fn sign_response(&self, response: Response) -> Response {
        match response.signing_input().map(|input| self.sign(input)) {
            Some(signature) => response.fill_signature(&signature),
            None => response,
        }
    }
}

impl IssuingKey for P256Signer {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn header_b64(&self) -> &str {
        &self.header_b64
    }
}

/// Imports keys as [`P256Signer`]s, for [`m2m_edge_core::keys::isolate::IsolateKeys`].
pub struct P256Import;

impl KeyImport for P256Import {
    type Key = P256Signer;

    async fn import(&self, key: &SigningKey) -> Result<P256Signer, KeyError> {
        P256Signer::new(key).map_err(KeyError::Jwk)
    }
}

/// Key generation and AES-256-GCM on the host: p256 and aes-gcm, OS randomness.
pub struct HostCrypto;

impl KeyCrypto for HostCrypto {
    async fn generate(&self) -> Result<KeyMaterial, CryptoError> {
        loop {
            // A random 256-bit value is a valid scalar but with negligible
            // probability; retry the rare one that is not.
            let mut d = [0u8; 32];
            getrandom::getrandom(&mut d).map_err(|_| CryptoError("random source failed".into()))?;
            if let Ok(secret) = p256::SecretKey::from_slice(&d) {
                let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&secret.public_key(), false);
                let (Some(x), Some(y)) = (point.x(), point.y()) else { continue };
                return Ok(KeyMaterial { d: d.to_vec(), x: URL_SAFE_NO_PAD.encode(x), y: URL_SAFE_NO_PAD.encode(y) });
            }
        }
    }

    async fn aes_gcm(&self, direction: Direction, gcm: &Gcm<'_>, input: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let cipher = Aes256Gcm::new_from_slice(&gcm.kek.0).map_err(|_| CryptoError("bad key length".into()))?;
        let (nonce, payload) = (Nonce::from(*gcm.iv), Payload { msg: input, aad: gcm.aad });
        match direction {
            Direction::Encrypt => cipher.encrypt(&nonce, payload),
            Direction::Decrypt => cipher.decrypt(&nonce, payload),
        }
        .map_err(|_| CryptoError(format!("AES-GCM {direction:?} failed")))
    }

    async fn verify_es256(&self, key: &m2m_edge_verify::jwks::PublicKey, input: &[u8], signature: &[u8; 64]) -> bool {
        use p256::ecdsa::signature::Verifier as _;
        let point = p256::EncodedPoint::from_affine_coordinates(&key.x.into(), &key.y.into(), false);
        let Ok(key) = p256::ecdsa::VerifyingKey::from_encoded_point(&point) else { return false };
        p256::ecdsa::Signature::from_slice(signature).is_ok_and(|s| key.verify(input, &s).is_ok())
    }

    async fn verify_rs256(&self, key: &m2m_edge_verify::jwks::RsaPublicKey, input: &[u8], signature: &[u8]) -> bool {
        use rsa::signature::Verifier as _;
        let n = rsa::BigUint::from_bytes_be(&key.n);
        let e = rsa::BigUint::from_bytes_be(&key.e);
        let Ok(public) = rsa::RsaPublicKey::new(n, e) else { return false };
        let verifying = rsa::pkcs1v15::VerifyingKey::<sha2::Sha256>::new(public);
        rsa::pkcs1v15::Signature::try_from(signature).is_ok_and(|s| verifying.verify(input, &s).is_ok())
    }
}

/// A client's own ES256 key pair, as a `private_key_jwt` client holds one:
/// its public JWK to register, and compact JWS assertions signed with it.
pub struct ClientKeyPair {
    key: EcdsaKey,
}

impl ClientKeyPair {
    /// A fresh key pair from the OS random source.
    pub fn generate() -> ClientKeyPair {
        let mut d = [0u8; 32];
        loop {
            getrandom::getrandom(&mut d).expect("OS random source");
            if let Ok(key) = EcdsaKey::from_slice(&d) {
                return ClientKeyPair { key };
            }
        }
    }

    /// The public JWK, with `kid` if given.
    pub fn public_jwk(&self, kid: Option<&str>) -> serde_json::Value {
        let point = self.key.verifying_key().to_encoded_point(false);
        let coordinate = |c: Option<&p256::FieldBytes>| URL_SAFE_NO_PAD.encode(c.expect("uncompressed point"));
        let mut jwk =
            serde_json::json!({"kty": "EC", "crv": "P-256", "x": coordinate(point.x()), "y": coordinate(point.y())});
        if let Some(kid) = kid {
            jwk["kid"] = serde_json::json!(kid);
        }
        jwk
    }

    /// `header.claims.signature`, signed with this key (ES256).
    pub fn sign(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        let input =
            format!("{}.{}", URL_SAFE_NO_PAD.encode(header.to_string()), URL_SAFE_NO_PAD.encode(claims.to_string()));
        let signature: Signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
    }
}

/// A platform's signing key, as a trusted issuer (GitHub Actions,
/// Kubernetes) holds one: RS256 with a fixed 2048-bit test key (generating
/// one takes seconds in a debug build), or ES256 with a fresh one.
pub enum IssuerKeyPair {
    /// RS256.
    Rsa(Box<rsa::RsaPrivateKey>),
    /// ES256.
    Ec(ClientKeyPair),
}

/// The RS256 test key: a fixture for tests only, never a real issuer's.
const TEST_RSA_KEY: &str = include_str!("test-issuer-rsa.pem");

impl IssuerKeyPair {
    /// The fixed RS256 test key.
    pub fn rsa() -> IssuerKeyPair {
        use rsa::pkcs8::DecodePrivateKey;
        IssuerKeyPair::Rsa(Box::new(rsa::RsaPrivateKey::from_pkcs8_pem(TEST_RSA_KEY).expect("test RSA key")))
    }

    /// A fresh ES256 key.
    pub fn ec() -> IssuerKeyPair {
        IssuerKeyPair::Ec(ClientKeyPair::generate())
    }

    /// The issuer's JWK set with this key as `kid`.
    pub fn jwks(&self, kid: &str) -> serde_json::Value {
        let jwk = match self {
            IssuerKeyPair::Rsa(key) => {
                use rsa::traits::PublicKeyParts;
                serde_json::json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
                    "n": URL_SAFE_NO_PAD.encode(key.n().to_bytes_be()), "e": URL_SAFE_NO_PAD.encode(key.e().to_bytes_be())})
            }
            IssuerKeyPair::Ec(key) => key.public_jwk(Some(kid)),
        };
        serde_json::json!({ "keys": [jwk] })
    }

    /// A token with `claims`, signed with this key under `kid`.
    pub fn sign(&self, kid: &str, claims: &serde_json::Value) -> String {
        self.sign_typed(kid, "JWT", claims)
    }

    /// The same with header `typ` = `typ` (`at+jwt`: an RFC 9068 access
    /// token, as Duende or node-oidc-provider issue them).
    pub fn sign_typed(&self, kid: &str, typ: &str, claims: &serde_json::Value) -> String {
        match self {
            IssuerKeyPair::Rsa(key) => {
                use rsa::signature::{SignatureEncoding, Signer as _};
                let header = serde_json::json!({"alg": "RS256", "typ": typ, "kid": kid});
                let input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**key).clone());
                let signature = signer.sign(input.as_bytes());
                format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
            }
            IssuerKeyPair::Ec(key) => key.sign(&serde_json::json!({"alg": "ES256", "typ": typ, "kid": kid}), claims),
        }
    }
}

#[cfg(test)]
mod tests {
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::{Signature, VerifyingKey};

    use super::*;
    use m2m_edge_core::http::SignatureSlot;
    use m2m_edge_core::jose::jwk;

    const X: &str = "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU";
    const Y: &str = "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0";
    const D: &str = "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI";

    fn verifying_key() -> VerifyingKey {
        let mut sec1 = vec![4u8];
        sec1.extend(URL_SAFE_NO_PAD.decode(X).unwrap());
        sec1.extend(URL_SAFE_NO_PAD.decode(Y).unwrap());
        VerifyingKey::from_sec1_bytes(&sec1).unwrap()
    }

    #[test]
    fn rfc7515_a3_signature_verifies() {
        // RFC 7515 A.3: the published JWS verifies with the published key.
        let input = "eyJhbGciOiJFUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";
        let sig = URL_SAFE_NO_PAD
            .decode("DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q")
            .unwrap();
        let sig = Signature::from_slice(&sig).unwrap();
        assert!(verifying_key().verify(input.as_bytes(), &sig).is_ok());
    }

    /// A signer holding the RFC 7515 A.3 key.
    fn rfc7515_signer() -> P256Signer {
        let raw = format!(r#"{{"kty":"EC","crv":"P-256","x":"{X}","y":"{Y}","d":"{D}","kid":"a3"}}"#);
        P256Signer::new(jwk::parse(Some(&raw)).unwrap().current()).unwrap()
    }

    #[test]
    fn signer_output_verifies_and_is_raw_r_s() {
        let signer = rfc7515_signer();
        let input = jws::signing_input(signer.header_b64(), br#"{"sub":"x"}"#);
        let sig = signer.sign(input.as_bytes());
        assert!(verifying_key().verify(input.as_bytes(), &Signature::from_slice(&sig).unwrap()).is_ok());
    }

    #[test]
    fn signature_fills_its_slot() {
        let signer = rfc7515_signer();
        let mut unsigned = Response::json(200, r#"{"t":"abc.","n":1}"#);
        unsigned.signature = Some(SignatureSlot { input: 6..9, at: 10 });
        let signed = signer.sign_response(unsigned);
        assert_eq!(signed.signature, None);
        let token = signed.body_json()["t"].as_str().unwrap().to_string();
        let (input, sig) = token.rsplit_once('.').unwrap();
        assert_eq!(input, "abc");
        let sig = URL_SAFE_NO_PAD.decode(sig).unwrap();
        assert_eq!(sig.len(), 64);
        assert!(verifying_key().verify(b"abc", &Signature::from_slice(&sig).unwrap()).is_ok());
        assert_eq!(signed.body_json()["n"], 1);
        // Without a slot the response is untouched.
        assert_eq!(signer.sign_response(Response::json(200, "{}")).body, b"{}");
    }

    #[test]
    fn mismatched_public_key_is_rejected() {
        let raw = format!(r#"{{"kty":"EC","crv":"P-256","x":"{Y}","y":"{X}","d":"{D}","kid":"bad"}}"#);
        let set = jwk::parse(Some(&raw)).unwrap();
        assert_eq!(P256Signer::new(set.current()).err(), Some(JwkError::Rejected { kid: "bad".into() }));
    }
}
