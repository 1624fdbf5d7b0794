//! The coordinator's own life, with real processes: SIGTERM ends it with 0 and a restart
//! carries on; a second coordinator on the same state is refused naming the holder; an
//! outage longer than the lease timeout loses no trained step; storage faults (a deleted
//! or unwritable blob folder) are not the worker's; nothing is kept of a refused submit, and orphan blobs
//! are collected at start.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Cluster, TinySweep, eval_steps, shakespeare, wait_until};

/// Evaluations of a [`long_run`].
const EVALS: u64 = 30;
/// Steps between them.
const INTERVAL: u64 = 200;

/// A one-run sweep long enough to outlive what the test does to the coordinator:
/// [`EVALS`] evaluations, one every [`INTERVAL`] steps.
fn long_run(name: &str) -> TinySweep {
    TinySweep::new(name)
        .max_iters(EVALS * INTERVAL)
        .eval_interval(INTERVAL)
        .samples(1, 10)
}

/// The evaluations sweep `name` has stored.
fn evals_stored(c: &Cluster, name: &str) -> u64 {
    c.json(&["status", name])["evals_stored"].as_u64().unwrap()
}

/// Waits until sweep `name` has stored at least `n` evaluations.
fn wait_for_evals(c: &Cluster, name: &str, n: u64) {
    wait_until("evaluations", Duration::from_secs(60), || {
        (evals_stored(c, name) >= n).then_some(())
    });
}

/// Waits for run 1 of sweep `name` to end, and checks it finished in one attempt with
/// exactly one evaluation per interval: nothing trained twice, nothing lost.
fn assert_finished_in_one_attempt(c: &Cluster, name: &str) {
    let status = c.json(&["status", name, "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{status}\n{}", c.logs());
    let show = c.json(&["show", "1"]);
    assert_eq!(
        eval_steps(&show),
        (1..=EVALS).map(|i| i * INTERVAL).collect::<Vec<u64>>(),
        "one evaluation per interval, none twice, none missing"
    );
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 1, "one attempt: {show}\n{}", c.logs());
    assert_eq!(attempts[0]["state"], "finished");
    assert_eq!(
        attempts[0]["resumed_from"], 0,
        "never trained again from a checkpoint"
    );
}

/// The files directly in `dir`, by name.
fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

#[test]
fn sigterm_and_sigint_end_the_coordinator_with_0_and_a_restart_serves_the_same_sweep() {
    // Two workers: one trains, the other waits in a long poll (2 s) that the signal cuts short.
    let mut c = Cluster::start(2, 2.0);
    c.submit(&long_run("term"));
    for (generation, signal) in ["TERM", "INT"].into_iter().enumerate() {
        wait_for_evals(&c, "term", 2 + 2 * generation as u64);
        let start = Instant::now();
        let status = c.signal_coordinator(signal, Duration::from_secs(15));
        let took = start.elapsed();
        eprintln!("SIG{signal} ended the coordinator in {took:?}");
        assert!(status.success(), "SIG{signal}: {status}\n{}", c.logs());
        assert!(
            took < Duration::from_millis(1500),
            "SIG{signal} took {took:?}: longer than the idle worker's 2 s poll, so the poll \
             was not cut short"
        );
        let log = c.dir.path().join(format!("coordinator{generation}.log"));
        let log = std::fs::read_to_string(log).unwrap();
        assert!(
            log.contains(&format!("SIG{signal}: accepting nothing more")),
            "{log}"
        );
        c.start_coordinator();
        assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 1);
    }
    assert_finished_in_one_attempt(&c, "term");
}

#[test]
fn a_second_coordinator_on_the_same_state_is_refused_naming_the_holder() {
    let c = Cluster::start(0, 2.0);
    let before = files_in(&c.state());
    // The holder's line names its address once it listens.
    let lock_before = wait_until(
        "the lock to name the address",
        Duration::from_secs(10),
        || {
            let line = std::fs::read_to_string(c.state().join("lock")).unwrap();
            line.contains("listening on").then_some(line)
        },
    );
    let access_before = std::fs::read_to_string(c.state().join("access.json")).unwrap();
    let out = c.second_coordinator(Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let expected = format!(
        "error: state dir {} is in use: held by pid {} (listening on {}); stop that \
         coordinator or give another --state-dir",
        c.state().display(),
        c.coordinator_pid(),
        c.addr()
    );
    assert!(
        stderr.lines().any(|l| l == expected),
        "expected the line {expected:?} in:\n{stderr}"
    );
    assert!(out.stdout.is_empty(), "it never said it listens");
    assert_eq!(
        files_in(&c.state()),
        before,
        "the refused one created nothing"
    );
    assert_eq!(
        std::fs::read_to_string(c.state().join("lock")).unwrap(),
        lock_before
    );
    assert_eq!(
        std::fs::read_to_string(c.state().join("access.json")).unwrap(),
        access_before
    );
    // The holder serves on.
    assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 0);
}

#[test]
fn an_outage_of_twice_the_lease_timeout_loses_no_trained_step() {
    outage_of_twice_the_lease_timeout(Cluster::start(1, LEASE));
}

#[test]
fn an_outage_of_twice_the_lease_timeout_loses_no_trained_step_on_postgres() {
    if let Some(c) = Cluster::start_postgres(1, LEASE) {
        outage_of_twice_the_lease_timeout(c);
    }
}

/// The lease timeout of the outage tests, seconds.
const LEASE: f64 = 2.0;

fn outage_of_twice_the_lease_timeout(mut c: Cluster) {
    let lease = LEASE;
    c.submit(&long_run("outage"));
    wait_for_evals(&c, "outage", 2);
    c.kill_coordinator();
    std::thread::sleep(Duration::from_secs_f64(2.0 * lease));
    c.start_coordinator();
    let after = evals_stored(&c, "outage");
    eprintln!("evaluations stored right after the restart: {after} of {EVALS}");
    assert_finished_in_one_attempt(&c, "outage");
}

#[test]
fn deleting_the_checkpoints_folder_mid_run_does_not_fail_the_run() {
    let c = Cluster::start(1, 2.0);
    c.submit(&long_run("gone"));
    wait_for_evals(&c, "gone", 2);
    let folder = c.state().join("checkpoints");
    std::fs::remove_dir_all(&folder).unwrap();
    assert_finished_in_one_attempt(&c, "gone");
    let kept = files_in(&folder);
    assert!(
        kept.len() == 1 && kept[0].ends_with(".ckpt"),
        "the folder is made again and holds the run's latest checkpoint: {kept:?}"
    );
}

#[test]
fn a_checkpoints_folder_that_cannot_be_written_is_the_coordinators_fault_not_the_workers() {
    let c = Cluster::start(1, 2.0);
    c.submit(&long_run("blocked"));
    wait_for_evals(&c, "blocked", 2);
    // A file where the folder was: every checkpoint upload fails on the coordinator's side.
    let folder = c.state().join("checkpoints");
    std::fs::remove_dir_all(&folder).unwrap();
    std::fs::write(&folder, b"in the way").unwrap();
    assert_finished_in_one_attempt(&c, "blocked");
    let log = std::fs::read_to_string(c.dir.path().join("coordinator0.log")).unwrap();
    assert!(
        log.contains("checkpoint not stored: coordinator storage:"),
        "the coordinator says whose fault it is:\n{log}"
    );
}

#[test]
fn a_refused_submit_leaves_no_dataset_blob() {
    let c = Cluster::start(0, 2.0);
    c.submit(&TinySweep::new("taken"));
    c.write("corpus.txt", &shakespeare(20_000));
    let file = TinySweep::new("taken")
        .dataset("corpus.txt")
        .write_in(c.dir.path());
    let out = c.cli(&["submit", file.to_str().unwrap()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a second sweep named taken: {stderr}"
    );
    assert!(stderr.contains("taken"), "{stderr}");
    assert_eq!(
        files_in(&c.state().join("datasets")),
        Vec::<String>::new(),
        "the refused submit's upload is gone"
    );
    // The same corpus under a free name is uploaded again and kept.
    let file = TinySweep::new("free")
        .dataset("corpus.txt")
        .write_in(c.dir.path());
    c.json(&["submit", file.to_str().unwrap()]);
    assert_eq!(files_in(&c.state().join("datasets")).len(), 1);
}

#[test]
fn orphan_blobs_and_staged_files_are_collected_at_start() {
    let mut c = Cluster::start(0, 2.0);
    c.write("corpus.txt", &shakespeare(20_000));
    let file = TinySweep::new("kept")
        .dataset("corpus.txt")
        .write_in(c.dir.path());
    c.json(&["submit", file.to_str().unwrap()]);
    let datasets = c.state().join("datasets");
    let checkpoints = c.state().join("checkpoints");
    let kept = files_in(&datasets);
    assert_eq!(kept.len(), 1);
    let orphan = format!("{}.ckpt", "ab".repeat(32));
    std::fs::write(checkpoints.join(&orphan), b"no run refers to me").unwrap();
    std::fs::write(checkpoints.join(".ab.1.2.partial"), b"half").unwrap();
    std::fs::write(datasets.join(format!("{}.txt", "cd".repeat(32))), b"x").unwrap();
    std::fs::write(datasets.join("notes.md"), b"not ours").unwrap();
    c.restart_coordinator();
    assert_eq!(files_in(&checkpoints), Vec::<String>::new());
    let mut expected = kept.clone();
    expected.push("notes.md".to_string());
    expected.sort();
    assert_eq!(
        files_in(&datasets),
        expected,
        "blobs in use and files not ours stay"
    );
    assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 1);
}
