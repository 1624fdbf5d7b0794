//! `gptsweep delete` end to end, on SQLite and PostgreSQL: a finished sweep goes with its
//! runs, evaluations and checkpoint files, and its uploaded dataset is forgotten (its file
//! goes at the coordinator's next collection, within a minute, or its next start; a dataset
//! another sweep uses stays); its name is
//! free again; a running sweep is refused (exit 2, nothing removed) unless --force.

mod common;

use std::path::Path;

use common::{Cluster, TinySweep, shakespeare};

fn files_in(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().is_file())
                .count()
        })
        .unwrap_or(0)
}

fn delete_removes_a_sweep_and_what_only_it_used(mut c: Cluster) {
    c.write("corpus.txt", &shakespeare(20_000));
    c.write("other.txt", &shakespeare(30_000));
    let sweep = TinySweep::new("gone")
        .dataset("corpus.txt")
        .grid("lr", &[0.01, 0.001]);
    let kept = TinySweep::new("kept")
        .dataset("other.txt")
        .grid("lr", &[0.01]);
    c.submit(&sweep);
    c.submit(&kept);
    c.add_worker();
    for name in ["gone", "kept"] {
        let status = c.json(&["status", name, "--watch"]);
        assert_eq!(status["state"], "finished", "{status}\n{}", c.logs());
    }
    let runs: Vec<String> = c
        .json(&["top", "gone", "-n", "0"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].to_string())
        .collect();
    let state = c.state();
    let (checkpoints_before, datasets_before) = (
        files_in(&state.join("checkpoints")),
        files_in(&state.join("datasets")),
    );
    assert_eq!(checkpoints_before, 3, "one checkpoint a run");

    let deleted = c.json(&["delete", "gone"]);
    assert_eq!(deleted["runs"], 2, "{deleted}");
    assert_eq!(deleted["evals"], 4, "{deleted}");
    assert_eq!(deleted["checkpoints"], 2, "{deleted}");
    assert_eq!(deleted["datasets"], 1, "{deleted}");
    assert_eq!(files_in(&state.join("checkpoints")), checkpoints_before - 2);
    assert_eq!(files_in(&state.join("datasets")), datasets_before);
    let names: Vec<String> = c
        .json(&["sweeps"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["kept"]);
    for run in &runs {
        let out = c.cli(&["show", run]);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains(&format!("no run {run}")));
    }
    // The forgotten corpus's file goes at the next collection (a minute apart while the
    // coordinator serves), or when the coordinator next starts.
    c.restart_coordinator();
    assert_eq!(files_in(&state.join("datasets")), datasets_before - 1);
    // The other sweep is whole, and the name is free again.
    assert_eq!(c.json(&["status", "kept"])["runs"]["finished"], 1);
    assert_eq!(c.submit(&sweep)["runs"], 2);
    let status = c.json(&["status", "gone", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{status}\n{}", c.logs());

    // A running sweep: refused, nothing removed, unless --force.
    c.kill_worker(0);
    let slow = TinySweep::new("busy").grid("lr", &[0.01, 0.001]);
    c.submit(&slow);
    let queued = c.json(&["top", "busy"])[0]["run"].to_string();
    let none = c.cli(&["sample", &queued]);
    assert!(
        String::from_utf8_lossy(&none.stderr)
            .contains(&format!("run {queued} is queued: it has no checkpoint yet")),
        "{}",
        String::from_utf8_lossy(&none.stderr)
    );
    let refused = c.cli(&["delete", "busy"]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("sweep busy is running: cancel it first"),
        "{err}"
    );
    assert_eq!(c.json(&["status", "busy"])["runs"]["queued"], 2);
    let forced = c.json(&["delete", "busy", "--force"]);
    assert_eq!(forced["runs"], 2);
    assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 2);
    assert!(!c.cli(&["status", "busy"]).status.success());
}

#[test]
fn delete_removes_a_sweep_and_what_only_it_used_on_sqlite() {
    delete_removes_a_sweep_and_what_only_it_used(Cluster::start(0, 10.0));
}

#[test]
fn delete_removes_a_sweep_and_what_only_it_used_on_postgres() {
    if let Some(c) = Cluster::start_postgres(0, 10.0) {
        delete_removes_a_sweep_and_what_only_it_used(c);
    }
}
