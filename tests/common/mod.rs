//! A cluster of real gptsweep processes for end-to-end tests: one coordinator on a free
//! loopback port with a temporary state directory, N workers, and the CLI pointed at them
//! with the coordinator's access file. Everything is killed when the cluster is dropped;
//! logs stay in the temp dir until then and are printed by failing assertions.

#![allow(dead_code)]

pub mod certs;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gptsweep")
}

/// Polls `f` every 100 ms until it returns `Some`, or panics after `timeout` naming `what`.
pub fn wait_until<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Starts a coordinator on `listen` with its state under `dir`, waiting until it listens.
fn spawn_coordinator(
    dir: &Path,
    listen: &str,
    lease_timeout: f64,
    tls: Option<&certs::Certs>,
    generation: usize,
) -> Child {
    let mut command = Command::new(bin());
    command
        .args([
            "coordinator",
            "--listen",
            listen,
            "--lease-timeout",
            &lease_timeout.to_string(),
            "--state-dir",
        ])
        .arg(dir.join("state"));
    if let Some(tls) = tls {
        command
            .arg("--tls-cert")
            .arg(&tls.cert)
            .arg("--tls-key")
            .arg(&tls.key);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(dir.join(format!("coordinator{generation}.log"))).unwrap())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.contains(listen), "unexpected first line {line:?}");
    child
}

/// Coordinator, workers and a scratch directory.
pub struct Cluster {
    /// Scratch space: state, caches, logs, sweep files.
    pub dir: tempfile::TempDir,
    /// `http://127.0.0.1:PORT`, or `https://` with TLS.
    pub url: String,
    /// The certificates, when the coordinator serves TLS.
    pub tls: Option<certs::Certs>,
    listen: String,
    lease_timeout: f64,
    restarts: usize,
    coordinator: Child,
    workers: Vec<Child>,
}

impl Cluster {
    /// Starts a coordinator with `lease_timeout` seconds and `workers` CPU workers.
    pub fn start(workers: usize, lease_timeout: f64) -> Self {
        Self::start_with(workers, lease_timeout, false)
    }

    /// As [`Cluster::start`], the coordinator serving TLS with a certificate of a fresh
    /// private CA that the workers and the CLI are given with `--tls-ca`.
    pub fn start_tls(workers: usize, lease_timeout: f64) -> Self {
        Self::start_with(workers, lease_timeout, true)
    }

    fn start_with(workers: usize, lease_timeout: f64, tls: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let tls = tls.then(|| certs::generate(&dir.path().join("tls")));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let listen = format!("127.0.0.1:{port}");
        let coordinator = spawn_coordinator(dir.path(), &listen, lease_timeout, tls.as_ref(), 0);
        let scheme = if tls.is_some() { "https" } else { "http" };
        let mut cluster = Self {
            url: format!("{scheme}://{listen}"),
            tls,
            listen,
            lease_timeout,
            restarts: 0,
            dir,
            coordinator,
            workers: Vec::new(),
        };
        for _ in 0..workers {
            cluster.add_worker();
        }
        cluster
    }

    /// Kills the coordinator with SIGKILL and starts it again on the same address and state.
    pub fn restart_coordinator(&mut self) {
        self.coordinator.kill().unwrap();
        self.coordinator.wait().unwrap();
        self.restarts += 1;
        self.coordinator = spawn_coordinator(
            self.dir.path(),
            &self.listen,
            self.lease_timeout,
            self.tls.as_ref(),
            self.restarts,
        );
    }

    /// Starts one more CPU worker; answers its index.
    pub fn add_worker(&mut self) -> usize {
        let i = self.workers.len();
        let child = Command::new(bin())
            .args([
                "worker",
                "--devices",
                "cpu",
                "--poll",
                "2",
                "--coordinator",
                &self.url,
                "--name",
                &format!("w{i}"),
                "--cache-dir",
            ])
            .arg(self.dir.path().join(format!("cache{i}")))
            .arg("--token-file")
            .arg(self.token_file())
            .args(self.tls_args())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(self.dir.path().join(format!("worker{i}.log"))).unwrap())
            .spawn()
            .unwrap();
        self.workers.push(child);
        i
    }

    /// Kills worker `i` with SIGKILL.
    pub fn kill_worker(&mut self, i: usize) {
        self.workers[i].kill().unwrap();
        self.workers[i].wait().unwrap();
    }

    /// Writes `text` to `name` in the scratch directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Runs the CLI against this cluster.
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(bin())
            .args(args)
            .args(["--coordinator", &self.url])
            .arg("--token-file")
            .arg(self.token_file())
            .args(self.tls_args())
            .output()
            .unwrap()
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
        let mut s = String::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap().flatten() {
            let p = entry.path();
            if p.extension().is_some_and(|e| e == "log") {
                s += &format!(
                    "--- {} ---\n{}\n",
                    p.display(),
                    std::fs::read_to_string(&p).unwrap_or_default()
                );
            }
        }
        s
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
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for w in &mut self.workers {
            let _ = w.kill();
            let _ = w.wait();
        }
        let _ = self.coordinator.kill();
        let _ = self.coordinator.wait();
    }
}

/// The steps of the evaluations in a `show --output json` document, in order.
pub fn eval_steps(show: &Value) -> Vec<u64> {
    show["evals"]
        .as_array()
        .expect("evals is a list")
        .iter()
        .map(|e| e["step"].as_u64().expect("step is a number"))
        .collect()
}

/// The first `n` characters of tiny shakespeare, from the shipped copy.
pub fn shakespeare(n: usize) -> String {
    let text = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("gpt/data/tinyshakespeare.txt"),
    )
    .unwrap();
    text.chars().take(n).collect()
}
