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
        let alg = match self {
            IssuerKeyPair::Rsa(_) => "RS256",
            IssuerKeyPair::Ec(_) => "ES256",
        };
        self.sign_with(&serde_json::json!({"alg": alg, "typ": typ, "kid": kid}), claims)
    }

    /// `claims` signed under `header` as it is (its `alg` the key's).
    pub fn sign_with(&self, header: &serde_json::Value, claims: &serde_json::Value) -> String {
        match self {
            IssuerKeyPair::Rsa(key) => {
                use rsa::signature::{SignatureEncoding, Signer as _};
                let input = format!(
                    "{}.{}",
                    URL_SAFE_NO_PAD.encode(header.to_string()),
                    URL_SAFE_NO_PAD.encode(claims.to_string())
                );
                let signer = rsa::pkcs1v15::SigningKey::<sha2::Sha256>::new((**key).clone());
                let signature = signer.sign(input.as_bytes());
                format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()))
            }
            IssuerKeyPair::Ec(key) => key.sign(header, claims),
        }
    }

    /// The public JWK alone (no `kid`, `use`, `alg`): what a DPoP proof's
    /// header carries.
    pub fn bare_jwk(&self) -> serde_json::Value {
        let mut jwk = self.jwks("-")["keys"][0].clone();
        for member in ["kid", "use", "alg"] {
            jwk.as_object_mut().map(|o| o.remove(member));
        }
        jwk
    }

    /// Its RFC 7638 thumbprint: a DPoP-bound token's `cnf.jkt`.
    pub fn jkt(&self) -> String {
        let jwk = self.bare_jwk();
        let member = |name: &str| jwk[name].as_str().unwrap_or_default().to_string();
        match self {
            IssuerKeyPair::Rsa(_) => {
                m2m_edge_core::jose::jwk::thumbprint(&[("e", &member("e")), ("kty", "RSA"), ("n", &member("n"))])
            }
            IssuerKeyPair::Ec(_) => m2m_edge_core::jose::jwk::ec_thumbprint(&member("x"), &member("y")),
        }
    }

    /// A DPoP proof (RFC 9449 §4.2) by this key for `method` `url` at
    /// `iat`, with `jti`, and `ath` for `access_token` if given.
    pub fn dpop_proof(&self, method: &str, url: &str, iat: i64, jti: &str, access_token: Option<&str>) -> String {
        let mut claims = serde_json::json!({"jti": jti, "htm": method, "htu": url, "iat": iat});
        if let Some(token) = access_token {
            claims["ath"] = m2m_edge_verify::dpop::access_token_hash(token).into();
        }
        self.dpop_proof_of(&claims)
    }

    /// A DPoP proof of these claims, as [`IssuerKeyPair::dpop_proof`] signs it.
    pub fn dpop_proof_of(&self, claims: &serde_json::Value) -> String {
        let alg = match self {
            IssuerKeyPair::Rsa(_) => "RS256",
            IssuerKeyPair::Ec(_) => "ES256",
        };
        let header = serde_json::json!({"typ": "dpop+jwt", "alg": alg, "jwk": self.bare_jwk()});
        self.sign_with(&header, claims)
    }
}
