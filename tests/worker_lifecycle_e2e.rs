//! A worker's life on a cluster, with real processes: SIGTERM hands its run back at the
//! next step with a checkpoint taken there (the run goes on elsewhere, no step trained
//! twice, no attempt counted), a misconfigured node exits 2 before it takes any work, a
//! device whose runs fail in a row stops taking work while another worker finishes the
//! sweep, and an idle worker leaves on its own.

mod common;

use std::time::Duration;

use common::{Cluster, TinySweep, eval_steps, shakespeare, stopped_at, wait_until};
use serde_json::Value;

/// The run's attempts from `show --output json`.
fn attempts(show: &Value) -> Vec<Value> {
    show["attempts"].as_array().unwrap().clone()
}

#[test]
fn three_sigterms_hand_the_run_back_with_no_step_trained_twice() {
    let mut c = Cluster::start(0, 10.0);
    let sub = c.submit(
        &TinySweep::new("preempt")
            .max_iters(6000)
            .eval_interval(100)
            .samples(1, 10),
    );
    assert_eq!(sub["runs"], 1);
    let run = c.json(&["top", "preempt"])[0]["run"]
        .as_i64()
        .unwrap()
        .to_string();
    for k in 0..3 {
        let w = c.add_worker();
        let before = eval_steps(&c.json(&["show", &run])).len();
        wait_until(
            &format!("worker {w} to report two evaluations"),
            Duration::from_secs(120),
            || (eval_steps(&c.json(&["show", &run])).len() >= before + 2).then_some(()),
        );
        c.signal_worker(w, "TERM");
        let status = c.wait_worker(w, Duration::from_secs(30));
        assert!(
            status.success(),
            "worker {w} after SIGTERM: {status}\n{}",
            c.logs()
        );
        let show = c.json(&["show", &run]);
        let a = attempts(&show);
        assert_eq!(a.len(), k + 1, "{show}");
        assert_eq!(a[k]["state"], "preempted", "{show}");
        assert!(
            c.worker_log(w).contains("drained"),
            "worker {w} says it drained: {}",
            c.worker_log(w)
        );
    }
    let last = c.add_worker();
    let status = c.json(&["status", "preempt", "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{}", c.logs());

    let show = c.json(&["show", &run]);
    let want: Vec<u64> = (1..=60).map(|i| i * 100).collect();
    assert_eq!(
        eval_steps(&show),
        want,
        "one evaluation per interval, none twice"
    );
    let a = attempts(&show);
    let states: Vec<&str> = a.iter().map(|x| x["state"].as_str().unwrap()).collect();
    assert_eq!(
        states,
        ["preempted", "preempted", "preempted", "finished"],
        "{show}"
    );
    assert_eq!(a[0]["resumed_from"], 0);
    for i in 1..4 {
        let stopped = stopped_at(a[i - 1]["reason"].as_str().unwrap());
        assert!(stopped > 0, "{show}");
        assert_eq!(
            a[i]["resumed_from"].as_u64(),
            Some(stopped),
            "attempt {i} resumes exactly where attempt {} stopped: {show}",
            i - 1
        );
    }
    // Not one of the three hand-backs was counted: the last lease is the run's attempt 1.
    assert!(
        c.worker_log(last).contains("attempt=1"),
        "{}",
        c.worker_log(last)
    );
    let workers = c.json(&["workers"]);
    for w in &workers.as_array().unwrap()[..3] {
        assert_eq!(w["alive"], false, "{w}");
        assert!(w["left"].as_str().unwrap().contains("signal"), "{w}");
    }
}

#[test]
fn a_misconfigured_worker_exits_2_and_the_queued_runs_stay_queued() {
    let c = Cluster::start(0, 10.0);
    c.submit(&TinySweep::new("waiting").grid("seed", &[1, 2]));
    let file = c.write("not-a-dir", "x");
    for (args, says) in [
        (
            vec!["--devices", "cuda:0"],
            "built without CUDA support".to_string(),
        ),
        (
            vec!["--devices", "cpu", "--cache-dir", file.to_str().unwrap()],
            "not-a-dir: is not a directory".to_string(),
        ),
    ] {
        let out = c.cli(&[&["worker", "--poll", "1"][..], &args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(&says), "{args:?}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    }
    let status = c.json(&["status", "waiting"]);
    assert_eq!(status["runs"]["queued"], 2, "{status}");
    assert_eq!(c.json(&["workers"]).as_array().unwrap().len(), 0);
}

#[test]
fn a_device_failing_three_runs_in_a_row_stops_while_another_worker_finishes() {
    let mut c = Cluster::start(0, 10.0);
    c.write("corpus.txt", &shakespeare(20_000));
    let bad = c.add_worker();
    wait_until("the worker to register", Duration::from_secs(60), || {
        (c.json(&["workers"]).as_array().unwrap().len() == 1).then_some(())
    });
    // The node's disk goes bad after start-up: its cache directory becomes a file.
    std::fs::remove_dir_all(c.cache_dir(bad)).unwrap();
    std::fs::write(c.cache_dir(bad), "not a directory any more").unwrap();
    c.submit(
        &TinySweep::new("faults")
            .dataset("corpus.txt")
            .grid("seed", &[1, 2, 3]),
    );
    let status = c.wait_worker(bad, Duration::from_secs(60));
    assert_eq!(status.code(), Some(1), "{}", c.logs());
    assert!(
        c.worker_log(bad).contains("every device is disabled"),
        "{}",
        c.worker_log(bad)
    );
    let workers = c.json(&["workers"]);
    let w0 = &workers[0];
    let disabled = w0["disabled"].as_array().unwrap();
    assert_eq!(disabled.len(), 1, "{w0}");
    assert_eq!(disabled[0]["device"], "cpu");
    assert!(
        disabled[0]["reason"]
            .as_str()
            .unwrap()
            .contains("3 runs failed in a row on cpu"),
        "{w0}"
    );
    let status = c.json(&["status", "faults"]);
    assert_eq!(status["runs"]["queued"], 3, "nothing was failed: {status}");

    let good = c.add_worker();
    let status = c.json(&["status", "faults", "--watch"]);
    assert_eq!(status["runs"]["finished"], 3, "{}", c.logs());
    let top = c.json(&["top", "faults"]);
    let faulted: Vec<Value> = top
        .as_array()
        .unwrap()
        .iter()
        .map(|r| c.json(&["show", &r["run"].to_string()]))
        .filter(|s| attempts(s).iter().any(|a| a["state"] == "worker_fault"))
        .collect();
    let faults: usize = faulted
        .iter()
        .map(|s| {
            attempts(s)
                .iter()
                .filter(|a| a["state"] == "worker_fault")
                .count()
        })
        .sum();
    assert_eq!(faults, 3, "three worker faults, none counted against a run");
    assert!(
        !c.worker_log(good).contains("attempt=2"),
        "{}",
        c.worker_log(good)
    );
}

#[test]
fn an_idle_worker_leaves_after_idle_exit() {
    let mut c = Cluster::start(0, 10.0);
    let w = c.add_worker_with(&["--idle-exit", "1"]);
    let status = c.wait_worker(w, Duration::from_secs(30));
    assert!(status.success(), "{status}: {}", c.logs());
    let workers = c.json(&["workers"]);
    assert_eq!(workers[0]["alive"], false, "{workers}");
    assert!(
        workers[0]["left"].as_str().unwrap().contains("idle"),
        "{workers}"
    );
}

/// An idle worker polls with the default 20 s wait; SIGTERM or SIGINT must not wait it out.
/// Under 3 s (it takes well under one) leaves room for a loaded CI machine; the 20 s poll
/// it used to wait for is far above.
#[test]
fn an_idle_worker_stops_at_once_on_sigterm_or_sigint_and_shows_as_left() {
    let mut c = Cluster::start(0, 10.0);
    for (i, signal) in ["TERM", "INT"].into_iter().enumerate() {
        let w = c.add_worker_with(&["--poll", "20"]);
        assert_eq!(w, i);
        wait_until(
            "the worker to poll for work",
            Duration::from_secs(30),
            || {
                let workers = c.json(&["workers"]);
                (workers.as_array().unwrap().len() == i + 1 && workers[i]["alive"] == true)
                    .then_some(())
            },
        );
        // Well inside its first 20 s poll.
        std::thread::sleep(Duration::from_millis(500));
        let sent = std::time::Instant::now();
        c.signal_worker(w, signal);
        let status = c.wait_worker(w, Duration::from_secs(30));
        let took = sent.elapsed();
        assert!(status.success(), "SIG{signal}: {status}: {}", c.logs());
        assert!(
            took < Duration::from_secs(3),
            "an idle worker took {took:?} to stop on SIG{signal}\n{}",
            c.logs()
        );
        let workers = c.json(&["workers"]);
        assert_eq!(workers[i]["alive"], false, "{workers}");
        assert_eq!(
            workers[i]["left"], "stopped by a signal; every run handed back",
            "{workers}"
        );
        let text = String::from_utf8(c.cli(&["workers"]).stdout).unwrap();
        let line = text
            .lines()
            .find(|l| l.contains(&format!("w{i}")))
            .unwrap_or_else(|| panic!("no w{i} in:\n{text}"));
        assert!(
            line.contains("left: stopped by a signal") && !line.contains("alive"),
            "{line}"
        );
    }
}
