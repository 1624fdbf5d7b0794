//! Helpers for end-to-end tests of the real `gptsweep` binary: a [`Cluster`] of
//! coordinator, workers and CLI, the [`TinySweep`] file they train, throwaway TLS
//! certificates, a Slurm cluster's commands, and small readers of the CLI's JSON.
//!
//! Each test binary uses a part of this module, hence `dead_code` is allowed here.

#![allow(dead_code)]

pub mod certs;
mod cluster;
pub mod http;
pub mod postgres;
mod process;
pub mod python;
pub mod slurm;
mod tiny_sweep;
pub mod worker_client;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

// As with `dead_code` above: a test binary that uses neither would call these unused.
#[allow(unused_imports)]
pub use {
    cluster::Cluster,
    process::{output_within, panic_lines},
    tiny_sweep::TinySweep,
};

/// The binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_gptsweep")
}

/// Whether `verb` takes the connection flags (`--coordinator`, `--token-file`,
/// `--tls-ca`): every verb but those that connect to no coordinator.
pub fn connects(verb: &str) -> bool {
    !matches!(verb, "train" | "local" | "coordinator" | "dashboard")
}

/// Runs the binary with `args`, its client verbs pointed at a port nothing listens on, a
/// token set and `GPTSWEEP_OUTPUT` unset: for inputs that must be refused before any
/// connection.
pub fn run_offline(args: &[&str]) -> std::process::Output {
    std::process::Command::new(bin())
        .args(args)
        .args(
            connects(args[0])
                .then_some(["--coordinator", "http://127.0.0.1:9"])
                .into_iter()
                .flatten(),
        )
        .env("GPTSWEEP_TOKEN", "t")
        .env_remove("GPTSWEEP_OUTPUT")
        .output()
        .unwrap()
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

/// The step a preempted attempt's reason (`show`'s `attempts[].reason`) says it stopped at.
pub fn stopped_at(reason: &str) -> u64 {
    reason
        .split("stopped at step ")
        .nth(1)
        .and_then(|after| after.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("no step in {reason:?}"))
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
        Path::new(env!("CARGO_MANIFEST_DIR")).join("core/data/tinyshakespeare.txt"),
    )
    .unwrap();
    text.chars().take(n).collect()
}
