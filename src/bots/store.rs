//! Where each agent's bot is kept: a JSON file of mode 0600 beside the installation's audit
//! key, one entry per agent with the bot's ID and its secret sealed (ChaCha20-Poly1305) under a
//! key derived from the audit key. Someone who can read the file but not the key learns
//! which bots exist, never a secret. The file is replaced whole (written aside, synced,
//! renamed), so a crash leaves the old file or the new one, never half of either.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use serde::{Deserialize, Serialize};

use crate::config::Secret;

/// What the sealing key is derived for; changing it would orphan every stored secret.
pub const PURPOSE: &str = "livechat-mcp bot secrets v1";

const FORMAT: &str = "livechat-mcp bots v1";

/// The file's name beside the audit key `key_path`: `audit.db.key` → `audit.db.bots`.
pub fn path_beside(key_path: &Path) -> PathBuf {
    key_path.with_extension("bots")
}

/// Why the store could not be read or written. Never holds a secret.
#[derive(Debug, PartialEq, Eq)]
pub enum StoreError {
    Io {
        path: PathBuf,
        detail: String,
    },
    Corrupt {
        path: PathBuf,
        detail: String,
    },
    /// A secret that does not open under this installation's key: the file came from another
    /// installation, or the key was replaced.
    WrongKey {
        path: PathBuf,
        agent: String,
    },
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Io { path, detail } => {
                write!(f, "bots: cannot use `{}`: {detail}", path.display())
            }
            StoreError::Corrupt { path, detail } => write!(
                f,
                "bots: `{}` is not a bot file this livechat-mcp wrote ({detail}); restore it, or move it aside and run `livechat-mcp bots provision` again",
                path.display()
            ),
            StoreError::WrongKey { path, agent } => write!(
                f,
                "bots: the secret of agent `{agent}` in `{}` does not open with this installation's audit key (another installation's file, or a replaced key); run `livechat-mcp bots rotate {agent}` to give the bot a new secret",
                path.display()
            ),
        }
    }
}

impl std::error::Error for StoreError {}

/// One agent's bot, with its secret open.
#[derive(Clone, Debug)]
pub struct StoredBot {
    pub agent: String,
    pub bot_id: String,
    pub secret: Secret,
    /// The client ID the bot was made for (`owner_client_id`): tokens are issued for it.
    pub client_id: String,
    /// When the bot was created or last given a new secret (RFC 3339).
    pub since: String,
}

#[derive(Serialize, Deserialize)]
struct FileForm {
    format: String,
    bots: Vec<EntryForm>,
}

#[derive(Serialize, Deserialize)]
struct EntryForm {
    agent: String,
    bot_id: String,
    client_id: String,
    /// base64 of a 12-byte nonce followed by the sealed secret and its tag.
    sealed_secret: String,
    since: String,
}

/// The bots of one installation.
pub struct BotStore {
    path: PathBuf,
    key: LessSafeKey,
    bots: BTreeMap<String, StoredBot>,
}

impl std::fmt::Debug for BotStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotStore")
            .field("path", &self.path)
            .field("agents", &self.bots.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl BotStore {
    /// The bot file of the installation whose audit key is at `key_path`: beside the key, and
    /// sealed with a key derived from it.
    pub fn beside_key(key_path: &Path) -> Result<BotStore, String> {
        let key = crate::audit::derived_key(key_path, PURPOSE)?;
        BotStore::open(&path_beside(key_path), key).map_err(|e| e.to_string())
    }

    /// Opens the file at `path` (empty when there is none) with the sealing key `key`.
    pub fn open(path: &Path, key: [u8; 32]) -> Result<BotStore, StoreError> {
        let key = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &key).expect("a 32-byte ChaCha20-Poly1305 key"),
        );
        let mut store = BotStore {
            path: path.to_path_buf(),
            key,
            bots: BTreeMap::new(),
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(store),
            Err(e) => return Err(store.io(e)),
        };
        let corrupt = |detail: String| StoreError::Corrupt {
            path: path.to_path_buf(),
            detail,
        };
        let form: FileForm = serde_json::from_str(&text).map_err(|e| corrupt(e.to_string()))?;
        if form.format != FORMAT {
            return Err(corrupt(format!("format `{}`", form.format)));
        }
        for entry in form.bots {
            let secret = store.open_secret(&entry)?;
            store.bots.insert(
                entry.agent.clone(),
                StoredBot {
                    agent: entry.agent,
                    bot_id: entry.bot_id,
                    secret,
                    client_id: entry.client_id,
                    since: entry.since,
                },
            );
        }
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn get(&self, agent: &str) -> Option<&StoredBot> {
        self.bots.get(agent)
    }

    pub fn all(&self) -> impl Iterator<Item = &StoredBot> {
        self.bots.values()
    }

    /// Records `bot` (replacing the agent's entry) and writes the file at once.
    pub fn put(&mut self, bot: StoredBot) -> Result<(), StoreError> {
        let previous = self.bots.insert(bot.agent.clone(), bot.clone());
        if let Err(e) = self.save() {
            // The file is unchanged, so the map must be too.
            match previous {
                Some(previous) => self.bots.insert(bot.agent.clone(), previous),
                None => self.bots.remove(&bot.agent),
            };
            return Err(e);
        }
        Ok(())
    }

    fn io(&self, e: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            detail: e.to_string(),
        }
    }

    /// The agent and bot are bound in as associated data, so a sealed secret copied to another
    /// entry does not open.
    fn aad(agent: &str, bot_id: &str) -> Vec<u8> {
        format!("{agent}\u{0}{bot_id}").into_bytes()
    }

    fn seal(&self, bot: &StoredBot) -> String {
        let mut nonce = [0u8; 12];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut nonce);
        let mut sealed = bot.secret.expose().as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(&bot.agent, &bot.bot_id)),
                &mut sealed,
            )
            .expect("sealing fits in memory");
        let mut out = nonce.to_vec();
        out.extend(sealed);
        base64::engine::general_purpose::STANDARD.encode(out)
    }

    fn open_secret(&self, entry: &EntryForm) -> Result<Secret, StoreError> {
        let wrong = || StoreError::WrongKey {
            path: self.path.clone(),
            agent: entry.agent.clone(),
        };
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&entry.sealed_secret)
            .map_err(|_| wrong())?;
        if bytes.len() < 12 + aead::MAX_TAG_LEN {
            return Err(wrong());
        }
        let mut nonce = [0u8; 12];
        nonce.copy_from_slice(&bytes[..12]);
        let opened = self
            .key
            .open_in_place(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(Self::aad(&entry.agent, &entry.bot_id)),
                &mut bytes[12..],
            )
            .map_err(|_| wrong())?;
        let text = String::from_utf8(opened.to_vec()).map_err(|_| wrong())?;
        Ok(Secret::new(text))
    }

    /// Writes the whole file under a temporary name (mode 0600), syncs it, and renames it
    /// over the old one.
    fn save(&self) -> Result<(), StoreError> {
        let form = FileForm {
            format: FORMAT.to_string(),
            bots: self
                .bots
                .values()
                .map(|bot| EntryForm {
                    agent: bot.agent.clone(),
                    bot_id: bot.bot_id.clone(),
                    client_id: bot.client_id.clone(),
                    sealed_secret: self.seal(bot),
                    since: bot.since.clone(),
                })
                .collect(),
        };
        let text = serde_json::to_string_pretty(&form).expect("the bot file is JSON");
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| self.io(e))?;
        }
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let temp = self
            .path
            .with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let written = (|| {
            let mut file = private_file(&temp)?;
            file.write_all(text.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            std::fs::rename(&temp, &self.path)?;
            if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::File::open(dir)?.sync_all()?;
            }
            Ok(())
        })();
        if written.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        written.map_err(|e| self.io(e))
    }
}

/// Where servers note when each agent's bot token expires (`bots list` shows it): beside the
/// bot file, `audit.db.bots-tokens`. Times only, never a token.
fn tokens_path(bots_path: &Path) -> PathBuf {
    bots_path.with_extension("bots-tokens")
}

/// Agent → when its last issued token expires (RFC 3339), as servers noted it; empty when
/// nothing was noted or the note cannot be read.
pub fn read_token_expiries(bots_path: &Path) -> BTreeMap<String, String> {
    std::fs::read_to_string(tokens_path(bots_path))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Notes that `agent`'s new token expires at `expires` (RFC 3339). Best effort: a note that
/// cannot be written is logged, and only `bots list` misses it.
pub fn note_token_expiry(bots_path: &Path, agent: &str, expires: &str) {
    let path = tokens_path(bots_path);
    let mut expiries = read_token_expiries(bots_path);
    expiries.insert(agent.to_string(), expires.to_string());
    let text = serde_json::to_string_pretty(&expiries).expect("a map of strings is JSON");
    let temp = path.with_extension(format!("bots-tokens.{}.tmp", std::process::id()));
    let written = (|| {
        let mut file = private_file(&temp)?;
        file.write_all(text.as_bytes())?;
        std::fs::rename(&temp, &path)
    })();
    if let Err(e) = written {
        let _ = std::fs::remove_file(&temp);
        tracing::warn!(
            "could not note the bot token's expiry in `{}`: {e}",
            path.display()
        );
    }
}

#[cfg(unix)]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn private_file(path: &Path) -> std::io::Result<std::fs::File> {
    let _ = std::fs::remove_file(path);
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bot(agent: &str, id: &str, secret: &str) -> StoredBot {
        StoredBot {
            agent: agent.to_string(),
            bot_id: id.to_string(),
            secret: Secret::new(secret),
            client_id: "client-1".to_string(),
            since: "2026-12-03T12:00:00Z".to_string(),
        }
    }

    fn temp_dir(label: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "lcmcp-bots-{label}-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn secrets_round_trip_sealed_and_the_file_is_private() {
        let dir = temp_dir("round");
        let path = dir.join("audit.db.bots");
        let mut store = BotStore::open(&path, [7; 32]).unwrap();
        store
            .put(bot("support", "b1", "s3cret-one-abcdef"))
            .unwrap();
        store.put(bot("triage", "b2", "s3cret-two-abcdef")).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("s3cret"), "secrets are sealed: {text}");
        assert!(text.contains("\"b1\"") && text.contains("\"support\""));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let again = BotStore::open(&path, [7; 32]).unwrap();
        assert_eq!(
            again.get("support").unwrap().secret.expose(),
            "s3cret-one-abcdef"
        );
        assert_eq!(again.get("triage").unwrap().bot_id, "b2");
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert_eq!(names.len(), 1);
    }

    #[test]
    fn another_key_or_a_moved_secret_does_not_open() {
        let dir = temp_dir("wrong");
        let path = dir.join("x.bots");
        let mut store = BotStore::open(&path, [1; 32]).unwrap();
        store.put(bot("support", "b1", "secret-abcdefgh")).unwrap();
        let err = BotStore::open(&path, [2; 32]).unwrap_err();
        assert!(matches!(err, StoreError::WrongKey { ref agent, .. } if agent == "support"));
        assert!(!err.to_string().contains("secret-abcdefgh"));
        // A sealed secret pasted under another bot ID fails too (the ID is bound in).
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("\"b1\"", "\"b9\"");
        std::fs::write(&path, text).unwrap();
        assert!(matches!(
            BotStore::open(&path, [1; 32]),
            Err(StoreError::WrongKey { .. })
        ));
    }

    #[test]
    fn a_broken_file_is_named_not_overwritten() {
        let dir = temp_dir("broken");
        let path = dir.join("x.bots");
        std::fs::write(&path, "{ not json").unwrap();
        let err = BotStore::open(&path, [1; 32]).unwrap_err();
        assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{ not json");
    }

    #[test]
    fn a_failed_write_changes_nothing() {
        let dir = temp_dir("fail");
        let mut store = BotStore::open(&dir.join("sub").join("x.bots"), [1; 32]).unwrap();
        // The file's directory turns out to be a file: nothing can be written there.
        std::fs::write(dir.join("sub"), "").unwrap();
        assert!(store.put(bot("support", "b1", "secret-abcdefgh")).is_err());
        assert!(store.get("support").is_none());
    }
}
