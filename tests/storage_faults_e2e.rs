//! Faults of the coordinator's storage, injected for real on the real binary: a state
//! directory on a tmpfs filled to the last byte while runs report, a PostgreSQL server
//! restarted and stopped mid-sweep, the coordinator stopped (SIGSTOP) for longer than the
//! lease timeout, and databases that are empty, damaged or another store's beside a state
//! directory full of checkpoints. Each asserts exact counts after recovery: every
//! acknowledged write present, every evaluation stored once, nothing trained twice,
//! nothing deleted; and the sweep finishes without restarting the coordinator.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::{Cluster, TinySweep, eval_steps, python, wait_until};
use serde_json::Value;

/// Evaluations of each run of [`sweep`].
const EVALS: u64 = 20;
/// Steps between them.
const INTERVAL: u64 = 1500;

/// A sweep of `runs` runs (one a learning rate), each long enough to outlive the fault.
fn sweep(name: &str, runs: usize) -> TinySweep {
    let lrs: Vec<f64> = (1..=runs).map(|i| i as f64 * 1e-3).collect();
    TinySweep::new(name)
        .grid("lr", &lrs)
        .max_iters(EVALS * INTERVAL)
        .eval_interval(INTERVAL)
        .samples(1, 10)
}

/// The evaluations sweep `name` has stored.
fn evals_stored(c: &Cluster, name: &str) -> u64 {
    c.json(&["status", name])["evals_stored"].as_u64().unwrap()
}

/// Waits until sweep `name` has stored at least `n` evaluations.
fn wait_for_evals(c: &Cluster, name: &str, n: u64, within: Duration) {
    wait_until("evaluations", within, || {
        (evals_stored(c, name) >= n).then_some(())
    });
}

/// Waits for sweep `name` to end, and checks that each of its `runs` runs finished in
/// one attempt, never resumed, with exactly one evaluation per interval.
fn assert_every_run_finished_once(c: &Cluster, name: &str, runs: u64) {
    let status = c.json(&["status", name, "--watch"]);
    assert_eq!(status["runs"]["finished"], runs, "{status}\n{}", c.logs());
    assert_eq!(status["evals_stored"], runs * EVALS, "{status}");
    let top = c.json(&["top", name]);
    for row in top.as_array().unwrap() {
        let run = row["run"].as_u64().unwrap().to_string();
        let show = c.json(&["show", &run]);
        assert_eq!(
            eval_steps(&show),
            (1..=EVALS).map(|i| i * INTERVAL).collect::<Vec<u64>>(),
            "run {run}: one evaluation per interval, none twice, none missing"
        );
        let attempts = show["attempts"].as_array().unwrap();
        assert_eq!(
            attempts.len(),
            1,
            "run {run}: one attempt: {show}\n{}",
            c.logs()
        );
        assert_eq!(attempts[0]["state"], "finished");
        assert_eq!(attempts[0]["resumed_from"], 0, "run {run}: never retrained");
    }
}

/// The coordinator's log (the first one's).
fn coordinator_log(c: &Cluster) -> String {
    std::fs::read_to_string(c.dir.path().join("coordinator0.log")).unwrap()
}

/// Checks the coordinator said, once each, that writes failed and that they came back.
fn assert_said_failing_and_back(c: &Cluster) {
    let log = coordinator_log(c);
    let failing = log.matches("store: writes fail").count();
    let back = log.matches("store: writes commit again").count();
    assert!(
        failing >= 1 && failing == back,
        "each spell of failures is logged once, and its end once: {failing} / {back}\n{log}"
    );
}

/// Waits until grpcio's health client reads `status` from the coordinator (skipped
/// without Python, see [`python::python`]).
fn wait_for_health(c: &Cluster, status: &str, within: Duration) {
    let addr = c.addr().to_string();
    if python::health(&addr).is_none() {
        return;
    }
    wait_until(&format!("health {status}"), within, || {
        (python::health(&addr).as_deref() == Some(status)).then_some(())
    });
}

/// Names of the sweeps the coordinator holds.
fn sweep_names(c: &Cluster) -> Vec<String> {
    c.json(&["sweeps"])
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect()
}

/// Fills the filesystem of `dir` to its last byte with a file there; answers the file.
fn fill(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("ballast");
    let mut f = std::fs::File::create(&path).unwrap();
    let block = vec![0u8; 64 << 10];
    while f.write_all(&block).is_ok() {}
    let _ = f.write_all(&[0u8; 512]);
    path
}

#[test]
fn a_full_disk_refuses_writes_loudly_and_the_sweep_finishes_by_itself_with_every_evaluation_once() {
    // A reserve of 1 MiB (the default, 256 MiB, is more than this tmpfs): checkpoints are
    // stored until the disk is filled past it, as a full disk at any size would be.
    let Some(mut c) = Cluster::start_on_tmpfs(2, 3.0, 48 << 20, &["--disk-reserve", "1MiB"]) else {
        return;
    };
    c.submit(&sweep("full", 2));
    wait_for_evals(&c, "full", 4, Duration::from_secs(60));
    wait_for_health(&c, "SERVING", Duration::from_secs(5));
    let ballast = fill(&c.state());
    let filled = Instant::now();
    wait_for_health(&c, "NOT_SERVING", Duration::from_secs(10));
    // A submit while the disk is full: refused, or stored. Never acknowledged and lost.
    let file = sweep("during", 1).write_in(c.dir.path());
    let during = c.cli(&["submit", file.to_str().unwrap()]);
    std::thread::sleep(Duration::from_secs(5).saturating_sub(filled.elapsed()));
    std::fs::remove_file(&ballast).unwrap();
    wait_for_health(&c, "SERVING", Duration::from_secs(10));
    assert_every_run_finished_once(&c, "full", 2);
    assert_said_failing_and_back(&c);
    let stored = sweep_names(&c).contains(&"during".to_string());
    assert_eq!(
        stored,
        during.status.success(),
        "a submit is stored exactly when it was acknowledged: {}",
        String::from_utf8_lossy(&during.stderr)
    );
    // The store still takes everything after the fault, and a restart finds it whole.
    let after = sweep("after", 1).write_in(c.dir.path());
    c.json(&["submit", after.to_str().unwrap()]);
    let status = c.signal_coordinator("TERM", Duration::from_secs(15));
    assert!(status.success(), "{status}");
    c.start_coordinator();
    assert!(sweep_names(&c).contains(&"after".to_string()));
    assert_every_run_finished_once(&c, "full", 2);
}

#[test]
fn a_postgres_restart_and_a_stop_mid_sweep_heal_by_themselves_with_every_evaluation_once() {
    let Some(c) = Cluster::start_postgres(2, 3.0) else {
        return;
    };
    let pg = c.postgres().unwrap();
    c.submit(&sweep("pg", 2));
    wait_for_evals(&c, "pg", 4, Duration::from_secs(60));
    pg.restart();
    let before = evals_stored(&c, "pg");
    // Writes go on after the restart, without restarting the coordinator.
    wait_for_evals(&c, "pg", before + 4, Duration::from_secs(30));
    pg.stop();
    let start = Instant::now();
    let read = c.cli(&["sweeps"]);
    let took = start.elapsed();
    assert!(
        !read.status.success() && took < Duration::from_secs(15),
        "a read while the database is down fails within seconds, not the outage: {took:?} {}",
        String::from_utf8_lossy(&read.stderr)
    );
    wait_for_health(&c, "NOT_SERVING", Duration::from_secs(10));
    std::thread::sleep(Duration::from_secs(4).saturating_sub(start.elapsed()));
    pg.start_again();
    wait_for_health(&c, "SERVING", Duration::from_secs(15));
    assert_every_run_finished_once(&c, "pg", 2);
    assert_said_failing_and_back(&c);
}

#[test]
fn a_coordinator_stopped_longer_than_the_lease_timeout_requeues_nothing() {
    let c = Cluster::start(2, 2.0);
    c.submit(&sweep("paused", 2));
    wait_for_evals(&c, "paused", 4, Duration::from_secs(60));
    let pid = c.coordinator_pid().to_string();
    assert!(
        Command::new("kill")
            .args(["-STOP", &pid])
            .status()
            .unwrap()
            .success()
    );
    std::thread::sleep(Duration::from_secs(7));
    assert!(
        Command::new("kill")
            .args(["-CONT", &pid])
            .status()
            .unwrap()
            .success()
    );
    assert_every_run_finished_once(&c, "paused", 2);
    let log = coordinator_log(&c);
    assert!(log.contains("did not run for"), "{log}");
    assert!(!log.contains("leases expired"), "{log}");
}

/// Trains one short sweep to its end with an uploaded dataset, stops the coordinator with
/// SIGTERM, and answers the state directory's blob files (datasets and checkpoints).
fn finished_store(c: &mut Cluster) -> Vec<String> {
    c.write("corpus.txt", &common::shakespeare(20_000));
    let file = TinySweep::new("kept")
        .dataset("corpus.txt")
        .max_iters(40)
        .eval_interval(10)
        .write_in(c.dir.path());
    c.json(&["submit", file.to_str().unwrap()]);
    let status = c.json(&["status", "kept", "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{status}");
    let status = c.signal_coordinator("TERM", Duration::from_secs(15));
    assert!(status.success(), "{status}");
    let blobs = blob_files(&c.state());
    assert_eq!(blobs.len(), 2, "a dataset and a checkpoint: {blobs:?}");
    blobs
}

/// The files of `datasets/` and `checkpoints/` under `state`.
fn blob_files(state: &Path) -> Vec<String> {
    let mut files: Vec<String> = ["datasets", "checkpoints"]
        .iter()
        .flat_map(|d| std::fs::read_dir(state.join(d)).unwrap().flatten())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    files
}

/// Runs a coordinator on `c`'s state with `database` and checks it is refused with exit
/// `code` within seconds, in one line of stderr containing `said`.
fn assert_refused(c: &Cluster, database: Option<&str>, code: i32, said: &str) {
    let start = Instant::now();
    let out = c.coordinator_on(database, Duration::from_secs(30));
    let took = start.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    let errors: Vec<&str> = stderr.lines().filter(|l| l.contains("error")).collect();
    assert!(
        errors.len() == 1 && errors[0].contains(said),
        "one line saying {said:?}: {stderr}"
    );
    assert!(took < Duration::from_secs(10), "refused in {took:?}");
    assert!(out.stdout.is_empty(), "it never said it listens");
}

#[test]
fn an_empty_damaged_or_foreign_database_beside_a_state_dir_is_refused_and_nothing_is_deleted() {
    let mut c = Cluster::start(1, 2.0);
    let blobs = finished_store(&mut c);
    let db = c.state().join("gptsweep.db");
    let good = std::fs::read(&db).unwrap();
    assert!(
        !c.state().join("gptsweep.db-wal").exists()
            || std::fs::metadata(c.state().join("gptsweep.db-wal"))
                .unwrap()
                .len()
                == 0
    );

    // A 0-byte database: starting would have collected every blob as an orphan.
    std::fs::write(&db, b"").unwrap();
    assert_refused(&c, None, 2, "is empty");
    assert_eq!(std::fs::metadata(&db).unwrap().len(), 0, "left as it was");

    // Not a database at all.
    std::fs::write(&db, vec![0x5au8; 16 << 10]).unwrap();
    assert_refused(&c, None, 1, "cannot be used");

    // 4 KB overwritten in the middle of the file (its second b-tree page).
    let mut damaged = good.clone();
    damaged[8192..12288].fill(0xa5);
    std::fs::write(&db, &damaged).unwrap();
    assert_refused(&c, None, 1, "is damaged");

    // The database of another store.
    std::fs::write(&db, &good).unwrap();
    let id_file = c.state().join("store-id");
    let ours = std::fs::read_to_string(&id_file).unwrap();
    std::fs::write(&id_file, "0123456789abcdef0123456789abcdef\n").unwrap();
    assert_refused(&c, None, 2, "0123456789abcdef0123456789abcdef");
    std::fs::write(&id_file, &ours).unwrap();

    assert_eq!(blob_files(&c.state()), blobs, "no blob was deleted");
    c.start_coordinator();
    let status: Value = c.json(&["status", "kept"]);
    assert_eq!(
        status["runs"]["finished"], 1,
        "the store is whole: {status}"
    );
    assert_eq!(blob_files(&c.state()), blobs);
}

#[test]
fn an_empty_postgres_database_beside_a_state_dir_is_refused_and_nothing_is_deleted() {
    let Some(mut c) = Cluster::start_postgres(1, 2.0) else {
        return;
    };
    let blobs = finished_store(&mut c);
    let other = c.postgres().unwrap().create_database("other");
    assert_refused(&c, Some(&other), 2, "is empty");
    // The state dir's own SQLite file (no --database) is not its store either.
    assert_refused(&c, None, 2, "is empty");
    assert_eq!(blob_files(&c.state()), blobs, "no blob was deleted");
    c.start_coordinator();
    assert_eq!(c.json(&["status", "kept"])["runs"]["finished"], 1);
}
