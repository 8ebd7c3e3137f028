//! Profiles: which deployment to talk to and how to authenticate to its
//! admin API, kept in `<config dir>/config.toml` (0600), with environment
//! overrides for scripts and CI.
//!
//! ```toml
//! default = "local"
//!
//! [profiles.local]
//! url = "http://127.0.0.1:8787"
//! admin_key = "…"
//!
//! [profiles.acme-ci]            # an admin client instead of the root key
//! url = "https://auth.example.com"
//! client_id = "acme-ci"
//! client_secret = "…"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Failure, Outcome};
use crate::files;

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "default";

/// How a profile authenticates to the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum AdminAuth {
    /// The root `ADMIN_API_KEY`.
    Key {
        /// The key.
        admin_key: String,
    },
    /// An admin client: tokens with `aud` = `<issuer>/admin`.
    Client {
        /// Its id.
        client_id: String,
        /// Its secret.
        client_secret: String,
    },
}

/// One deployment and its admin credentials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// The deployment's URL (its issuer, or where it is served).
    pub url: String,
    /// The admin credentials.
    #[serde(flatten)]
    pub auth: AdminAuth,
}

/// The whole configuration file.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Config {
    /// The profile used without `--profile`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// Every profile, by name.
    #[serde(default)]
    pub profiles: BTreeMap<String, Profile>,
}

/// The configuration file's path.
pub fn path() -> Outcome<PathBuf> {
    Ok(files::config_dir()?.join("config.toml"))
}

impl Config {
    /// Read the file; a missing file is an empty configuration.
    pub fn load() -> Outcome<Config> {
        let path = path()?;
        match std::fs::read_to_string(&path) {
            Ok(text) => toml::from_str(&text)
                .map_err(|e| Failure::other(format!("{} is not a valid configuration: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Config::default()),
            Err(e) => Err(Failure::other(format!("cannot read {}: {e}", path.display()))),
        }
    }

    /// Write the file, owner-only.
    pub fn save(&self) -> Outcome {
        let text = toml::to_string(self).map_err(|e| Failure::other(format!("cannot write the configuration: {e}")))?;
        files::write_private(&path()?, text.as_bytes())
    }

    /// The name `--profile` or `M2M_EDGE_PROFILE` chose, else the default.
    pub fn chosen_name(&self, asked: Option<&str>) -> String {
        asked.map(str::to_string).or_else(|| self.default.clone()).unwrap_or_else(|| DEFAULT_PROFILE.to_string())
    }
}

/// What the admin commands use: the chosen profile with the environment's
/// overrides (`M2M_EDGE_URL`, `M2M_EDGE_ADMIN_KEY`) applied. With both
/// variables set no profile is needed at all.
pub fn resolve(asked: Option<&str>, url: Option<&str>, admin_key: Option<&str>) -> Outcome<Profile> {
    let config = Config::load()?;
    let name = config.chosen_name(asked);
    let stored = config.profiles.get(&name).cloned();
    let url = url.map(str::to_string).or_else(|| stored.as_ref().map(|p| p.url.clone()));
    let auth = admin_key
        .map(|k| AdminAuth::Key { admin_key: k.to_string() })
        .or_else(|| stored.as_ref().map(|p| p.auth.clone()));
    match (url, auth) {
        (Some(url), Some(auth)) => Ok(Profile { url, auth }),
        _ => Err(Failure::other(format!(
            "no profile `{name}`: run `m2m-edge login --url <deployment> --admin-key <key>` (or set M2M_EDGE_URL and M2M_EDGE_ADMIN_KEY)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_kinds_of_profile_round_trip_through_toml() {
        let mut config = Config { default: Some("ci".into()), ..Config::default() };
        config.profiles.insert(
            "local".into(),
            Profile { url: "http://127.0.0.1:8787".into(), auth: AdminAuth::Key { admin_key: "k".into() } },
        );
        config.profiles.insert(
            "ci".into(),
            Profile {
                url: "https://auth.example.com".into(),
                auth: AdminAuth::Client { client_id: "acme-ci".into(), client_secret: "s".into() },
            },
        );
        let text = toml::to_string(&config).unwrap();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back.profiles, config.profiles);
        assert_eq!(back.chosen_name(None), "ci");
        assert_eq!(back.chosen_name(Some("local")), "local");
    }
}
