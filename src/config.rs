//! Configuration from the Worker's vars and secrets (README, "Configuration").

use crate::client::input::{MAX_TOKEN_TTL, MIN_TOKEN_TTL};

pub const DEFAULT_TOKEN_TTL: u32 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageKind {
    D1,
    Kv,
}

#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// `ISSUER`; `None` means the request's origin.
    pub issuer: Option<String>,
    pub default_token_ttl: u32,
    pub storage: StorageKind,
    /// `ADMIN_API_KEY`; `None` disables the admin API.
    pub admin_api_key: Option<String>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("issuer", &self.issuer)
            .field("default_token_ttl", &self.default_token_ttl)
            .field("storage", &self.storage)
            .field("admin_api_key", &self.admin_api_key.as_ref().map(|_| ".."))
            .finish()
    }
}

impl Config {
    /// Read and check every setting; the error names the setting at fault.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, String> {
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
                .ok_or_else(|| "DEFAULT_TOKEN_TTL must be an integer between 60 and 86400".to_string())?,
        };
        let storage = match nonempty("STORAGE").as_deref() {
            None | Some("d1") => StorageKind::D1,
            Some("kv") => StorageKind::Kv,
            Some(_) => return Err("STORAGE must be \"d1\" or \"kv\"".to_string()),
        };
        Ok(Config { issuer, default_token_ttl, storage, admin_api_key: nonempty("ADMIN_API_KEY") })
    }

    /// The issuer for a request that arrived at `origin`.
    pub fn issuer_for<'a>(&'a self, origin: &'a str) -> &'a str {
        self.issuer.as_deref().unwrap_or(origin)
    }
}

/// RFC 8414 §2: "a URL that uses the "https" scheme and has no query or
/// fragment components". Plain http is let through for local development.
fn check_issuer(issuer: &str) -> Result<String, String> {
    let rest = issuer
        .strip_prefix("https://")
        .or_else(|| issuer.strip_prefix("http://"))
        .ok_or("ISSUER must be an https:// URL")?;
    if rest.is_empty() || rest.starts_with('/') || issuer.contains(['?', '#']) || issuer.contains(char::is_whitespace) {
        return Err("ISSUER must be an https:// URL with a host and no query or fragment".to_string());
    }
    Ok(issuer.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, String> {
        let pairs: Vec<(String, String)> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        Config::from_lookup(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.issuer, None);
        assert_eq!(c.default_token_ttl, 3600);
        assert_eq!(c.storage, StorageKind::D1);
        assert_eq!(c.issuer_for("http://127.0.0.1:8787"), "http://127.0.0.1:8787");
    }

    #[test]
    fn errors_name_the_setting() {
        assert!(cfg(&[("DEFAULT_TOKEN_TTL", "ten")]).unwrap_err().contains("DEFAULT_TOKEN_TTL"));
        assert!(cfg(&[("DEFAULT_TOKEN_TTL", "30")]).unwrap_err().contains("DEFAULT_TOKEN_TTL"));
        assert!(cfg(&[("STORAGE", "r2")]).unwrap_err().contains("STORAGE"));
        for bad in ["auth.example.com", "https://", "https://x?y=1", "https://x#f", "ftp://x"] {
            assert!(cfg(&[("ISSUER", bad)]).unwrap_err().contains("ISSUER"), "{bad}");
        }
        assert_eq!(cfg(&[("ISSUER", "https://auth.example.com/")]).unwrap().issuer_for("x"), "https://auth.example.com/");
    }

    #[test]
    fn debug_hides_admin_key() {
        let c = cfg(&[("ADMIN_API_KEY", "topsecret")]).unwrap();
        assert!(!format!("{c:?}").contains("topsecret"));
    }
}
