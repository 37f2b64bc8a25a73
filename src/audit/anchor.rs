//! The anchor: how many rows the trail had, and the MAC of the last, as of an append. It is
//! kept apart from the table (by default a small file beside the trail, `--audit-anchor FILE`)
//! and overwritten in place after every append, so that deleting rows from the end, emptying
//! the table or swapping the database shows at `audit verify`. `audit anchor` prints it as
//! one line to keep elsewhere; `audit verify --anchor LINE` checks against such a copy.
//!
//! An anchor is a lower bound: the trail must have its row, with its MAC, and may have more.
//! So servers sharing a trail, each writing its own anchor, never contradict one another.

use std::path::Path;

/// The words an anchor line starts with.
const PREFIX: &str = "livechat-mcp-audit-anchor";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    /// Rows the trail had: the id of the last (0, with 64 zeros, for a new trail).
    pub rows: u64,
    /// That row's MAC.
    pub mac: String,
}

impl std::fmt::Display for Anchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{PREFIX} rows={} mac={}", self.rows, self.mac)
    }
}

impl std::str::FromStr for Anchor {
    type Err = String;

    fn from_str(line: &str) -> Result<Anchor, String> {
        let bad = || {
            format!(
                "not an anchor line: expected `{PREFIX} rows=N mac=HEX`, as `livechat-mcp audit anchor` prints it"
            )
        };
        let mut words = line.split_whitespace();
        if words.next() != Some(PREFIX) {
            return Err(bad());
        }
        let rows = words
            .next()
            .and_then(|w| w.strip_prefix("rows="))
            .and_then(|n| n.parse::<u64>().ok())
            .ok_or_else(bad)?;
        let mac = words
            .next()
            .and_then(|w| w.strip_prefix("mac="))
            .filter(|m| m.len() == 64 && m.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or_else(bad)?
            .to_ascii_lowercase();
        if words.next().is_some() || (rows == 0 && mac != super::chain::GENESIS) {
            return Err(bad());
        }
        Ok(Anchor { rows, mac })
    }
}

impl Anchor {
    /// The anchor in the file at `path`; `Ok(None)` when there is no file, or an empty one
    /// (another process making it this moment: it creates the file, then writes the line).
    /// An emptied file thus counts as a missing one, which a trail with rows refuses.
    pub(super) fn read(path: &Path) -> Result<Option<Anchor>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) if text.is_empty() => Ok(None),
            Ok(text) => text
                .trim()
                .parse()
                .map(Some)
                .map_err(|e| format!("audit: the anchor file `{}` is {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!(
                "audit: cannot read the anchor file `{}`: {e}",
                path.display()
            )),
        }
    }

    /// Writes this anchor into the file at `path`, creating it if needed (see
    /// [`Anchor::write_to`]).
    pub(super) fn write(&self, path: &Path) -> Result<(), String> {
        open(path)
            .and_then(|file| self.write_to(&file))
            .map_err(|e| cannot_write(path, &e))
    }

    /// Writes this anchor over the anchor in `file`, in place: one write of a fixed
    /// [`WIDTH`] bytes at offset 0, so a reader (or a `kill -9`) sees the old anchor or the
    /// new one, never half, and every writer (in any process) writes the same file. Replacing
    /// the file by renaming would be as atomic but several times slower, and a process holding
    /// the old file open would go on writing to a file nobody reads.
    pub(super) fn write_to(&self, file: &std::fs::File) -> std::io::Result<()> {
        let mut line = self.to_string().into_bytes();
        line.resize(WIDTH - 1, b' ');
        line.push(b'\n');
        #[cfg(unix)]
        {
            use std::os::unix::fs::FileExt;
            file.write_all_at(&line, 0)
        }
        #[cfg(not(unix))]
        {
            use std::io::{Seek, SeekFrom};
            let mut file = file;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(&line)
        }
    }
}

/// An anchor line takes this many bytes in its file, padded with spaces, so that a write of a
/// shorter line never leaves the end of a longer one behind.
const WIDTH: usize = 128;

/// The anchor file at `path`, opened for writing in place (created if missing, never cut).
pub(super) fn open(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

pub(super) fn cannot_write(path: &Path, e: &std::io::Error) -> String {
    format!(
        "audit: cannot write the anchor file `{}`: {e}",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_round_trip_and_nonsense_is_refused() {
        let anchor = Anchor {
            rows: 12,
            mac: "ab".repeat(32),
        };
        let line = anchor.to_string();
        assert_eq!(line.parse::<Anchor>(), Ok(anchor.clone()));
        // Written in place over a longer line, the file reads back as the new one.
        let path = std::env::temp_dir().join(format!("livechat-mcp-anchor-{}", std::process::id()));
        Anchor {
            rows: 123_456_789,
            mac: "cd".repeat(32),
        }
        .write(&path)
        .expect("write");
        anchor.write(&path).expect("overwrite");
        assert_eq!(Anchor::read(&path), Ok(Some(anchor.clone())));
        assert_eq!(
            std::fs::metadata(&path).map(|m| m.len()).ok(),
            Some(WIDTH as u64)
        );
        let _ = std::fs::remove_file(&path);
        for bad in [
            "",
            "rows=12",
            "livechat-mcp-audit-anchor rows=x mac=ab",
            &format!("livechat-mcp-audit-anchor rows=0 mac={}", "ab".repeat(32)),
            &format!("livechat-mcp-audit-anchor rows=1 mac={}", "z".repeat(64)),
            &format!("{line} extra"),
        ] {
            assert!(bad.parse::<Anchor>().is_err(), "{bad}");
        }
    }
}
