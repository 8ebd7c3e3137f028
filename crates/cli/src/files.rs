//! Where the CLI keeps its files, and how it writes them: owner-only
//! (0600), written whole to a temporary file and renamed, so a reader never
//! sees half a file and no other user can read a secret.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Failure, Outcome};

/// `$M2M_EDGE_CONFIG_DIR`, else the user's configuration directory
/// (`~/.config/m2m-edge` on Linux).
pub fn config_dir() -> Outcome<PathBuf> {
    dir("M2M_EDGE_CONFIG_DIR", dirs::config_dir())
}

/// `$M2M_EDGE_CACHE_DIR`, else the user's cache directory
/// (`~/.cache/m2m-edge` on Linux).
pub fn cache_dir() -> Outcome<PathBuf> {
    dir("M2M_EDGE_CACHE_DIR", dirs::cache_dir())
}

fn dir(variable: &str, platform: Option<PathBuf>) -> Outcome<PathBuf> {
    match std::env::var_os(variable).filter(|v| !v.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir)),
        None => platform
            .map(|d| d.join("m2m-edge"))
            .ok_or_else(|| Failure::other(format!("no home directory: set {variable}"))),
    }
}

/// Whether `path` may be written: it does not exist, or `force` says so.
pub fn check_overwrite(path: &Path, force: bool) -> Outcome {
    if path.exists() && !force {
        return Err(Failure::other(format!("{} exists; pass --force to overwrite it", path.display())));
    }
    Ok(())
}

/// Write `bytes` to `path`, readable and writable by the owner only.
pub fn write_private(path: &Path, bytes: &[u8]) -> Outcome {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&parent).map_err(|e| Failure::other(format!("cannot create {}: {e}", parent.display())))?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let temporary = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = (|| -> std::io::Result<()> {
        let mut options = OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&temporary)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temporary, path)
    })();
    written.map_err(|e| {
        let _ = fs::remove_file(&temporary);
        Failure::other(format!("cannot write {}: {e}", path.display()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(unix)]
    fn private_files_are_owner_only_and_replaced_whole() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/secret.json");
        write_private(&path, b"one").unwrap();
        write_private(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(path.parent().unwrap()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn overwriting_needs_force() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("creds.json");
        check_overwrite(&path, false).unwrap();
        fs::write(&path, "x").unwrap();
        assert!(check_overwrite(&path, false).unwrap_err().message.contains("--force"));
        check_overwrite(&path, true).unwrap();
    }
}
