//! Runs that go wrong, with real processes: a worker killed mid-run loses its lease and the
//! run finishes elsewhere; a diverging run is marked failed with its error and can be retried.

mod common;

use std::time::Duration;

use common::{Cluster, TinySweep, eval_steps, wait_until};

#[test]
fn a_killed_workers_run_resumes_on_another_from_its_last_checkpoint() {
    let mut c = Cluster::start(1, 1.0);
    c.submit(
        &TinySweep::new("one")
            .max_iters(3000)
            .eval_interval(100)
            .samples(1, 10),
    );
    wait_until("two evaluations", Duration::from_secs(60), || {
        (c.json(&["status", "one"])["evals_stored"].as_u64().unwrap() >= 2).then_some(())
    });
    let seen = *eval_steps(&c.json(&["show", "1"])).last().unwrap();
    let killed_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    c.kill_worker(0);
    c.add_worker();
    let status = c.json(&["status", "one", "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{}", c.logs());
    let show = c.json(&["show", "1"]);
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{show}");
    assert_eq!(attempts[0]["state"], "expired");
    assert!(attempts[0]["worker"].as_str().unwrap().starts_with("w0"));
    assert_eq!(attempts[1]["state"], "finished");
    let resumed = attempts[1]["resumed_from"].as_u64().unwrap();
    assert!(
        resumed > 0 && resumed + 100 >= seen,
        "resumed from step {resumed}, last evaluation seen before the kill {seen}"
    );
    assert_eq!(resumed % 100, 0, "checkpoints are taken at evaluations");
    let restarted = attempts[1]["started_at_ms"].as_i64().unwrap();
    eprintln!(
        "kill -9 -> resumed attempt leased after {} ms (lease timeout 1 s); resumed at step {resumed}, last evaluation before the kill {seen}",
        restarted - killed_at
    );
    assert!(attempts[1]["worker"].as_str().unwrap().starts_with("w1"));
    let steps: Vec<u64> = eval_steps(&show);
    assert_eq!(
        steps,
        (1..=30).map(|i| i * 100).collect::<Vec<_>>(),
        "one evaluation per interval, none twice"
    );
    assert_eq!(show["samples"].as_array().unwrap().len(), 1);
}

#[test]
fn a_diverging_run_fails_with_its_error_and_can_be_retried() {
    let c = Cluster::start(1, 5.0);
    c.submit(
        &TinySweep::new("boom")
            .train("lr", 1.0e30)
            .without("dropout") // the model's default, as this test always had it
            .max_iters(20)
            .eval_interval(10),
    );
    let status = c.json(&["status", "boom", "--watch"]);
    assert_eq!(status["runs"]["failed"], 1, "{}", c.logs());
    assert_eq!(status["state"], "finished");
    let show = c.json(&["show", "1"]);
    assert_eq!(show["state"], "failed");
    let error = show["error"].as_str().unwrap();
    assert!(
        error.starts_with("failed 3 of 3 allowed attempts; attempt 1: training diverged"),
        "{error}"
    );
    assert!(error.contains("attempt 3: training diverged"), "{error}");
    assert_eq!(show["attempts"].as_array().unwrap().len(), 3);

    let retry = c.json(&["retry", "boom", "--failed"]);
    assert_eq!(retry["requeued"], 1);
    let status = c.json(&["status", "boom", "--watch"]);
    assert_eq!(status["runs"]["failed"], 1);
    let show = c.json(&["show", "1"]);
    let states: Vec<&str> = show["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        vec!["failed"; 6],
        "3 attempts, then 3 more after the retry"
    );
}

#[test]
fn local_runs_a_sweep_to_its_end_and_prints_top_and_samples() {
    let dir = tempfile::tempdir().unwrap();
    let file = TinySweep::new("tiny")
        .grid("n_layer", &[1, 2])
        .without("dropout") // the model's default, as this test always had it
        .max_iters(20)
        .eval_interval(10)
        .samples(1, 12)
        .write_in(dir.path());
    let out = std::process::Command::new(common::bin())
        .args([
            "local",
            file.to_str().unwrap(),
            "--output",
            "json",
            "--state-dir",
        ])
        .arg(dir.path().join("state"))
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sweep"]["state"], "finished");
    assert_eq!(v["sweep"]["runs"]["finished"], 2);
    let top = v["top"].as_array().unwrap();
    assert_eq!(top.len(), 2);
    assert!(
        top.iter()
            .all(|r| r["params"]["n_layer"].is_number() && r["run"].is_number()),
        "the same rows as `top --output json`: {top:?}"
    );
    let samples = v["samples"].as_array().unwrap();
    assert_eq!(samples.len(), 2);
    assert!(
        samples
            .iter()
            .all(|r| r["samples"].as_array().unwrap().len() == 1)
    );
    assert!(dir.path().join("state/gptsweep.db").exists());

    let text = std::process::Command::new(common::bin())
        .args(["local", file.to_str().unwrap(), "--state-dir"])
        .arg(dir.path().join("state2"))
        .output()
        .unwrap();
    assert!(text.status.success());
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(
        stdout.contains("RANK") && stdout.contains("n_layer") && stdout.contains("#1 run"),
        "{stdout}"
    );
}

#[test]
fn a_sweep_survives_a_coordinator_killed_and_restarted() {
    survives_a_coordinator_killed_and_restarted(Cluster::start(2, 10.0));
}

#[test]
fn a_sweep_survives_a_coordinator_killed_and_restarted_on_postgres() {
    if let Some(c) = Cluster::start_postgres(2, 10.0) {
        survives_a_coordinator_killed_and_restarted(c);
    }
}

fn survives_a_coordinator_killed_and_restarted(mut c: Cluster) {
    c.submit(
        &TinySweep::new("four")
            .grid("seed", &[1, 2, 3, 4])
            .max_iters(1500)
            .eval_interval(100)
            .samples(1, 10),
    );
    wait_until(
        "evaluations before the crash",
        Duration::from_secs(60),
        || {
            (c.json(&["status", "four"])["evals_stored"]
                .as_u64()
                .unwrap()
                >= 3)
                .then_some(())
        },
    );
    c.restart_coordinator();
    let status = c.json(&["status", "four", "--watch"]);
    assert_eq!(status["runs"]["finished"], 4, "{}", c.logs());
    assert_eq!(
        status["evals_stored"],
        4 * 15,
        "every evaluation stored exactly once"
    );
    for run in 1..=4 {
        let show = c.json(&["show", &run.to_string()]);
        let steps: Vec<u64> = eval_steps(&show);
        assert_eq!(
            steps,
            (1..=15).map(|i| i * 100).collect::<Vec<_>>(),
            "run {run}"
        );
        let attempts = show["attempts"].as_array().unwrap();
        for pair in attempts.windows(2) {
            let ended = pair[0]["ended_at_ms"]
                .as_i64()
                .expect("an earlier attempt has ended");
            assert!(
                ended <= pair[1]["started_at_ms"].as_i64().unwrap(),
                "run {run} was held by two workers at once: {attempts:?}"
            );
        }
        assert_eq!(attempts.last().unwrap()["state"], "finished");
    }
    // The restarted coordinator knew the workers by the keys they registered with.
    assert_eq!(c.json(&["workers"]).as_array().unwrap().len(), 2);
    for i in 0..2 {
        let log = c.worker_log(i);
        assert!(!log.contains("registering again"), "worker {i}: {log}");
    }
}
