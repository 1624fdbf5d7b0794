//! `--log-format json` on the real binary: every line the coordinator and a worker log is
//! one JSON object with the stable keys, and the events of a run carry its id as a field.

mod common;

use common::{Cluster, TinySweep};
use serde_json::Value;

/// Each line of `log` parsed, failing on one that is not a JSON object with `timestamp`,
/// `level`, `target` and `message`.
fn json_lines(log: &str) -> Vec<Value> {
    log.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value =
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
            for key in ["timestamp", "level", "target", "message"] {
                assert!(v.get(key).is_some(), "no {key} in {l}");
            }
            v
        })
        .collect()
}

#[test]
fn json_logs_are_one_object_a_line_with_the_runs_id_as_a_field() {
    let mut c = Cluster::start_with_coordinator_args(0, 5.0, &["--log-format", "json"]);
    let w = c.add_worker_with(&["--log-format", "json"]);
    c.submit(&TinySweep::new("logged"));
    let status = c.json(&["status", "logged", "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{status}");
    let coordinator =
        json_lines(&std::fs::read_to_string(c.dir.path().join("coordinator0.log")).unwrap());
    assert!(
        coordinator
            .iter()
            .any(|l| l["message"].as_str().unwrap().contains("new store")),
        "{coordinator:?}"
    );
    let worker = json_lines(&c.worker_log(w));
    let training = worker
        .iter()
        .find(|l| l["message"] == "training")
        .unwrap_or_else(|| panic!("no training event in {worker:?}"));
    assert_eq!(training["run"], "1", "{training}");
    assert_eq!(training["level"], "INFO");
}
