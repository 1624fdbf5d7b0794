//! The example sweeps run in a fresh clone: each file in `sweeps/`, copied with the
//! folder alone (as a clone has it, with nothing beside the project), is checked and
//! planned by `submit --dry-run`, its dataset read from where the file names it.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::bin;
use serde_json::Value;

/// Copies the folder `from` into `to`, files and subfolders.
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn every_example_sweep_plans_from_a_copy_of_sweeps_alone() {
    let project = Path::new(env!("CARGO_MANIFEST_DIR"));
    let clone = tempfile::tempdir().unwrap();
    let sweeps = clone.path().join("gptsweep/sweeps");
    copy_tree(&project.join("sweeps"), &sweeps);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&sweeps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "the examples: {files:?}");
    for file in &files {
        let out = Command::new(bin())
            .args(["submit", "--dry-run", "--output", "json"])
            .arg(file)
            // Nothing is sent: no coordinator is needed, and none is there.
            .args(["--coordinator", "http://127.0.0.1:9"])
            .env("HOME", clone.path())
            .env("XDG_DATA_HOME", clone.path().join("data"))
            .env("XDG_CACHE_HOME", clone.path().join("cache"))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            file.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let stem = file.file_stem().unwrap().to_str().unwrap();
        assert_eq!(plan["dry_run"], true, "{plan}");
        assert_eq!(plan["name"], stem, "each example is named as its file");
        let runs = plan["estimate"]["queued"].as_u64().unwrap();
        assert!(runs > 0, "{}: {plan}", file.display());
    }
}
