//! Which server process wrote a row, so that at start-up the rows a crashed process left
//! `pending` can be told from those of a process still running (and sharing the trail).
//!
//! A process is `PID.KEY`: its process id, for SQLite (whose WAL mode keeps every writer on
//! one machine, so the id can be looked up), and a random 63-bit key, for PostgreSQL, where
//! each server holds a shared advisory lock on it for as long as it is connected.

use std::sync::OnceLock;

use rand::RngCore;

/// This process, as written in the `instance` column.
#[derive(Debug)]
pub(super) struct Instance {
    pub(super) text: String,
    pub(super) key: i64,
}

/// This process: one for every trail handle it opens.
pub(super) fn this_process() -> &'static Instance {
    static THIS: OnceLock<Instance> = OnceLock::new();
    THIS.get_or_init(|| {
        let key = i64::try_from(rand::rng().next_u64() >> 1).unwrap_or(1);
        Instance {
            text: format!("{}.{key:016x}", std::process::id()),
            key,
        }
    })
}

/// The process id and key of an `instance` value, if it is one.
pub(super) fn parse(text: &str) -> Option<(u32, i64)> {
    let (pid, key) = text.split_once('.')?;
    Some((pid.parse().ok()?, i64::from_str_radix(key, 16).ok()?))
}

/// Whether the process `pid` of another instance on this machine is certainly gone: no such
/// process, or the id is this process's own (a restarted container reuses its ids). `false`
/// when it cannot be told (no `/proc`).
pub(super) fn process_gone(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = std::path::Path::new("/proc");
    proc.join("self").exists() && !proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_reads_back() {
        let this = this_process();
        assert_eq!(parse(&this.text), Some((std::process::id(), this.key)));
        assert!(this.key >= 0);
        assert_eq!(parse("nonsense"), None);
        assert!(
            process_gone(std::process::id()),
            "another instance with our id"
        );
        #[cfg(target_os = "linux")]
        {
            assert!(!process_gone(1), "init is running");
            assert!(process_gone(u32::MAX - 7));
        }
    }
}
