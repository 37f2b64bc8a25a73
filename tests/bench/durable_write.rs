//! The durable-write floor the benchmarks measure the audit against, in the same run: one
//! 128-byte append to a file followed by `fdatasync`, the cheapest write that survives a power
//! cut.

use std::{
    io::Write as _,
    path::Path,
    time::{Duration, Instant},
};

/// `n` such writes to a new file in `dir` (removed after), each timed; in the order made.
pub fn durable_writes(dir: &Path, n: usize) -> std::io::Result<Vec<Duration>> {
    let path = dir.join("durable-write-floor");
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)?;
    let line = [b'x'; 128];
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let began = Instant::now();
        file.write_all(&line)?;
        file.sync_data()?;
        times.push(began.elapsed());
    }
    drop(file);
    let _ = std::fs::remove_file(&path);
    Ok(times)
}
