//! The installation's audit key: 32 random bytes that every row's MAC is made with
//! (`chain.rs`). It lives in a file of its own, mode 0600, created at first use beside the
//! trail unless `--audit-key FILE` (`LIVECHAT_MCP_AUDIT_KEY_FILE`) names one; servers that
//! share one PostgreSQL trail must share one key. Someone who can edit the database but not
//! read this file cannot write rows that verify.

use std::io::Write;
use std::path::{Path, PathBuf};

use rand::RngCore;

/// The key's bytes, never printed (`Debug` shows only where it came from).
#[derive(Clone)]
pub struct AuditKey {
    bytes: [u8; 32],
    path: PathBuf,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditKey")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl AuditKey {
    /// A key from known bytes, for tests.
    #[cfg(test)]
    pub(super) fn from_bytes(bytes: [u8; 32]) -> AuditKey {
        AuditKey {
            bytes,
            path: PathBuf::from("(test key)"),
        }
    }

    /// Reads the key file at `path`: one line of 64 hex digits. `Ok(None)` when there is no
    /// such file.
    pub(super) fn load(path: &Path) -> Result<Option<AuditKey>, String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(format!(
                    "audit: cannot read the audit key `{}`: {e}",
                    path.display()
                ));
            }
        };
        warn_if_readable_by_others(path);
        let hex = text.trim();
        let mut bytes = [0u8; 32];
        let valid = hex.len() == 64
            && hex.is_ascii()
            && bytes.iter_mut().enumerate().all(|(i, byte)| {
                u8::from_str_radix(&hex[2 * i..2 * i + 2], 16)
                    .map(|b| *byte = b)
                    .is_ok()
            });
        if !valid {
            return Err(format!(
                "audit: the audit key `{}` is not 64 hex digits (contents not shown); restore the installation's key file",
                path.display()
            ));
        }
        Ok(Some(AuditKey {
            bytes,
            path: path.to_path_buf(),
        }))
    }

    /// Reads the key file at `path`, or creates it (32 random bytes, mode 0600) if there is
    /// none. Creation is atomic: two servers starting together end up with one key.
    pub(super) fn load_or_create(path: &Path) -> Result<(AuditKey, bool), String> {
        if let Some(key) = AuditKey::load(path)? {
            return Ok((key, false));
        }
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        let cannot = |e: std::io::Error| {
            format!(
                "audit: cannot create the audit key `{}`: {e}",
                path.display()
            )
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(cannot)?;
        }
        // Written whole under a temporary name, then linked to its name: `hard_link` fails if
        // the name exists, so a key another server created meanwhile is kept, never torn.
        let temp = temporary_beside(path);
        let written = (|| {
            let mut file = private_file(&temp)?;
            file.write_all(format!("{}\n", crate::digest::hex(&bytes)).as_bytes())?;
            file.sync_all()?;
            std::fs::hard_link(&temp, path)
        })();
        let _ = std::fs::remove_file(&temp);
        match written {
            Ok(()) => Ok((
                AuditKey {
                    bytes,
                    path: path.to_path_buf(),
                },
                true,
            )),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let key = AuditKey::load(path)?
                    .ok_or_else(|| format!("audit: the audit key `{}` vanished", path.display()))?;
                Ok((key, false))
            }
            Err(e) => Err(cannot(e)),
        }
    }

    /// HMAC-SHA-256 hex of `parts`, one after the other.
    pub(super) fn mac(&self, parts: &[&[u8]]) -> String {
        crate::digest::hmac_sha256_hex(&self.bytes, parts)
    }

    /// A key for another use, derived from this one so that one secret file guards both
    /// and neither use can stand in for the other: HMAC-SHA-256(key, `purpose`).
    pub(super) fn derive(&self, purpose: &str) -> [u8; 32] {
        let hex = self.mac(&[purpose.as_bytes()]);
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0);
        }
        out
    }
}

/// A name in `path`'s directory for writing a file before it takes `path`'s name.
fn temporary_beside(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(
        ".{name}.{}.{:08x}.tmp",
        std::process::id(),
        rand::rng().next_u32()
    ))
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(unix)]
fn warn_if_readable_by_others(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(meta) = std::fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(
            "the audit key `{}` can be read by others than its owner; `chmod 600` it",
            path.display()
        );
    }
}

#[cfg(not(unix))]
fn warn_if_readable_by_others(_: &Path) {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_once_private_and_read_back() {
        let dir = std::env::temp_dir().join(format!(
            "livechat-mcp-key-{}-{}",
            std::process::id(),
            rand::rng().next_u32()
        ));
        let path = dir.join("sub").join("audit.key");
        let (key, created) = AuditKey::load_or_create(&path).expect("create");
        assert!(created);
        let (again, created) = AuditKey::load_or_create(&path).expect("load");
        assert!(!created);
        assert_eq!(key.mac(&[b"x"]), again.mac(&[b"x"]));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert!(!format!("{key:?}").contains(&crate::digest::hex(&key.bytes)));
        std::fs::write(&path, "not a key\n").expect("write");
        let err = AuditKey::load(&path).expect_err("garbage");
        assert!(
            err.contains("64 hex digits") && !err.contains("not a key"),
            "{err}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
