//! Configuration from the Worker's vars and secrets (README, "Configuration").

use std::fmt;

use crate::jose::IssuingKey;
use crate::keys::isolate::{IsolateKeys, KeyImport, RequestKeys};
use crate::keys::manager::KeyEnv;
use crate::keys::rotation::DAY;
use crate::keys::sealed::KeyCrypto;
use crate::keys::{KeyStore, Policy};
use crate::oauth::dpop_nonce::{NonceSecret, MIN_NONCE_SECRET_CHARS};
use crate::ports::{Logger, Random};
use crate::validate::{MAX_TOKEN_TTL, MIN_TOKEN_TTL};

/// A setting that is present but unusable. The message names the setting
/// and what it must be; it never repeats the value (it may be a secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// `setting` is set to something it cannot be; `expected` says what it must be.
    Invalid {
        /// The var or secret's name.
        setting: &'static str,
        /// What it must be, for a person.
        expected: String,
    },
}

impl ConfigError {
    fn invalid(setting: &'static str, expected: impl Into<String>) -> ConfigError {
        ConfigError::Invalid { setting, expected: expected.into() }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Invalid { setting, expected } => write!(f, "{setting} must be {expected}"),
        }
    }
}

impl std::error::Error for ConfigError {}

/// JWKS `Cache-Control: max-age`, in seconds: verifiers refetch at least this
/// often, so a pre-published key reaches them within it.
pub const JWKS_MAX_AGE: u32 = 300;

/// `DEFAULT_TOKEN_TTL` when unset: one hour.
pub const DEFAULT_TOKEN_TTL: u32 = 3600;
/// With `D1_READ_REPLICAS`, the oldest state of the primary a token path
/// read may reflect, in seconds: each isolate starts a session at the
/// primary at least this often (the worker's D1 adapter says how).
pub const REPLICA_ANCHOR_SECS: u32 = 10;

/// `CLIENT_CACHE_TTL` when unset, in seconds.
pub const DEFAULT_CLIENT_CACHE_TTL: u32 = 5;

/// Shortest `ADMIN_API_KEY` the admin API runs with: a key that anyone
/// can reach must not be guessable (`make dev` generates 50 characters).
pub const MIN_ADMIN_KEY_CHARS: usize = 32;

/// The `ADMIN_API_KEY` secret. Not `Debug` with its value: see [`Config`]'s.
#[derive(Clone, PartialEq, Eq)]
pub enum AdminKey {
    /// Not set: the admin API is off.
    Unset,
    /// Set, but shorter than [`MIN_ADMIN_KEY_CHARS`]: the admin API is off
    /// until a longer one is set.
    TooShort,
    /// The key callers must present.
    Set(String),
}

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            AdminKey::Unset => "Unset",
            AdminKey::TooShort => "TooShort",
            AdminKey::Set(_) => "Set(..)",
        })
    }
}

/// Where signing keys come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyMode {
    /// Bring your own: the `SIGNING_KEYS` secret.
    Byok,
    /// The worker generates, seals, stores and rotates its own keys.
    Managed,
}

/// `AUDIT_RETENTION_DAYS` when unset.
pub const DEFAULT_AUDIT_RETENTION_DAYS: u32 = 90;

/// `ASSERTION_MAX_LIFETIME` when unset: a client assertion may be valid
/// for at most an hour. RFC 7523 §3 sets no cap (point 4 only lets the
/// server refuse an `exp` unreasonably far off); the common libraries sign
/// `exp` − `iat` of 60 s (oauth4webapi/openid-client, Spring Security),
/// 600 s (MSAL) and 3600 s (Authlib's `PrivateKeyJWT`, not configurable),
/// so an hour is the least that admits them all. Replay protection stays
/// bounded: a `jti` is kept only until its own assertion's `exp` (plus the
/// leeway, until the hourly prune), so only clients that sign long-lived
/// assertions keep rows longer.
pub const DEFAULT_ASSERTION_MAX_LIFETIME: u32 = 3600;

/// Every setting, read and checked once per isolate.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `ISSUER`; `None` means the request's origin.
    pub issuer: Option<String>,
    /// `DEFAULT_TOKEN_TTL`: a token's lifetime unless the client or resource says less.
    pub default_token_ttl: u32,
    /// `D1_READ_REPLICAS`: whether the token path reads D1's nearest read
    /// replica (the Sessions API) rather than the primary. Every write, and
    /// every read an admin change depends on, goes to the primary either way.
    pub read_replicas: bool,
    /// `ADMIN_API_KEY`.
    pub admin_api_key: AdminKey,
    /// `KEY_MODE`; defaults to managed when `SIGNING_KEYS` is not set.
    pub key_mode: KeyMode,
    /// `KEY_ENCRYPTION_KEY`, raw; parsed where used, so that a bad one fails
    /// signing but not the JWKS.
    pub key_encryption_key: Option<String>,
    /// Managed-key rotation policy.
    pub key_policy: Policy,
    /// `CLIENT_CACHE_TTL`: seconds an isolate reuses a client record (and a
    /// resource lookup) it has read; 0 turns the cache off.
    pub client_cache_ttl: u32,
    /// `AUDIT_RETENTION_DAYS`: how long audit events are kept.
    pub audit_retention_days: u32,
    /// `ASSERTION_MAX_LIFETIME`: the longest a client assertion may be
    /// valid (`exp` − `iat`, or `exp` − now without `iat`), seconds.
    pub assertion_max_lifetime: u32,
    /// `DPOP_NONCE_SECRET`: when set, a DPoP proof at the token endpoint
    /// must carry a nonce this deployment handed out (RFC 9449 §8).
    pub dpop_nonce: Option<NonceSecret>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("default_token_ttl", &self.default_token_ttl)
            .field("read_replicas", &self.read_replicas)
            .field("admin_api_key", &self.admin_api_key)
            .field("key_mode", &self.key_mode)
            .field("key_encryption_key", &self.key_encryption_key.as_ref().map(|_| ".."))
            .field("key_policy", &self.key_policy)
            .field("client_cache_ttl", &self.client_cache_ttl)
            .field("audit_retention_days", &self.audit_retention_days)
            .field("assertion_max_lifetime", &self.assertion_max_lifetime)
            .field("dpop_nonce", &self.dpop_nonce)
            .finish()
    }
}

impl Config {
    /// Read and check every setting; the error names the setting at fault.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let nonempty = |name: &str| get(name).map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
        let issuer = match nonempty("ISSUER") {
            None => None,
            Some(i) => Some(check_issuer(&i)?),
        };
        let default_token_ttl = match nonempty("DEFAULT_TOKEN_TTL") {
            None => DEFAULT_TOKEN_TTL,
            Some(v) => v
                .parse::<u32>()
                .ok()
                .filter(|n| (MIN_TOKEN_TTL..=MAX_TOKEN_TTL).contains(n))
                .ok_or_else(|| ConfigError::invalid("DEFAULT_TOKEN_TTL", "an integer between 60 and 86400"))?,
        };
        // D1 is the one store (docs/storage.md). A deployment that kept its
        // data in KV is told how to move it rather than served from an
        // empty database.
        match nonempty("STORAGE").as_deref() {
            None | Some("d1") => {}
            Some("kv") => {
                return Err(ConfigError::invalid(
                    "STORAGE",
                    "\"d1\" (or unset): KV is no longer a store; copy its data into D1 with \
                     `node scripts/migrate-kv-to-d1.mjs --remote`, then remove STORAGE (README, \"Storage\")",
                ))
            }
            Some(_) => return Err(ConfigError::invalid("STORAGE", "\"d1\" (or unset)")),
        }
        let read_replicas = match nonempty("D1_READ_REPLICAS").as_deref() {
            None | Some("on") => true,
            Some("off") => false,
            Some(_) => return Err(ConfigError::invalid("D1_READ_REPLICAS", "\"on\" or \"off\"")),
        };
        let key_mode = match nonempty("KEY_MODE").as_deref() {
            None if nonempty("SIGNING_KEYS").is_some() => KeyMode::Byok,
            None => KeyMode::Managed,
            Some("byok") => KeyMode::Byok,
            Some("managed") => KeyMode::Managed,
            Some(_) => return Err(ConfigError::invalid("KEY_MODE", "\"byok\" or \"managed\"")),
        };
        let seconds = |name: &'static str, default: i64, min: i64| -> Result<i64, ConfigError> {
            match nonempty(name) {
                None => Ok(default),
                Some(v) => v.parse::<i64>().ok().filter(|n| (min..=10 * 365 * DAY).contains(n)).ok_or_else(|| {
                    ConfigError::invalid(name, format!("a number of seconds between {min} and 10 years"))
                }),
            }
        };
        let defaults = Policy::default();
        // The lead must outlast the JWKS max-age plus KV propagation, so that
        // every verifier has a key before any token signed by it exists.
        let min_lead = i64::from(JWKS_MAX_AGE) + 60;
        let prepublish_lead = seconds("KEY_PREPUBLISH_LEAD", defaults.prepublish_lead, min_lead)?;
        let rotation_interval = seconds("KEY_ROTATION_INTERVAL", defaults.rotation_interval, 3600)?;
        let skew = seconds("KEY_CLOCK_SKEW", 300, 0)?;
        let key_policy = Policy { rotation_interval, prepublish_lead, retire_after: i64::from(MAX_TOKEN_TTL) + skew };
        let client_cache_ttl = match nonempty("CLIENT_CACHE_TTL") {
            None => DEFAULT_CLIENT_CACHE_TTL,
            Some(v) => v.parse::<u32>().ok().filter(|n| *n <= 300).ok_or_else(|| {
                ConfigError::invalid("CLIENT_CACHE_TTL", "a number of seconds between 0 (off) and 300")
            })?,
        };
        let audit_retention_days =
            match nonempty("AUDIT_RETENTION_DAYS") {
                None => DEFAULT_AUDIT_RETENTION_DAYS,
                Some(v) => v.parse::<u32>().ok().filter(|n| (1..=3650).contains(n)).ok_or_else(|| {
                    ConfigError::invalid("AUDIT_RETENTION_DAYS", "a number of days between 1 and 3650")
                })?,
            };
        let assertion_max_lifetime = match nonempty("ASSERTION_MAX_LIFETIME") {
            None => DEFAULT_ASSERTION_MAX_LIFETIME,
            Some(v) => v.parse::<u32>().ok().filter(|n| (30..=3600).contains(n)).ok_or_else(|| {
                ConfigError::invalid("ASSERTION_MAX_LIFETIME", "a number of seconds between 30 and 3600")
            })?,
        };
        let dpop_nonce = match nonempty("DPOP_NONCE_SECRET") {
            None => None,
            Some(secret) => Some(NonceSecret::new(&secret).ok_or_else(|| {
                ConfigError::invalid(
                    "DPOP_NONCE_SECRET",
                    format!(
                        "a random value of at least {MIN_NONCE_SECRET_CHARS} characters (`openssl rand -base64 32`)"
                    ),
                )
            })?),
        };
        Ok(Config {
            dpop_nonce,
            client_cache_ttl,
            audit_retention_days,
            assertion_max_lifetime,
            issuer,
            default_token_ttl,
            read_replicas,
            admin_api_key: match nonempty("ADMIN_API_KEY") {
                None => AdminKey::Unset,
                Some(key) if key.chars().count() < MIN_ADMIN_KEY_CHARS => AdminKey::TooShort,
                Some(key) => AdminKey::Set(key),
            },
            key_mode,
            key_encryption_key: nonempty("KEY_ENCRYPTION_KEY"),
            key_policy,
        })
    }

    /// Seconds an audit event is kept.
    pub fn audit_retention_secs(&self) -> i64 {
        i64::from(self.audit_retention_days) * DAY
    }

    /// The managed-key operations over these ports, with this deployment's
    /// KEK and rotation policy.
    pub fn key_env<'a, S: KeyStore, C: KeyCrypto>(
        &'a self,
        store: &'a S,
        crypto: &'a C,
        random: &'a dyn Random,
        now: i64,
    ) -> KeyEnv<'a, S, C> {
        KeyEnv { store, crypto, random, kek: self.key_encryption_key.as_deref(), policy: self.key_policy, now }
    }

    /// The keys one request uses, in this deployment's key mode, from the
    /// isolate's copy: bring-your-own from the `SIGNING_KEYS` text, managed
    /// from the key set `env` reaches. The Worker and the host tests both
    /// resolve keys here.
    pub async fn request_keys<K, I, S, C>(
        &self,
        isolate: &IsolateKeys<K>,
        signing_keys: Option<&str>,
        env: &KeyEnv<'_, S, C>,
        import: &I,
        now_ms: i64,
        log: &dyn Logger,
    ) -> RequestKeys<K>
    where
        K: IssuingKey,
        I: KeyImport<Key = K>,
        S: KeyStore,
        C: KeyCrypto,
    {
        match self.key_mode {
            KeyMode::Byok => isolate.byok(signing_keys, import).await,
            KeyMode::Managed => isolate.managed(env, import, now_ms, log).await,
        }
    }

    /// The issuer for a request that arrived at `origin`: `ISSUER`, or,
    /// without it, the origin itself on loopback only. Anywhere else the
    /// issuer would follow the `Host` header — two issuers for one
    /// deployment, and discovery documents a shared cache could mix up — so
    /// the answer is an error that tells the operator to set `ISSUER`.
    pub fn issuer_for<'a>(&'a self, origin: &'a str) -> Result<&'a str, IssuerUnset> {
        match &self.issuer {
            Some(issuer) => Ok(issuer),
            None if is_loopback(origin) => Ok(origin),
            None => Err(IssuerUnset),
        }
    }

    /// Whether `audience` is this deployment's admin audience under any
    /// name the deployment answers to: `<ISSUER>/admin`; without `ISSUER`,
    /// `<origin>/admin` for every loopback origin (each is an issuer in
    /// local development), so no loopback spelling escapes the admin
    /// scopes' rules.
    pub fn is_admin_audience(&self, audience: &str) -> bool {
        match &self.issuer {
            Some(issuer) => audience == crate::oauth::metadata::admin_audience(issuer),
            None => audience
                .strip_suffix(crate::oauth::metadata::ADMIN_PATH)
                .map(|origin| origin.trim_end_matches('/'))
                .is_some_and(|origin| {
                    is_loopback(origin) && !origin.split_once("://").is_some_and(|(_, a)| a.contains('/'))
                }),
        }
    }
}

/// `ISSUER` is not set and the request did not come over loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerUnset;

impl fmt::Display for IssuerUnset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "ISSUER is not set and this request did not come over loopback: set ISSUER (wrangler.toml [vars]) to the https:// URL clients use",
        )
    }
}

impl std::error::Error for IssuerUnset {}

/// Whether `origin` (`scheme://host[:port]`) names this machine: `localhost`,
/// `127.0.0.0/8` or `[::1]` (RFC 6761 §6.3, RFC 1122 §3.2.1.3, RFC 4291 §2.5.3).
pub fn is_loopback(origin: &str) -> bool {
    let Some((_, authority)) = origin.split_once("://") else { return false };
    let host = match authority.strip_prefix('[') {
        Some(v6) => return v6.split(']').next() == Some("::1"),
        None => authority.rsplit_once(':').map_or(authority, |(host, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                host
            } else {
                authority
            }
        }),
    };
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    let octets: Vec<&str> = host.split('.').collect();
    octets.len() == 4 && octets[0] == "127" && octets.iter().all(|o| o.parse::<u8>().is_ok())
}

/// RFC 8414 §2: "a URL that uses the "https" scheme and has no query or
/// fragment components". Plain http only for a loopback issuer (local
/// development, `make dev`).
fn check_issuer(issuer: &str) -> Result<String, ConfigError> {
    let rest = match (issuer.strip_prefix("https://"), issuer.strip_prefix("http://")) {
        (Some(rest), _) => rest,
        (None, Some(rest)) if is_loopback(&format!("http://{}", rest.split('/').next().unwrap_or(""))) => rest,
        _ => return Err(ConfigError::invalid("ISSUER", "an https:// URL (http:// only for a loopback address)")),
    };
    if rest.is_empty() || rest.starts_with('/') || issuer.contains(['?', '#']) || issuer.contains(char::is_whitespace) {
        return Err(ConfigError::invalid("ISSUER", "an https:// URL with a host and no query or fragment"));
    }
    Ok(issuer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.issuer, None);
        assert_eq!(c.default_token_ttl, 3600);
        assert!(c.read_replicas);
        assert_eq!(c.issuer_for("http://127.0.0.1:8787"), Ok("http://127.0.0.1:8787"));
        assert_eq!(c.issuer_for("https://auth.example.com"), Err(IssuerUnset));
    }

    #[test]
    fn errors_name_the_setting() {
        assert!(cfg(&[("DEFAULT_TOKEN_TTL", "ten")]).unwrap_err().to_string().contains("DEFAULT_TOKEN_TTL"));
        assert!(cfg(&[("DEFAULT_TOKEN_TTL", "30")]).unwrap_err().to_string().contains("DEFAULT_TOKEN_TTL"));
        assert!(cfg(&[("STORAGE", "r2")]).unwrap_err().to_string().contains("STORAGE"));
        let kv = cfg(&[("STORAGE", "kv")]).unwrap_err().to_string();
        assert!(kv.contains("STORAGE") && kv.contains("migrate-kv-to-d1"), "{kv}");
        assert!(cfg(&[("D1_READ_REPLICAS", "yes")]).unwrap_err().to_string().contains("D1_READ_REPLICAS"));
        assert!(!cfg(&[("D1_READ_REPLICAS", "off")]).unwrap().read_replicas);
        for bad in
            ["auth.example.com", "https://", "https://x?y=1", "https://x#f", "ftp://x", "http://auth.example.com"]
        {
            assert!(cfg(&[("ISSUER", bad)]).unwrap_err().to_string().contains("ISSUER"), "{bad}");
        }
        assert_eq!(
            cfg(&[("ISSUER", "https://auth.example.com/")]).unwrap().issuer_for("x"),
            Ok("https://auth.example.com/")
        );
    }

    #[test]
    fn plain_http_issuer_only_on_loopback() {
        for ok in ["http://127.0.0.1:8787", "http://localhost:8787/", "http://[::1]:8787", "https://auth.example.com"] {
            assert!(cfg(&[("ISSUER", ok)]).is_ok(), "{ok}");
        }
        for loopback in ["http://127.0.0.1", "https://localhost:1", "http://[::1]", "http://127.255.0.1:9"] {
            assert!(is_loopback(loopback), "{loopback}");
        }
        for not in ["http://127.0.0.1.evil.test", "http://localhost.evil.test", "http://128.0.0.1", "http://[::2]", "x"]
        {
            assert!(!is_loopback(not), "{not}");
        }
    }

    #[test]
    fn key_mode_and_policy() {
        assert_eq!(cfg(&[]).unwrap().key_mode, KeyMode::Managed);
        assert_eq!(cfg(&[("SIGNING_KEYS", "{}")]).unwrap().key_mode, KeyMode::Byok);
        assert_eq!(cfg(&[("SIGNING_KEYS", "{}"), ("KEY_MODE", "managed")]).unwrap().key_mode, KeyMode::Managed);
        assert!(cfg(&[("KEY_MODE", "hsm")]).unwrap_err().to_string().contains("KEY_MODE"));
        let p = cfg(&[]).unwrap().key_policy;
        assert_eq!((p.rotation_interval, p.prepublish_lead, p.retire_after), (30 * DAY, 2 * DAY, DAY + 300));
        assert!(cfg(&[("KEY_PREPUBLISH_LEAD", "60")]).unwrap_err().to_string().contains("KEY_PREPUBLISH_LEAD"));
        assert_eq!(cfg(&[("KEY_CLOCK_SKEW", "0")]).unwrap().key_policy.retire_after, DAY);
    }

    #[test]
    fn debug_hides_admin_key() {
        let c =
            cfg(&[("ADMIN_API_KEY", "topsecret-topsecret-topsecret-topsecret"), ("KEY_ENCRYPTION_KEY", "kek-secret")])
                .unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
        assert!(!format!("{c:?}").contains("kek-secret"));
    }
}
