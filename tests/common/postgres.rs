//! A throwaway PostgreSQL server for tests: `initdb` in a temporary directory, `pg_ctl
//! start` on a free loopback port (its socket in that directory too), one database; stopped
//! and removed when dropped. PostgreSQL refuses to run as root, so as root (CI) every
//! server command runs as the `postgres` user that Debian's package creates, in a
//! directory it owns.
//!
//! Without PostgreSQL's binaries a test that asks for a server is skipped with a message on
//! a developer's machine, and fails in CI (`CI` set), where `.ci/run` installs them.
//! `GPTSWEEP_PG_BIN` names the folder of `initdb` and `pg_ctl` when they are elsewhere.
//!
//! Shared by the root tests (`mod common`) and the coordinator crate's tests (by path).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running server; stopped (immediately) and its files removed when dropped.
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    as_postgres: bool,
}

/// The folder holding `initdb` and `pg_ctl`: `GPTSWEEP_PG_BIN`, the newest
/// `/usr/lib/postgresql/*/bin` (Debian), or the PATH's.
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("GPTSWEEP_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let v = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((v, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    let which = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
        .ok()?;
    let path = String::from_utf8(which.stdout).ok()?;
    Path::new(path.trim()).parent().map(Path::to_path_buf)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// Starts a server with a database `gptsweep`; `None` (after saying so) when this
    /// machine has no PostgreSQL and this is not CI.
    pub fn start() -> Option<Self> {
        let Some(bin) = bin_dir() else {
            assert!(
                std::env::var_os("CI").is_none(),
                "PostgreSQL is not installed (no initdb): apt-get install -y postgresql, or set GPTSWEEP_PG_BIN"
            );
            eprintln!(
                "SKIPPED: PostgreSQL is not installed (no initdb); apt-get install -y postgresql to run this test"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("gptsweep-pg")
            .tempdir()
            .unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(ok.success(), "chown postgres {}", dir.path().display());
        }
        let pg = Self {
            dir,
            bin,
            port: free_port(),
            as_postgres,
        };
        pg.run(
            "initdb",
            &[
                "-D",
                &pg.data(),
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        let options = pg.options();
        let log = pg.dir.path().join("server.log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &pg.data(),
                "-o",
                &options,
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        pg.create_database("gptsweep");
        Some(pg)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// `program` of the server's folder, to run as `postgres` when root.
    fn command(&self, program: &str) -> Command {
        let exe = self.bin.join(program);
        let mut command = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&exe);
            c
        } else {
            Command::new(&exe)
        };
        command.current_dir(self.dir.path());
        command
    }

    /// Runs `program` with `args`; panics with its output and the server's log on failure.
    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().unwrap();
        let log = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}{}\nserver log:\n{log}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Restarts the server as an operator would (`pg_ctl restart -m fast`): every
    /// connection is cut, and the server answers again on the same port.
    pub fn restart(&self) {
        // With its log file named: else the new server would hold pg_ctl's output open.
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-l",
                &log.display().to_string(),
                "-m",
                "fast",
                "-w",
                "-t",
                "60",
                "restart",
            ],
        );
    }

    /// Stops the server (`pg_ctl stop -m fast`) until [`Postgres::start_again`].
    pub fn stop(&self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
    }

    /// Starts a server stopped by [`Postgres::stop`] again, with its first options.
    pub fn start_again(&self) {
        let log = self.dir.path().join("server.log");
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &self.options(),
                "-l",
                &log.display().to_string(),
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
    }

    /// The server's command-line options.
    fn options(&self) -> String {
        // Durability settings off: the tests kill coordinators, never this server.
        format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
            self.port,
            self.dir.path().display()
        )
    }

    /// Creates another empty database; answers its URL.
    pub fn create_database(&self, name: &str) -> String {
        self.run(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                &format!("CREATE DATABASE {name}"),
            ],
        );
        self.url(name)
    }

    /// The URL of database `name` on this server.
    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }

    /// The URL of the `gptsweep` database.
    pub fn database(&self) -> String {
        self.url("gptsweep")
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let data = self.data();
        let _ = self
            .command("pg_ctl")
            .args(["-D", data.as_str(), "-m", "immediate", "-w", "stop"])
            .output();
    }
}
