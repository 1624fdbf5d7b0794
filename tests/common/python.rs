//! Clients that gptsweep did not write, in Python: grpcio's health stub
//! (`tests/py/health.py`), and whatever later tests add. They run with the interpreter
//! `GPTSWEEP_PYTHON` names, a virtual environment with the packages of
//! `tests/py/requirements.txt` (`.ci/run` makes one). Without it a test that needs one
//! says so and goes on without those checks, except under CI, where it fails.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

/// The Python interpreter with the test packages, if this machine has one set up.
pub fn python() -> Option<PathBuf> {
    match std::env::var_os("GPTSWEEP_PYTHON") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "GPTSWEEP_PYTHON is not set under CI (.ci/run sets it up)"
            );
            eprintln!(
                "SKIPPED checks with a Python client: set GPTSWEEP_PYTHON to a python with tests/py/requirements.txt installed"
            );
            None
        }
    }
}

/// `tests/py/NAME`.
pub fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/py")
        .join(name)
}

/// What grpcio's health client reads from `addr` for the overall status: `SERVING`,
/// `NOT_SERVING`, or the call's failure (`UNAVAILABLE`); `None` without Python.
pub fn health(addr: &str) -> Option<String> {
    let python = python()?;
    let out = Command::new(python)
        .arg(script("health.py"))
        .arg(addr)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "health.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}
