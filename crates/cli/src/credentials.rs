//! The credentials file (docs/credentials.md): everything a workload needs
//! to get tokens as one client, in one JSON document that SDKs and scripts
//! read — the id and secret, where to ask, and what it may ask for.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Failure, Outcome};
use crate::files;

/// The `type` every credentials file carries, so a tool can tell it from
/// other JSON.
pub const FILE_TYPE: &str = "m2m-edge/client-credentials";

/// One grant of the client: an audience and its scopes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The API (`aud`).
    pub audience: String,
    /// The scopes it may carry.
    pub scopes: Vec<String>,
}

/// A credentials file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Always [`FILE_TYPE`].
    #[serde(rename = "type")]
    pub file_type: String,
    /// The client.
    pub client_id: String,
    /// Its secret.
    pub client_secret: String,
    /// `client_credentials`, for libraries that take the grant from the file.
    pub grant_type: String,
    /// The issuer its tokens carry.
    pub issuer: String,
    /// Where to ask for tokens.
    pub token_endpoint: String,
    /// The audience to ask for when the client has exactly one grant.
    pub audience: Option<String>,
    /// Every grant.
    pub grants: Vec<Grant>,
    /// The client's project, if it has one.
    pub project_id: Option<String>,
}

impl Credentials {
    /// The file for a client the admin API just answered with: `client` is
    /// the client document, `secret` the secret to save (the new one after
    /// a rotation). The issuer and token endpoint come from the creation
    /// response or, after a rotation, from the deployment's metadata.
    pub fn from_client(client: &Value, secret: &str, issuer: &str, token_endpoint: &str) -> Outcome<Credentials> {
        let field = |name: &str| {
            client[name]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| Failure::other(format!("the deployment's answer has no `{name}`")))
        };
        let grants: Vec<Grant> = serde_json::from_value(client["grants"].clone())
            .map_err(|_| Failure::other("the deployment's answer has no `grants`"))?;
        Ok(Credentials {
            file_type: FILE_TYPE.to_string(),
            client_id: field("client_id")?,
            client_secret: secret.to_string(),
            grant_type: "client_credentials".to_string(),
            issuer: issuer.to_string(),
            token_endpoint: token_endpoint.to_string(),
            audience: match grants.as_slice() {
                [only] => Some(only.audience.clone()),
                _ => None,
            },
            grants,
            project_id: client["project_id"].as_str().map(str::to_string),
        })
    }

    /// Write the file, owner-only; an existing file only with `force`.
    pub fn save(&self, path: &Path, force: bool) -> Outcome {
        files::check_overwrite(path, force)?;
        let mut text = serde_json::to_string_pretty(self).map_err(|e| Failure::other(e.to_string()))?;
        text.push('\n');
        files::write_private(path, text.as_bytes())
    }

    /// Read a credentials file.
    pub fn load(path: &Path) -> Outcome<Credentials> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Failure::other(format!("cannot read {}: {e}", path.display())))?;
        let credentials: Credentials = serde_json::from_str(&text)
            .map_err(|e| Failure::other(format!("{} is not a credentials file: {e}", path.display())))?;
        if credentials.file_type != FILE_TYPE {
            return Err(Failure::other(format!("{} is not a credentials file (type `{FILE_TYPE}`)", path.display())));
        }
        Ok(credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn created() -> Value {
        json!({"client_id": "billing", "project_id": "acme", "client_secret": "old",
               "grants": [{"audience": "https://api.example.com", "scopes": ["read"]}]})
    }

    #[test]
    fn a_saved_file_reads_back_and_is_not_overwritten_without_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.json");
        let c = Credentials::from_client(&created(), "secret", "https://auth", "https://auth/oauth2/token").unwrap();
        assert_eq!(c.audience.as_deref(), Some("https://api.example.com"));
        assert_eq!(c.project_id.as_deref(), Some("acme"));
        c.save(&path, false).unwrap();
        assert_eq!(Credentials::load(&path).unwrap(), c);
        assert!(c.save(&path, false).is_err());
        c.save(&path, true).unwrap();
    }

    #[test]
    fn other_json_is_not_a_credentials_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.json");
        std::fs::write(&path, r#"{"client_id": "x"}"#).unwrap();
        assert!(Credentials::load(&path).is_err());
    }
}
