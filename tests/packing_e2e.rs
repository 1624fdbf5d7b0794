//! Packing runs onto one device (`gptsweep worker --runs-per-device N`), with real
//! processes: two runs of one sweep train at the same time on one CPU device (their
//! attempts overlap in time), and with one slot they never do.

mod common;

use common::{Cluster, TinySweep};
use serde_json::Value;

/// (start, end) in ms of the one attempt of each run of `sweep`, with its worker and device.
fn spans(c: &Cluster, sweep: &str) -> Vec<(i64, i64, String, String)> {
    let top = c.json(&["top", sweep, "-n", "0"]);
    top.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let show = c.json(&["show", &r["run"].to_string()]);
            let a: &Value = &show["attempts"][0];
            assert_eq!(show["attempts"].as_array().unwrap().len(), 1, "{show}");
            (
                a["started_at_ms"].as_i64().unwrap(),
                a["ended_at_ms"].as_i64().unwrap(),
                a["worker"].as_str().unwrap().to_string(),
                a["device"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Whether two spans share some time.
fn overlap(a: &(i64, i64, String, String), b: &(i64, i64, String, String)) -> bool {
    a.0 < b.1 && b.0 < a.1
}

fn two_runs(name: &str) -> TinySweep {
    TinySweep::new(name)
        .grid("seed", &[1, 2])
        .max_iters(600)
        .eval_interval(100)
}

#[test]
fn with_two_slots_two_runs_train_at_once_on_one_device_and_with_one_they_do_not() {
    let mut c = Cluster::start(0, 10.0);
    c.add_worker_with(&["--runs-per-device", "2"]);
    c.submit(&two_runs("packed"));
    let status = c.json(&["status", "packed", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    let s = spans(&c, "packed");
    assert_eq!((s[0].2.as_str(), s[0].3.as_str()), (s[1].2.as_str(), "cpu"));
    assert_eq!(s[0].3, s[1].3, "one device");
    assert!(overlap(&s[0], &s[1]), "the two attempts overlap: {s:?}");

    c.add_worker_with(&["--runs-per-device", "1"]);
    c.kill_worker(0);
    c.submit(&two_runs("single"));
    let status = c.json(&["status", "single", "--watch"]);
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    let s = spans(&c, "single");
    assert!(
        !overlap(&s[0], &s[1]),
        "one slot trains one run at a time: {s:?}"
    );
}

/// The most runs of `worker` (a `name#id` prefix) that trained at once, over `spans`.
fn most_at_once(spans: &[(i64, i64, String, String)], worker: &str) -> usize {
    let mine: Vec<_> = spans.iter().filter(|s| s.2.starts_with(worker)).collect();
    mine.iter()
        .map(|a| mine.iter().filter(|b| b.0 <= a.0 && a.0 < b.1).count())
        .max()
        .unwrap_or(0)
}

#[test]
fn packing_by_memory_never_oversubscribes_and_a_run_too_big_waits_for_a_device_it_fits() {
    let mut c = Cluster::start(0, 10.0);
    // A tiny run (batch 8) is estimated at about 0.4 MB and a batch of 64 at about 2.6 MB:
    // a device of 700 KB holds one tiny run at a time (though it has two slots: one per
    // core, at least two), and never the big one.
    c.submit(
        &TinySweep::new("big")
            .train("batch_size", 64)
            .max_iters(100)
            .eval_interval(50),
    );
    c.submit(
        &TinySweep::new("small")
            .grid("seed", &[1, 2, 3, 4])
            .max_iters(600)
            .eval_interval(100),
    );
    c.add_worker_with(&["--runs-per-device", "auto", "--device-memory", "700KB"]);
    let status = c.json(&["status", "small", "--watch"]);
    assert_eq!(status["runs"]["finished"], 4, "{}", c.logs());
    let s = spans(&c, "small");
    assert_eq!(most_at_once(&s, "w0#"), 1, "one fits at a time: {s:?}");
    let workers = c.json(&["workers"]);
    assert_eq!(workers[0]["loads"][0]["memory_bytes"], 700_000, "{workers}");

    // The big run waited: it fits no device of w0.
    let big = c.json(&["status", "big"]);
    assert_eq!(big["runs"]["queued"], 1, "{big}");
    c.add_worker();
    let big = c.json(&["status", "big", "--watch"]);
    assert_eq!(big["runs"]["finished"], 1, "{}", c.logs());
    let s = spans(&c, "big");
    assert!(
        s[0].2.starts_with("w1#"),
        "the big run went where it fits: {s:?}"
    );
}
