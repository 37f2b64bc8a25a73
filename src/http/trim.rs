//! Gives the heap that sleeping sessions freed back to the system.
//!
//! A session put to sleep frees some 50 KB (rmcp's tasks, channels and caches), but glibc's
//! allocator keeps freed memory in its arenas: the RSS of a server whose sessions went to sleep
//! stays at its peak, and only later allocations reuse it. `malloc_trim` returns the free pages
//! of every arena. Measured with `session_memory` (2,000 sessions, 32 agents, after they
//! sleep): 70.8 KB of RSS per session without it, 21.1 KB with it.
//!
//! One trim follows a burst of sleeps: the first sleep schedules it [`SETTLE`] later (rmcp's
//! tasks end after their session is closed), and the sleeps until then share it.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long after a session is put to sleep its memory is given back.
const SETTLE: Duration = Duration::from_secs(1);

/// A trim is scheduled and has not run yet.
static SCHEDULED: AtomicBool = AtomicBool::new(false);

/// Schedules a trim, unless one is scheduled already. Needs a tokio runtime.
pub(super) fn after_sleep() {
    if SCHEDULED.swap(true, Ordering::AcqRel) {
        return;
    }
    tokio::spawn(async {
        tokio::time::sleep(SETTLE).await;
        SCHEDULED.store(false, Ordering::Release);
        // It walks every arena under its lock: not on a runtime thread.
        let _ = tokio::task::spawn_blocking(release).await;
    });
}

/// Returns the allocator's free pages to the system; `true` when it released any.
fn release() -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        // SAFETY: `malloc_trim` takes no pointers and only walks glibc's own arenas, under
        // their locks; it is safe to call from any thread at any time.
        unsafe { libc::malloc_trim(0) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        // musl (the container's build) and other allocators return memory on their own.
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_memory_is_given_back() {
        // Blocks under the mmap threshold, freed below a block still in use (so the allocator
        // does not trim them on its own), stay mapped until trimmed.
        let blocks: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; 64 * 1024]).collect();
        let keep = std::hint::black_box(vec![1u8; 64]);
        drop(blocks);
        let released = release();
        #[cfg(all(target_os = "linux", target_env = "gnu"))]
        assert!(released, "16 MiB was freed, and nothing was released");
        #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
        assert!(!released);
        drop(keep);
    }
}
