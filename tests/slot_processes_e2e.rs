//! Slots as processes (`gptsweep worker --slot-processes always`), with real processes on
//! the CPU: each run of a slot trains in a child process of the worker, which stays one
//! worker. A sweep trains to completion with exact evaluations while the children are
//! visible; a SIGTERM drains every child and a second worker resumes their runs with no
//! step trained twice; a child killed fails its run only (the other slot's run finishes,
//! the worker keeps taking work), and a worker killed (or aborted by a second signal)
//! leaves no child behind.

mod common;

use std::time::Duration;

use common::{Cluster, TinySweep, eval_steps, stopped_at, wait_until};
use serde_json::Value;

/// The flags of a worker with two process slots on the CPU.
const PROCESS_SLOTS: [&str; 4] = ["--runs-per-device", "2", "--slot-processes", "always"];

/// The parent of process `pid` and whether it is a slot process, from /proc; `None` once
/// it is gone (or a zombie: it trains no more).
fn slot_process(pid: u32) -> Option<(u32, bool)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...": comm may hold spaces, so read after its ')'.
    let mut rest = stat.rsplit_once(')')?.1.split_whitespace();
    let state = rest.next()?;
    let ppid: u32 = rest.next()?.parse().ok()?;
    if state == "Z" {
        return None;
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
    let child = cmdline.split(|b| *b == 0).any(|arg| arg == b"slot-child");
    Some((ppid, child))
}

/// The process group of `pid`, from /proc.
fn process_group(pid: u32) -> Option<u32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit_once(')')?
        .1
        .split_whitespace()
        .nth(2)?
        .parse()
        .ok()
}

/// The live slot processes whose parent is `parent`.
fn slot_children(parent: u32) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| slot_process(*pid) == Some((parent, true)))
        .collect();
    pids.sort();
    pids
}

/// Which of `pids` still run as slot processes (under any parent).
fn still_running(pids: &[u32]) -> Vec<u32> {
    pids.iter()
        .copied()
        .filter(|pid| matches!(slot_process(*pid), Some((_, true))))
        .collect()
}

/// Waits until worker `w` trains in `n` slot processes; answers their ids.
fn wait_for_children(c: &Cluster, w: usize, n: usize) -> Vec<u32> {
    let pid = c.worker_pid(w);
    wait_until(
        &format!("worker {w} to train in {n} slot processes"),
        Duration::from_secs(120),
        || {
            let children = slot_children(pid);
            (children.len() == n).then_some(children)
        },
    )
}

/// The runs of `sweep`, by id.
fn runs(c: &Cluster, sweep: &str) -> Vec<String> {
    let mut ids: Vec<String> = c
        .json(&["top", sweep, "-n", "0"])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].to_string())
        .collect();
    ids.sort();
    ids
}

fn attempts(show: &Value) -> Vec<Value> {
    show["attempts"].as_array().unwrap().clone()
}

fn states(show: &Value) -> Vec<String> {
    attempts(show)
        .iter()
        .map(|a| a["state"].as_str().unwrap().to_string())
        .collect()
}

/// Waits until each of `runs` has reported at least `n` evaluations.
fn wait_for_evals(c: &Cluster, runs: &[String], n: usize) {
    for run in runs {
        wait_until(
            &format!("run {run} to report {n} evaluations"),
            Duration::from_secs(120),
            || (eval_steps(&c.json(&["show", run])).len() >= n).then_some(()),
        );
    }
}

/// Every `interval` steps up to `max`.
fn every(interval: u64, max: u64) -> Vec<u64> {
    (1..=max / interval).map(|i| i * interval).collect()
}

#[test]
fn process_slots_train_a_sweep_to_completion_in_child_processes() {
    let mut c = Cluster::start(0, 10.0);
    c.submit(
        &TinySweep::new("procs")
            .grid("seed", &[1, 2])
            .max_iters(3000)
            .eval_interval(100)
            .samples(1, 10),
    );
    let w = c.add_worker_with(&PROCESS_SLOTS);
    let children = wait_for_children(&c, w, 2);
    let exe = |pid: u32| std::fs::read_link(format!("/proc/{pid}/exe")).ok();
    for child in &children {
        assert_eq!(exe(*child), exe(c.worker_pid(w)), "the worker's own binary");
        assert_eq!(
            process_group(*child),
            Some(*child),
            "a process group of its own: a signal to the worker's group does not reach it"
        );
    }
    let status = c.json(&["status", "procs", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    for run in runs(&c, "procs") {
        let show = c.json(&["show", &run]);
        assert_eq!(eval_steps(&show), every(100, 3000), "{show}");
        assert_eq!(states(&show), ["finished"], "{show}");
        assert_eq!(show["samples"].as_array().unwrap().len(), 1, "{show}");
    }
    assert!(
        c.worker_log(w).contains("slots train in processes"),
        "{}",
        c.worker_log(w)
    );
    wait_until(
        "the finished runs' slot processes to exit",
        Duration::from_secs(10),
        || still_running(&children).is_empty().then_some(()),
    );
    let workers = c.json(&["workers"]);
    assert_eq!(
        workers.as_array().unwrap().len(),
        1,
        "one worker: {workers}"
    );
}

#[test]
fn sigterm_drains_every_child_and_a_second_worker_resumes_with_no_step_trained_twice() {
    let mut c = Cluster::start(0, 10.0);
    c.submit(
        &TinySweep::new("drain")
            .grid("seed", &[1, 2])
            .max_iters(20000)
            .eval_interval(100)
            .samples(1, 10),
    );
    let w = c.add_worker_with(&PROCESS_SLOTS);
    let children = wait_for_children(&c, w, 2);
    let ids = runs(&c, "drain");
    wait_for_evals(&c, &ids, 2);
    c.signal_worker(w, "TERM");
    let status = c.wait_worker(w, Duration::from_secs(30));
    assert!(status.success(), "after SIGTERM: {status}\n{}", c.logs());
    assert!(c.worker_log(w).contains("drained"), "{}", c.worker_log(w));
    assert_eq!(
        still_running(&children),
        Vec::<u32>::new(),
        "no slot process outlives its drained worker"
    );
    for run in &ids {
        let show = c.json(&["show", run]);
        assert_eq!(states(&show), ["preempted"], "{show}");
        let stopped = stopped_at(attempts(&show)[0]["reason"].as_str().unwrap());
        assert!(stopped > 0, "{show}");
    }

    c.add_worker_with(&PROCESS_SLOTS);
    let status = c.json(&["status", "drain", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    for run in &ids {
        let show = c.json(&["show", run]);
        assert_eq!(
            eval_steps(&show),
            every(100, 20000),
            "one evaluation per interval, none twice: {show}"
        );
        assert_eq!(states(&show), ["preempted", "finished"], "{show}");
        let a = attempts(&show);
        let stopped = stopped_at(a[0]["reason"].as_str().unwrap());
        assert_eq!(
            a[1]["resumed_from"].as_u64(),
            Some(stopped),
            "the second attempt resumes where the first stopped: {show}"
        );
    }
}

#[test]
fn a_killed_child_fails_its_run_only_and_a_killed_worker_leaves_no_child_behind() {
    let mut c = Cluster::start(0, 10.0);
    c.submit(
        &TinySweep::new("crash")
            .grid("seed", &[1, 2])
            .max_iters(20000)
            .eval_interval(100)
            .samples(1, 10),
    );
    let w = c.add_worker_with(&PROCESS_SLOTS);
    let children = wait_for_children(&c, w, 2);
    let ids = runs(&c, "crash");
    wait_for_evals(&c, &ids, 2);
    let killed = children[0];
    let out = std::process::Command::new("kill")
        .args(["-KILL", &killed.to_string()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");

    let status = c.json(&["status", "crash", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    let shows: Vec<Value> = ids.iter().map(|r| c.json(&["show", r])).collect();
    let (crashed, untouched): (Vec<&Value>, Vec<&Value>) =
        shows.iter().partition(|s| attempts(s).len() > 1);
    assert_eq!((crashed.len(), untouched.len()), (1, 1), "{shows:?}");
    let (crashed, untouched) = (crashed[0], untouched[0]);
    assert_eq!(states(untouched), ["finished"], "{untouched}");
    assert_eq!(eval_steps(untouched), every(100, 20000), "{untouched}");
    assert_eq!(states(crashed), ["failed", "finished"], "{crashed}");
    let reason = attempts(crashed)[0]["reason"].as_str().unwrap().to_string();
    assert!(
        reason.contains(&format!("slot process {killed} was killed by signal 9")),
        "{crashed}"
    );
    assert_eq!(eval_steps(crashed), every(100, 20000), "{crashed}");
    let workers = c.json(&["workers"]);
    assert_eq!(workers.as_array().unwrap().len(), 1, "{workers}");
    assert_eq!(workers[0]["alive"], true, "still registered: {workers}");
    assert!(
        attempts(crashed)[1]["worker"]
            .as_str()
            .unwrap()
            .starts_with("w0"),
        "the same worker took the run again: {crashed}"
    );

    // The worker itself killed mid-run: its children follow it within seconds.
    c.submit(
        &TinySweep::new("orphans")
            .grid("seed", &[1, 2])
            .max_iters(200000)
            .eval_interval(100),
    );
    let children = wait_for_children(&c, w, 2);
    wait_for_evals(&c, &runs(&c, "orphans"), 1);
    c.kill_worker(w);
    wait_until(
        "the killed worker's slot processes to exit",
        Duration::from_secs(5),
        || still_running(&children).is_empty().then_some(()),
    );

    // A second signal exits at once (no drain): the children are ended, not left training.
    let w = c.add_worker_with(&PROCESS_SLOTS);
    let children = wait_for_children(&c, w, 2);
    c.signal_worker(w, "TERM");
    c.signal_worker(w, "TERM");
    let status = c.wait_worker(w, Duration::from_secs(30));
    assert!(!status.success(), "a second signal is an abort: {status}");
    wait_until(
        "the aborted worker's slot processes to exit",
        Duration::from_secs(5),
        || still_running(&children).is_empty().then_some(()),
    );
}

#[test]
fn a_process_slot_trains_a_fetched_corpus_and_stops_at_a_rung_when_told() {
    // As sweep_e2e's early termination, in a process slot: the child waits for the answer
    // to each evaluation (forwarded by the worker) and stops right at the rung; its corpus
    // is the file the worker fetched into its cache.
    let mut c = Cluster::start(0, 10.0);
    c.write("corpus.txt", &common::shakespeare(40_000));
    let asha = TinySweep::new("asha")
        .dataset("corpus.txt")
        .grid("lr", &[0.01, 0.0003, 0.0001, 0.00001])
        .train("n_embd", 32)
        .train("block_size", 32)
        .train("batch_size", 16)
        .max_iters(40)
        .eval_interval(10)
        .hyperband(1, 3)
        .no_samples();
    assert_eq!(c.submit(&asha)["runs"], 4);
    let w = c.add_worker_with(&["--runs-per-device", "1", "--slot-processes", "always"]);
    let status = c.json(&["status", "asha", "--watch"]);
    assert_eq!(status["state"], "finished", "{}", c.logs());
    let top = c.json(&["top", "asha", "-n", "0"]);
    let rows = top.as_array().unwrap();
    assert_eq!(rows[0]["state"], "finished", "{top}");
    let best = rows[0]["run"].as_i64().unwrap().to_string();
    assert_eq!(eval_steps(&c.json(&["show", &best])), every(10, 40));
    for row in &rows[1..] {
        assert_eq!(row["state"], "stopped", "{top}");
        let show = c.json(&["show", &row["run"].as_i64().unwrap().to_string()]);
        assert_eq!(eval_steps(&show), [10], "trained on past the rung: {show}");
    }
    assert!(
        c.worker_log(w).contains("slots train in processes"),
        "{}",
        c.worker_log(w)
    );
}
