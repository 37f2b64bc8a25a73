//! The policy file as a running server keeps it: the parsed [`Policy`] and its text, edits
//! saved atomically (a temporary file, fsync, rename, the old file kept as `…bak`), and the
//! file re-read when it changes on disk or on SIGHUP. Whoever serves agents subscribes to
//! the current policy and applies each new one at once.

use std::{
    io::Write as _,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::{Duration, SystemTime},
};

use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::Policy;

/// How often the file's size and modification time are compared with the loaded ones.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// A policy file and the policy it holds now. Clones share everything.
#[derive(Clone)]
pub struct PolicyFile {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    label: String,
    loaded: RwLock<Loaded>,
    /// One edit or reload at a time, so each starts from the file the last one left.
    writing: Mutex<()>,
    changes: watch::Sender<Arc<Policy>>,
    /// What the server using the file also requires of a policy (every agent keyed, …).
    check: RwLock<Option<Check>>,
}

/// A server's own test of a policy, beyond parsing: its refusal is the edit's.
pub type Check = Arc<dyn Fn(&Policy) -> Result<(), String> + Send + Sync>;

#[derive(Clone)]
struct Loaded {
    policy: Arc<Policy>,
    text: String,
    stamp: Option<Stamp>,
}

/// What the file looked like when it was read: a change of either means "read it again".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

/// Why an edit was not saved. The file is untouched in every case.
#[derive(Debug)]
pub enum EditError {
    /// The edit would make a policy that does not parse: the message is the one `serve`
    /// gives for the same file.
    Invalid(String),
    /// The edit itself could not be made (`no agent `x``).
    Refused(String),
    /// The file on disk changed and no longer parses; it must be mended first.
    DiskInvalid(String),
    /// Reading or writing the file failed.
    Io(String),
}

impl std::fmt::Display for EditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EditError::Invalid(why) | EditError::Refused(why) | EditError::Io(why) => {
                f.write_str(why)
            }
            EditError::DiskInvalid(why) => write!(
                f,
                "the policy file was changed on disk and is not valid now, so nothing was saved; mend it first: {why}"
            ),
        }
    }
}

impl std::error::Error for EditError {}

/// What an edit or a reload changed.
#[derive(Clone, Debug)]
pub struct Change {
    pub before: Arc<Policy>,
    pub after: Arc<Policy>,
}

impl PolicyFile {
    /// Reads and parses the file at `path`; errors are [`Policy::load`]'s.
    pub fn open(path: &Path) -> Result<PolicyFile, String> {
        let label = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("{label}: cannot read the policy file: {e}"))?;
        let policy = Arc::new(Policy::parse(&text, &label)?);
        let (changes, _) = watch::channel(policy.clone());
        Ok(PolicyFile {
            inner: Arc::new(Inner {
                path: path.to_path_buf(),
                label,
                loaded: RwLock::new(Loaded {
                    policy,
                    text,
                    stamp: stamp(path),
                }),
                writing: Mutex::new(()),
                changes,
                check: RwLock::new(None),
            }),
        })
    }

    /// From now on, an edit or reload whose policy `check` refuses is refused with its
    /// message, as one that does not parse is.
    pub fn set_check(&self, check: Check) {
        match self.inner.check.write() {
            Ok(mut slot) => *slot = Some(check),
            Err(poisoned) => *poisoned.into_inner() = Some(check),
        }
    }

    /// Parses `text` and applies the server's check.
    fn parse(&self, text: &str) -> Result<Policy, String> {
        let policy = Policy::parse(text, &self.inner.label)?;
        let check = match self.inner.check.read() {
            Ok(check) => check.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        };
        if let Some(check) = check {
            check(&policy).map_err(|why| format!("{}: {why}", self.inner.label))?;
        }
        Ok(policy)
    }

    /// The policy in force now.
    pub fn current(&self) -> Arc<Policy> {
        self.loaded().policy
    }

    /// The text of the policy in force now.
    pub fn text(&self) -> String {
        self.loaded().text
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// The file's name as errors give it.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// Every new policy, as it is saved or read.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Policy>> {
        self.inner.changes.subscribe()
    }

    fn loaded(&self) -> Loaded {
        match self.inner.loaded.read() {
            Ok(loaded) => loaded.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Applies `edit` to the file's TOML (comments and layout kept), checks the result the
    /// way `serve` would, and saves it atomically, the old file kept beside it as `…bak`.
    /// The edit starts from the file on disk, so a hand edit made since it was read is kept.
    /// Blocking: file I/O and fsync.
    pub fn edit(
        &self,
        edit: impl FnOnce(&mut toml_edit::DocumentMut) -> Result<(), String>,
    ) -> Result<Change, EditError> {
        let _writing = self.lock();
        let on_disk = std::fs::read_to_string(&self.inner.path)
            .map_err(|e| EditError::Io(format!("{}: cannot read: {e}", self.inner.label)))?;
        let before = self
            .adopt(on_disk.clone())
            .map_err(EditError::DiskInvalid)?;
        let mut doc: toml_edit::DocumentMut = on_disk
            .parse()
            .map_err(|e| EditError::DiskInvalid(format!("{}: {e}", self.inner.label)))?;
        edit(&mut doc).map_err(EditError::Refused)?;
        let text = doc.to_string();
        let after = Arc::new(self.parse(&text).map_err(EditError::Invalid)?);
        write_atomically(&self.inner.path, &on_disk, &text)
            .map_err(|e| EditError::Io(format!("{}: cannot save: {e}", self.inner.label)))?;
        self.install(after.clone(), text);
        Ok(Change { before, after })
    }

    /// Reads the file again if it changed: `Ok(Some(change))` when a new policy is in force,
    /// `Ok(None)` when the text is the same, and an error (the old policy kept) when the new
    /// text does not parse. Blocking.
    pub fn reload(&self) -> Result<Option<Change>, String> {
        let _writing = self.lock();
        let text = std::fs::read_to_string(&self.inner.path)
            .map_err(|e| format!("{}: cannot read the policy file: {e}", self.inner.label))?;
        let before = self.current();
        if text == self.loaded().text {
            self.set_stamp();
            return Ok(None);
        }
        let after = Arc::new(self.parse(&text)?);
        self.install(after.clone(), text);
        Ok(Some(Change { before, after }))
    }

    /// Whether the file's size or modification time differ from when it was last read.
    pub fn changed_on_disk(&self) -> bool {
        stamp(&self.inner.path) != self.loaded().stamp
    }

    /// Re-reads the file whenever it changes on disk (checked every [`POLL_EVERY`]) or the
    /// process gets SIGHUP, until `stop`; `applied` hears every new policy and `failed` every
    /// reload refused (the old policy stays in force).
    pub fn watch(
        &self,
        stop: CancellationToken,
        applied: impl Fn(&Change) + Send + 'static,
        failed: impl Fn(&str) + Send + 'static,
    ) -> tokio::task::JoinHandle<()> {
        let file = self.clone();
        tokio::spawn(async move {
            let mut hangup = hangups();
            let mut tick = tokio::time::interval(POLL_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                let forced = tokio::select! {
                    _ = stop.cancelled() => return,
                    _ = tick.tick() => false,
                    _ = next_hangup(&mut hangup) => true,
                };
                if !forced && !file.changed_on_disk() {
                    continue;
                }
                let reader = file.clone();
                match tokio::task::spawn_blocking(move || reader.reload()).await {
                    Ok(Ok(Some(change))) => applied(&change),
                    Ok(Ok(None)) => {}
                    Ok(Err(why)) => {
                        // Asked again only once the file changes again.
                        file.set_stamp();
                        failed(&why)
                    }
                    Err(_) => return,
                }
            }
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ()> {
        match self.inner.writing.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Takes `text` (the file as read now) as the policy in force, if it differs from the
    /// loaded one and parses; returns the policy in force.
    fn adopt(&self, text: String) -> Result<Arc<Policy>, String> {
        if text == self.loaded().text {
            return Ok(self.current());
        }
        let policy = Arc::new(self.parse(&text)?);
        self.install(policy.clone(), text);
        Ok(policy)
    }

    fn install(&self, policy: Arc<Policy>, text: String) {
        {
            let mut loaded = match self.inner.loaded.write() {
                Ok(loaded) => loaded,
                Err(poisoned) => poisoned.into_inner(),
            };
            *loaded = Loaded {
                policy: policy.clone(),
                text,
                stamp: stamp(&self.inner.path),
            };
        }
        self.inner.changes.send_replace(policy);
    }

    fn set_stamp(&self) {
        let mut loaded = match self.inner.loaded.write() {
            Ok(loaded) => loaded,
            Err(poisoned) => poisoned.into_inner(),
        };
        loaded.stamp = stamp(&self.inner.path);
    }
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        len: meta.len(),
        modified: meta.modified().ok(),
    })
}

/// `path.bak` for `path`: `team.toml` → `team.toml.bak`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".bak");
    path.with_file_name(name)
}

/// Writes `text` to `path` so that a crash leaves either the old file or the new one, never a
/// mix: the old text goes to `path.bak`, the new to a temporary file beside `path` that is
/// fsynced and renamed over it, and the directory is fsynced. The file keeps its permissions.
fn write_atomically(path: &Path, old: &str, text: &str) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let permissions = std::fs::metadata(path).ok().map(|m| m.permissions());
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    write_synced(&backup_path(path), old, permissions.clone())?;
    let temporary = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let written = write_synced(&temporary, text, permissions)
        .and_then(|()| std::fs::rename(&temporary, path));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&temporary);
        return Err(error);
    }
    std::fs::File::open(&dir)?.sync_all()
}

fn write_synced(
    path: &Path,
    text: &str,
    permissions: Option<std::fs::Permissions>,
) -> std::io::Result<()> {
    let mut file = std::fs::File::create(path)?;
    if let Some(permissions) = permissions {
        file.set_permissions(permissions)?;
    }
    file.write_all(text.as_bytes())?;
    file.sync_all()
}

#[cfg(unix)]
type Hangups = Option<tokio::signal::unix::Signal>;
#[cfg(not(unix))]
type Hangups = ();

#[cfg(unix)]
fn hangups() -> Hangups {
    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()).ok()
}
#[cfg(not(unix))]
fn hangups() -> Hangups {}

#[cfg(unix)]
async fn next_hangup(signal: &mut Hangups) {
    match signal {
        Some(signal) => {
            signal.recv().await;
        }
        None => std::future::pending().await,
    }
}
#[cfg(not(unix))]
async fn next_hangup(_: &mut Hangups) {
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str =
        "# the team\n[agents.ops]\naccess = { chats = \"read\" }   # keep this comment\n";

    fn file(text: &str) -> (tempdir::Dir, PolicyFile) {
        let dir = tempdir::Dir::new();
        let path = dir.path().join("team.toml");
        std::fs::write(&path, text).expect("write");
        let file = PolicyFile::open(&path).expect("opens");
        (dir, file)
    }

    mod tempdir {
        pub struct Dir(std::path::PathBuf);
        impl Dir {
            pub fn new() -> Dir {
                let path = std::env::temp_dir().join(format!(
                    "livechat-mcp-policy-file-{}-{}",
                    std::process::id(),
                    rand::random::<u64>()
                ));
                std::fs::create_dir_all(&path).expect("dir");
                Dir(path)
            }
            pub fn path(&self) -> &std::path::Path {
                &self.0
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }

    #[test]
    fn an_edit_is_saved_with_comments_kept_and_the_old_file_backed_up() {
        let (_dir, file) = file(GOOD);
        let mut heard = file.subscribe();
        let change = file
            .edit(|doc| {
                doc["agents"]["ops"]["access"]["chats"] = toml_edit::value("full");
                Ok(())
            })
            .expect("saved");
        let text = std::fs::read_to_string(file.path()).expect("read");
        assert!(text.contains("# keep this comment") && text.contains("# the team"));
        assert!(text.contains("chats = \"full\""), "{text}");
        assert_eq!(
            std::fs::read_to_string(backup_path(file.path())).expect("bak"),
            GOOD
        );
        assert_eq!(
            change
                .before
                .agent("ops")
                .expect("ops")
                .grants
                .level(crate::tools::Area::Chats),
            super::super::Level::Read
        );
        assert_eq!(file.current(), change.after);
        assert!(heard.has_changed().expect("open"));
        assert_eq!(*heard.borrow_and_update(), change.after);
        assert_eq!(file.text(), text);
    }

    #[test]
    fn an_edit_that_makes_an_invalid_policy_leaves_the_file_alone() {
        let (_dir, file) = file(GOOD);
        let error = file
            .edit(|doc| {
                doc["agents"]["ops"]["access"]["chats"] = toml_edit::value("write");
                Ok(())
            })
            .expect_err("refused");
        let EditError::Invalid(message) = &error else {
            panic!("{error:?}")
        };
        let direct = Policy::parse(
            &GOOD.replace("\"read\"", "\"write\""),
            &file.path().display().to_string(),
        )
        .expect_err("the same text is refused by the parser");
        assert_eq!(message, &direct, "the CLI's message, word for word");
        assert_eq!(std::fs::read_to_string(file.path()).expect("read"), GOOD);
        assert!(!backup_path(file.path()).exists());
        let refused = file.edit(|_| Err("no agent `x`".to_string()));
        assert!(matches!(refused, Err(EditError::Refused(m)) if m == "no agent `x`"));
        assert_eq!(std::fs::read_to_string(file.path()).expect("read"), GOOD);
    }

    #[test]
    fn an_edit_starts_from_a_hand_edit_made_since_the_file_was_read() {
        let (_dir, file) = file(GOOD);
        let by_hand = format!("{GOOD}[agents.audit]\naccess = {{ \"*\" = \"read\" }}\n");
        std::fs::write(file.path(), &by_hand).expect("hand edit");
        file.edit(|doc| {
            doc["agents"]["ops"]["access"]["events"] = toml_edit::value("read");
            Ok(())
        })
        .expect("saved");
        let policy = file.current();
        assert!(policy.agent("audit").is_some(), "the hand edit is kept");
        std::fs::write(file.path(), "[agents.ops\n").expect("broken by hand");
        let error = file.edit(|_| Ok(())).expect_err("refused");
        assert!(matches!(error, EditError::DiskInvalid(_)), "{error:?}");
        assert_eq!(file.current(), policy, "the last good policy stays");
    }

    #[test]
    fn a_reload_takes_a_new_valid_file_and_keeps_the_old_policy_over_a_broken_one() {
        let (_dir, file) = file(GOOD);
        assert!(file.reload().expect("same").is_none());
        std::fs::write(file.path(), GOOD.replace("read", "full")).expect("write");
        let change = file.reload().expect("reads").expect("changed");
        assert_ne!(change.before, change.after);
        std::fs::write(file.path(), "nonsense = 1\n").expect("write");
        let error = file.reload().expect_err("refused");
        assert!(error.contains("team.toml:1"), "{error}");
        assert_eq!(file.current(), change.after);
    }

    #[tokio::test]
    async fn the_watch_applies_a_change_on_disk() {
        let (_dir, file) = file(GOOD);
        let stop = CancellationToken::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let failures = tx.clone();
        let task = file.watch(
            stop.clone(),
            move |change| {
                let _ = tx.send(Ok(change.after.clone()));
            },
            move |why| {
                let _ = failures.send(Err(why.to_string()));
            },
        );
        // A different length, so the change shows even where mtimes are coarse.
        std::fs::write(file.path(), format!("{GOOD}\n# longer\n")).expect("write");
        let heard = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("heard in time")
            .expect("open");
        assert!(heard.is_ok(), "{heard:?}");
        std::fs::write(file.path(), "[agents.ops]\naccess = 3\n").expect("write");
        let heard = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("heard in time")
            .expect("open");
        assert!(heard.is_err_and(|why| why.contains("team.toml:2")));
        stop.cancel();
        task.await.expect("stops");
    }
}
