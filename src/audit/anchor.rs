//! The anchor: how many rows the trail had, and the MAC of the last, as of an append. It is
//! kept apart from the table (by default a small file beside the trail, `--audit-anchor FILE`)
//! and replaced atomically after every append, so that deleting rows from the end, emptying
//! the table or swapping the database shows at `audit verify`. `audit anchor` prints it as
//! one line to keep elsewhere; `audit verify --anchor LINE` checks against such a copy.
//!
//! An anchor is a lower bound: the trail must have its row, with its MAC, and may have more.
//! So servers sharing a trail, each writing its own anchor, never contradict one another.

use std::io::Write;
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
    /// The anchor in the file at `path`; `Ok(None)` when there is no file.
    pub(super) fn read(path: &Path) -> Result<Option<Anchor>, String> {
        match std::fs::read_to_string(path) {
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

    /// Replaces the file at `path` with this anchor: written under a temporary name, then
    /// renamed, so a reader (or a crash) sees the old anchor or the new one, never half.
    pub(super) fn write(&self, path: &Path) -> Result<(), String> {
        let temp = super::key::temporary_beside(path);
        let result = (|| {
            let mut file = std::fs::File::create(&temp)?;
            file.write_all(format!("{self}\n").as_bytes())?;
            std::fs::rename(&temp, path)
        })();
        if result.is_err() {
            let _ = std::fs::remove_file(&temp);
        }
        result.map_err(|e| {
            format!(
                "audit: cannot write the anchor file `{}`: {e}",
                path.display()
            )
        })
    }
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
        assert_eq!(line.parse::<Anchor>(), Ok(anchor));
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
