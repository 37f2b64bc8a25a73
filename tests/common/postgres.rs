//! A throwaway PostgreSQL server for tests, from the binaries of Debian's `postgresql`
//! package (`/usr/lib/postgresql/*/bin/`) or PATH: `initdb` into a temp dir, started on a
//! free port on 127.0.0.1 only (its Unix socket in the temp dir too), trust authentication,
//! stopped and removed when the guard drops — on a failed assertion too. As root it runs as
//! the `postgres` user (`runuser`), since PostgreSQL refuses to run as root.
//!
//! Use it with `#[path = "common/postgres.rs"] mod postgres;` and
//! `let Some(pg) = postgres::Postgres::start() else { return };`: without the package it
//! says so loudly (past the test harness's capture) and the test returns.

#![allow(dead_code)]

use std::io::Write as _;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};

/// A running server; stopped and its directory removed on drop.
pub struct Postgres {
    bin: PathBuf,
    root: PathBuf,
    port: u16,
    /// `Some("postgres")` when the tests run as root.
    run_as: Option<&'static str>,
}

impl Postgres {
    /// Starts a server, or returns `None` after printing a SKIPPED line when PostgreSQL is not
    /// installed. Panics if it is installed but does not start.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = find_bin() else {
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: PostgreSQL (initdb) not installed — `apt-get install postgresql` to run this test ***\n"
            );
            return None;
        };
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // Short: the socket path (`<root>/.s.PGSQL.<port>`) must fit in 107 bytes.
        let root = std::env::temp_dir().join(format!(
            "livechat-mcp-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("create the server's temp dir");
        let run_as = is_root().then_some("postgres");
        // From here on the guard stops the server and removes the directory, whatever happens.
        let mut server = Postgres {
            bin,
            root,
            port: 0,
            run_as,
        };
        if let Some(user) = run_as {
            let chown = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(&server.root)
                .output()
                .expect("run chown");
            assert!(
                chown.status.success(),
                "cannot give {} to {user} (is the `postgres` user there?): {}",
                server.root.display(),
                String::from_utf8_lossy(&chown.stderr)
            );
        }
        let data = server.data();
        let initdb = server.run(
            "initdb",
            &[
                "-D",
                path_str(&data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--no-sync",
            ],
        );
        assert!(initdb.status.success(), "initdb failed: {}", text(&initdb));
        let log = server.root.join("server.log");
        let mut last = String::new();
        for _ in 0..5 {
            server.port = free_port();
            let options = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50",
                server.port,
                server.root.display()
            );
            let started = server.run(
                "pg_ctl",
                &[
                    "-D",
                    path_str(&data),
                    "-l",
                    path_str(&log),
                    "-o",
                    &options,
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
            );
            if started.status.success() {
                return Some(server);
            }
            // Most likely the port was taken between choosing it and binding it: try another.
            last = format!(
                "{}\n{}",
                text(&started),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        panic!("PostgreSQL did not start: {last}");
    }

    /// The port the server listens on, on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Creates the database `name` and returns its URL (user `postgres`, no password: the
    /// server trusts every local connection).
    pub fn create_db(&self, name: &str) -> String {
        let port = self.port.to_string();
        let created = self.run(
            "createdb",
            &["-h", "127.0.0.1", "-p", &port, "-U", "postgres", name],
        );
        assert!(created.status.success(), "createdb: {}", text(&created));
        self.url(name)
    }

    /// The URL of the database `name`.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    fn data(&self) -> PathBuf {
        self.root.join("data")
    }

    /// Runs one of the server's programs, as `postgres` when we are root.
    fn run(&self, program: &str, args: &[&str]) -> Output {
        let program = self.bin.join(program);
        let mut command = match self.run_as {
            Some(user) => {
                let mut command = Command::new(runuser());
                command.args(["-u", user, "--"]).arg(&program);
                command
            }
            None => Command::new(&program),
        };
        command
            .args(args)
            // A directory the server's user can read: the tests' own may not be.
            .current_dir(&self.root)
            .env("LC_ALL", "C")
            .env_remove("PGDATA")
            .env_remove("PGHOST")
            .env_remove("PGPORT")
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let data = self.data();
            let stopped = self.run(
                "pg_ctl",
                &["-D", path_str(&data), "-m", "immediate", "-w", "stop"],
            );
            if !stopped.status.success() {
                let _ = writeln!(
                    std::io::stderr(),
                    "warning: the test PostgreSQL did not stop: {}",
                    text(&stopped)
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

/// The directory holding `initdb`, `pg_ctl` and `createdb`: PATH first, then the newest
/// `/usr/lib/postgresql/<version>/bin`.
fn find_bin() -> Option<PathBuf> {
    let has_all = |dir: &Path| {
        ["initdb", "pg_ctl", "createdb"]
            .iter()
            .all(|p| dir.join(p).is_file())
    };
    if let Some(dir) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .find(|dir| has_all(dir))
    {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .filter(|(_, bin)| has_all(bin))
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin)
}

/// `runuser`, from PATH or util-linux's usual place (`/usr/sbin` may not be on PATH).
fn runuser() -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")])
        .map(|dir| dir.join("runuser"))
        .find(|path| path.is_file())
        .unwrap_or_else(|| PathBuf::from("runuser"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port on 127.0.0.1")
}

fn path_str(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}
