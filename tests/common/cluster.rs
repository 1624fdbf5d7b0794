//! A cluster of real gptsweep processes: one coordinator on a port it picks itself (port 0;
//! the harness reads the address from its first line of output, and its dashboard's URL,
//! also on a port of its own choosing, from the second), a temporary state
//! directory, N workers, and the CLI pointed at them with the coordinator's access file.
//!
//! When the cluster is dropped every process is ended, and the test fails, with every log,
//! if a process had ended on its own with a failure or a signal the test did not send, or if
//! any log shows a panic. Processes the test killed on purpose (`kill_worker`,
//! `restart_coordinator`) are exempt from the first check, not the second: a panic is
//! written before any kill.

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;

use super::certs::Certs;
use super::postgres::Postgres;
use super::process::{Process, output_within, panic_lines};
use super::tiny_sweep::TinySweep;
use super::{bin, certs};

/// How long a coordinator may take to say that it listens.
const LISTENING_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one CLI call may run: the longest, `status --watch` over a test's sweep, takes
/// seconds. One still running after this is hung and fails its test with every log.
const CLI_DEADLINE: Duration = Duration::from_secs(300);

/// What the coordinator prints, with its address, once it listens.
const LISTENING: &str = "gptsweep coordinator listening on ";

/// What it prints next, with its dashboard's URL.
const DASHBOARD: &str = "dashboard on ";

/// Coordinator, workers and a scratch directory.
pub struct Cluster {
    /// Scratch space: state, caches, logs, sweep files.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`, or `https://` with TLS.
    pub url: String,
    /// The certificates, when the coordinator serves TLS.
    pub tls: Option<Certs>,
    /// The dashboard of the coordinator now serving: `http://127.0.0.1:PORT/` (https with
    /// TLS); a restart picks a new port.
    pub dashboard: String,
    /// The address the coordinator chose; restarts listen on it again.
    addr: SocketAddr,
    /// `--lease-timeout` in seconds, kept for restarts.
    lease_timeout: f64,
    /// The coordinator now serving.
    coordinator: Process,
    /// Earlier coordinators, killed by `restart_coordinator`, kept for the log check.
    retired: Vec<Process>,
    /// Workers by index, killed ones included.
    workers: Vec<Process>,
    /// `--database` of every coordinator: the state dir's SQLite file when `None`.
    database: Option<String>,
    /// The tmpfs mounted on the state directory ([`Cluster::start_on_tmpfs`]), unmounted
    /// once the processes have ended.
    tmpfs: Option<PathBuf>,
    /// More flags of every coordinator (`--disk-reserve ...`), kept for restarts.
    coordinator_args: Vec<String>,
    /// The PostgreSQL server behind `database`, stopped after the processes (the last
    /// field, so dropped last).
    postgres: Option<Postgres>,
}

impl Cluster {
    /// Starts a coordinator with `lease_timeout` seconds and `workers` CPU workers.
    pub fn start(workers: usize, lease_timeout: f64) -> Self {
        Self::start_with(workers, lease_timeout, false, None, &[])
    }

    /// As [`Cluster::start`], the coordinator (and every restart of it) given `args` too.
    pub fn start_with_coordinator_args(workers: usize, lease_timeout: f64, args: &[&str]) -> Self {
        Self::start_with(workers, lease_timeout, false, None, args)
    }

    /// As [`Cluster::start`], the coordinator keeping its rows in a throwaway PostgreSQL
    /// server (`--database postgres://...`); `None` where the test is skipped (see
    /// [`Postgres::start`]).
    pub fn start_postgres(workers: usize, lease_timeout: f64) -> Option<Self> {
        Self::start_postgres_with_coordinator_args(workers, lease_timeout, &[])
    }

    /// As [`Cluster::start_postgres`], the coordinator given `args` too.
    pub fn start_postgres_with_coordinator_args(
        workers: usize,
        lease_timeout: f64,
        args: &[&str],
    ) -> Option<Self> {
        let pg = Postgres::start()?;
        Some(Self::start_with(
            workers,
            lease_timeout,
            false,
            Some(pg),
            args,
        ))
    }

    /// As [`Cluster::start`], the coordinator serving TLS with a certificate of a fresh
    /// private CA that the workers and the CLI are given with `--tls-ca`.
    pub fn start_tls(workers: usize, lease_timeout: f64) -> Self {
        Self::start_with(workers, lease_timeout, true, None, &[])
    }

    /// As [`Cluster::start`], the state directory on a tmpfs of `bytes` (which a test can
    /// fill to the last byte); `None` where this machine cannot mount one (not root), after
    /// saying so, except under CI, which runs as root. The coordinator is given `args` too.
    pub fn start_on_tmpfs(
        workers: usize,
        lease_timeout: f64,
        bytes: u64,
        args: &[&str],
    ) -> Option<Self> {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        std::fs::create_dir(&state).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={bytes}"), "tmpfs"])
            .arg(&state)
            .output()
            .unwrap();
        if !mounted.status.success() {
            let why = String::from_utf8_lossy(&mounted.stderr);
            assert!(
                std::env::var_os("CI").is_none(),
                "cannot mount a tmpfs under CI: {why}"
            );
            eprintln!("SKIPPED: cannot mount a tmpfs here (root needed): {why}");
            return None;
        }
        let mut c = Self::start_in(dir, workers, lease_timeout, false, None, args);
        c.tmpfs = Some(state);
        Some(c)
    }

    /// The PostgreSQL server behind the coordinator, if any.
    pub fn postgres(&self) -> Option<&Postgres> {
        self.postgres.as_ref()
    }

    fn start_with(
        workers: usize,
        lease_timeout: f64,
        tls: bool,
        postgres: Option<Postgres>,
        coordinator_args: &[&str],
    ) -> Self {
        Self::start_in(
            tempfile::tempdir().unwrap(),
            workers,
            lease_timeout,
            tls,
            postgres,
            coordinator_args,
        )
    }

    fn start_in(
        dir: tempfile::TempDir,
        workers: usize,
        lease_timeout: f64,
        tls: bool,
        postgres: Option<Postgres>,
        coordinator_args: &[&str],
    ) -> Self {
        let tls = tls.then(|| certs::generate(&dir.path().join("tls")));
        let database = postgres.as_ref().map(Postgres::database);
        let coordinator_args: Vec<String> =
            coordinator_args.iter().map(|a| a.to_string()).collect();
        let (coordinator, addr, dashboard) = spawn_coordinator(
            dir.path(),
            "127.0.0.1:0",
            lease_timeout,
            tls.as_ref(),
            database.as_deref(),
            &coordinator_args,
            0,
        );
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut cluster = Self {
            url: format!("{scheme}://{addr}"),
            tls,
            dashboard,
            addr,
            lease_timeout,
            dir,
            coordinator,
            retired: Vec::new(),
            workers: Vec::new(),
            database,
            tmpfs: None,
            coordinator_args,
            postgres,
        };
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    /// Kills the coordinator with SIGKILL and starts it again on the same address and
    /// state, so that workers and the CLI reach it at the same URL.
    pub fn restart_coordinator(&mut self) {
        self.kill_coordinator();
        self.start_coordinator();
    }

    /// Kills the coordinator with SIGKILL and waits for it to end; it stays down until
    /// [`Cluster::start_coordinator`].
    pub fn kill_coordinator(&mut self) {
        self.coordinator.kill();
    }

    /// Sends the coordinator `signal` (`TERM`, `INT`) and answers how it ended, which the
    /// test then judges; panics if it had not ended within `within`. It stays down until
    /// [`Cluster::start_coordinator`].
    pub fn signal_coordinator(
        &mut self,
        signal: &str,
        within: Duration,
    ) -> std::process::ExitStatus {
        self.coordinator.signal(signal);
        self.coordinator.wait_for_exit(within)
    }

    /// Runs one more coordinator on the state directory of the one serving (listening on
    /// a port of its own) and answers how it ended; it is killed, and the test failed, if
    /// it is still running after `within`.
    pub fn second_coordinator(&self, within: Duration) -> Output {
        self.coordinator_on(self.database.as_deref(), within)
    }

    /// As [`Cluster::second_coordinator`], with `--database database` (the state
    /// directory's SQLite file when `None`).
    pub fn coordinator_on(&self, database: Option<&str>, within: Duration) -> Output {
        output_within(
            &mut coordinator_command(
                self.dir.path(),
                "127.0.0.1:0",
                self.lease_timeout,
                self.tls.as_ref(),
                database,
                &self.coordinator_args,
            ),
            within,
        )
        .unwrap_or_else(|ran| {
            panic!("a second coordinator on the same state was still running after {ran:?}")
        })
    }

    /// Starts a coordinator again on the address and state of the one before, which must
    /// have ended ([`Cluster::kill_coordinator`], [`Cluster::terminate_coordinator`]).
    pub fn start_coordinator(&mut self) {
        assert!(
            self.coordinator.exit_status().is_some(),
            "start_coordinator: the coordinator before is still running"
        );
        let generation = self.retired.len() + 1;
        let (next, _, dashboard) = spawn_coordinator(
            self.dir.path(),
            &self.addr.to_string(),
            self.lease_timeout,
            self.tls.as_ref(),
            self.database.as_deref(),
            &self.coordinator_args,
            generation,
        );
        self.dashboard = dashboard;
        let killed = std::mem::replace(&mut self.coordinator, next);
        self.retired.push(killed);
    }

    /// The process id of the coordinator now serving (or last started).
    pub fn coordinator_pid(&self) -> u32 {
        self.coordinator.id()
    }

    /// The address the coordinator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Starts one more CPU worker; answers its index.
    pub fn add_worker(&mut self) -> usize {
        self.add_worker_with(&[])
    }

    /// Sends `signal` (`TERM`, `INT`) to worker `i`.
    pub fn signal_worker(&mut self, i: usize, signal: &str) {
        self.workers[i].signal(signal);
    }

    /// Waits up to `timeout` for worker `i` to exit and answers its status (which the test
    /// then judges, instead of teardown).
    pub fn wait_worker(&mut self, i: usize, timeout: Duration) -> std::process::ExitStatus {
        self.workers[i].wait_for_exit(timeout)
    }

    /// Worker `i`'s process id.
    pub fn worker_pid(&self, i: usize) -> u32 {
        self.workers[i].id()
    }

    /// Worker `i`'s cache directory.
    pub fn cache_dir(&self, i: usize) -> PathBuf {
        self.dir.path().join(format!("cache{i}"))
    }

    /// Worker `i`'s log so far.
    pub fn worker_log(&self, i: usize) -> String {
        std::fs::read_to_string(self.workers[i].log()).unwrap_or_default()
    }

    /// Starts one more CPU worker with `extra` flags; answers its index.
    pub fn add_worker_with(&mut self, extra: &[&str]) -> usize {
        self.add_worker_on("cpu", &[], extra)
    }

    /// Starts one more worker on `devices` with `extra` flags (its polls last 2 s unless
    /// they give `--poll`) and environment variables `env` (`XDG_CACHE_HOME` for a kernel
    /// folder of its own); answers its index.
    pub fn add_worker_on(&mut self, devices: &str, env: &[(&str, &Path)], extra: &[&str]) -> usize {
        let i = self.workers.len();
        let log = self.dir.path().join(format!("worker{i}.log"));
        // Polls of 2 s, unless `extra` gives its own.
        let poll: &[&str] = if extra.contains(&"--poll") {
            &[]
        } else {
            &["--poll", "2"]
        };
        let child = Command::new(bin())
            .args(["worker", "--devices", devices])
            .args(poll)
            .args([
                "--coordinator",
                &self.url,
                "--name",
                &format!("w{i}"),
                "--cache-dir",
            ])
            .arg(self.cache_dir(i))
            .arg("--token-file")
            .arg(self.token_file())
            .args(self.tls_args())
            .args(extra)
            .envs(env.iter().map(|(k, v)| (*k, *v)))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        self.workers
            .push(Process::new(format!("worker w{i}"), child, log));
        i
    }

    /// Kills worker `i` with SIGKILL.
    pub fn kill_worker(&mut self, i: usize) {
        self.workers[i].kill();
    }

    /// Writes `text` to `name` in the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Writes `sweep` to `NAME.yaml` in the scratch directory and submits it, answering
    /// the `submit --output json` document.
    pub fn submit(&self, sweep: &TinySweep) -> Value {
        let file = sweep.write_in(self.dir.path());
        self.json(&["submit", file.to_str().unwrap()])
    }

    /// Runs the CLI against this cluster, its caches in the scratch directory; a panic in
    /// it, or a call still running after [`CLI_DEADLINE`], fails the test.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_asking(args, false)
    }

    /// [`Cluster::cli`], where `ask` leaves a big sweep's `--yes` to the arguments; else
    /// `GPTSWEEP_YES` is set, as the tests' long sweeps (stopped by cancel) expect.
    pub fn cli_asking(&self, args: &[&str], ask: bool) -> Output {
        let mut cmd = Command::new(bin());
        if ask {
            cmd.env_remove("GPTSWEEP_YES");
        } else {
            cmd.env("GPTSWEEP_YES", "1");
        }
        cmd.env("XDG_CACHE_HOME", self.dir.path().join("cli-cache"))
            .args(args);
        // The connection flags go only to verbs that connect (`train` takes none).
        if args.first().is_some_and(|verb| super::connects(verb)) {
            cmd.args(["--coordinator", &self.url])
                .arg("--token-file")
                .arg(self.token_file())
                .args(self.tls_args());
        }
        let out = output_within(&mut cmd, CLI_DEADLINE).unwrap_or_else(|ran| {
            panic!(
                "gptsweep {args:?} was still running after {ran:?}, killed\n{}",
                self.logs()
            )
        });
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            panic_lines(&stderr).is_empty(),
            "gptsweep {args:?} panicked: {stderr}\n{}",
            self.logs()
        );
        out
    }

    /// Runs the CLI with `--output json`, asserting success, and parses stdout.
    pub fn json(&self, args: &[&str]) -> Value {
        let out = self.cli(&[args, &["--output", "json"]].concat());
        assert!(
            out.status.success(),
            "gptsweep {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.logs()
        );
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "gptsweep {args:?}: not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    }

    /// Every log, for failure messages.
    pub fn logs(&self) -> String {
        let mut paths: Vec<PathBuf> = std::fs::read_dir(self.dir.path())
            .unwrap()
            .flatten()
            .map(|entry| entry.path())
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        paths.sort();
        paths.iter().map(|p| log_section(p)).collect()
    }

    /// `--tls-ca CA` when the coordinator serves TLS.
    fn tls_args(&self) -> Vec<std::ffi::OsString> {
        match &self.tls {
            Some(tls) => vec!["--tls-ca".into(), tls.ca.clone().into()],
            None => Vec::new(),
        }
    }

    /// The coordinator's access file (both tokens).
    pub fn token_file(&self) -> PathBuf {
        self.state().join("access.json")
    }

    /// The state directory.
    pub fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    /// Every process started, ended or not.
    fn processes(&mut self) -> impl Iterator<Item = &mut Process> {
        self.retired
            .iter_mut()
            .chain(std::iter::once(&mut self.coordinator))
            .chain(self.workers.iter_mut())
    }

    /// Ends every process; answers what went wrong with them (crashes, then panics).
    fn stop_and_check(&mut self) -> Vec<String> {
        // Crashes are read before anything is killed, so teardown's own kills are not one.
        let crashes: Vec<String> = self.processes().filter_map(Process::crash).collect();
        self.processes().for_each(Process::stop);
        let panics = self.processes().filter_map(|p| p.panic_in_log());
        crashes.into_iter().chain(panics).collect()
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let problems = self.stop_and_check();
        if let Some(mount) = self.tmpfs.take() {
            let _ = Command::new("umount").arg("-l").arg(mount).status();
        }
        // A second panic while unwinding would abort the test binary; the first one is
        // the failure to report.
        if std::thread::panicking() || problems.is_empty() {
            return;
        }
        panic!(
            "teardown found processes that crashed or panicked:\n{}\n{}",
            problems.join("\n"),
            self.logs()
        );
    }
}

/// Starts coordinator number `generation` on `listen` with its state under `dir`, waits
/// until it says it listens, and answers it with the address it listens on and its
/// dashboard's URL.
fn spawn_coordinator(
    dir: &Path,
    listen: &str,
    lease_timeout: f64,
    tls: Option<&Certs>,
    database: Option<&str>,
    extra: &[String],
    generation: usize,
) -> (Process, SocketAddr, String) {
    let log = dir.join(format!("coordinator{generation}.log"));
    let mut child = coordinator_command(dir, listen, lease_timeout, tls, database, extra)
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let lines = first_lines(
        stdout,
        2,
        dir.join(format!("coordinator{generation}.stdout.log")),
    );
    let mut process = Process::new(format!("coordinator #{generation}"), child, log);
    let addr = lines.first().and_then(|l| listening_addr(l));
    let dashboard = lines
        .get(1)
        .and_then(|l| l.strip_prefix(DASHBOARD))
        .and_then(|l| l.split_whitespace().next());
    match (addr, dashboard) {
        (Some(addr), Some(dashboard)) => (process, addr, dashboard.to_string()),
        _ => not_listening(&mut process, listen, lines.into_iter().next(), generation),
    }
}

/// `gptsweep coordinator` on `listen` with its state under `dir`, given `extra` flags too.
fn coordinator_command(
    dir: &Path,
    listen: &str,
    lease_timeout: f64,
    tls: Option<&Certs>,
    database: Option<&str>,
    extra: &[String],
) -> Command {
    let mut command = Command::new(bin());
    command
        .args([
            "coordinator",
            "--listen",
            listen,
            "--lease-timeout",
            &lease_timeout.to_string(),
            "--dashboard",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(dir.join("state"));
    if let Some(url) = database {
        command.args(["--database", url]);
    }
    if let Some(tls) = tls {
        command
            .arg("--tls-cert")
            .arg(&tls.cert)
            .arg("--tls-key")
            .arg(&tls.key);
    }
    command.args(extra);
    command
}

/// Stops a coordinator that did not say it listens (its first line of stdout was
/// `first`) and fails the test with what it did say and its log.
fn not_listening(
    process: &mut Process,
    listen: &str,
    first: Option<String>,
    generation: usize,
) -> ! {
    let status = match process.exit_status() {
        Some(status) => format!("it ended ({status})"),
        None => "it was still running".to_string(),
    };
    process.stop();
    let said = match first {
        None => format!("said nothing within {LISTENING_TIMEOUT:?}"),
        Some(line) => format!("said {line:?}"),
    };
    let hint = if generation == 0 {
        String::new()
    } else {
        format!(
            "; it was restarted on the address the first one chose: if binding {listen} \
             failed, the port was taken while the coordinator was down"
        )
    };
    panic!(
        "coordinator #{generation} (--listen {listen}) did not start listening: it {said} \
         on stdout and {status}{hint}\n{}",
        log_section(process.log())
    );
}

/// Reads the first `n` lines of `stdout` on a thread, copying the rest to the file `rest`;
/// answers those that came within [`LISTENING_TIMEOUT`] (none if fewer than `n` came).
fn first_lines(stdout: impl Read + Send + 'static, n: usize, rest: PathBuf) -> Vec<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut lines = Vec::new();
        for _ in 0..n {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            lines.push(line);
        }
        let _ = tx.send(lines);
        // Keeps the pipe open and drained, so later output never meets a closed pipe.
        if let Ok(mut file) = std::fs::File::create(rest) {
            let _ = std::io::copy(&mut reader, &mut file);
        }
    });
    rx.recv_timeout(LISTENING_TIMEOUT).unwrap_or_default()
}

/// The address in the coordinator's "listening on ADDR (...)" line.
fn listening_addr(line: &str) -> Option<SocketAddr> {
    line.strip_prefix(LISTENING)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// One log file with a header, for failure messages.
fn log_section(path: &Path) -> String {
    format!(
        "--- {} ---\n{}\n",
        path.display(),
        std::fs::read_to_string(path).unwrap_or_default()
    )
}
