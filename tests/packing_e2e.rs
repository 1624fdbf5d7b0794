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
