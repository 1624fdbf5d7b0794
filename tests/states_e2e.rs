//! Run states that read right, on the real binary: a cancel stops a running run and
//! cancels a queued one, and `retry --cancelled` queues both again (it used to leave the
//! stopped one); `show` reads the stop as an outcome (`stopped: the sweep was cancelled`,
//! JSON `stop_reason`) rather than an `error`, and prints the hyperparameters as an
//! aligned table with the swept ones marked, not as one line of JSON; `sweeps` counts
//! the stopped and cancelled runs as done; a running run's `show` says its step, tok/s
//! and ETA.

mod common;

use std::time::Duration;

use common::{Cluster, TinySweep, wait_until};
use serde_json::Value;

#[test]
fn retry_cancelled_requeues_what_cancel_stopped_and_show_reads_it_as_an_outcome() {
    let c = Cluster::start(1, 10.0);
    c.submit(
        &TinySweep::new("halt")
            .grid("lr", &[0.01, 0.02])
            .max_iters(1_000_000)
            .eval_interval(10)
            .no_samples(),
    );
    // The first run has reported an evaluation: it is training.
    let run = wait_until("a run training", Duration::from_secs(120), || {
        let top = c.json(&["top", "halt", "-n", "0"]);
        top.as_array()?
            .iter()
            .find(|r| r["state"] == "running")
            .and_then(|r| r["run"].as_i64())
    })
    .to_string();
    // A running run says where it is, once it has reported an evaluation.
    wait_until("an evaluation", Duration::from_secs(120), || {
        let show = c.json(&["show", &run]);
        (!show["evals"].as_array()?.is_empty()).then_some(())
    });
    let running = c.cli(&["show", &run]);
    let running = String::from_utf8_lossy(&running.stdout);
    let progress = running
        .lines()
        .find(|l| l.starts_with("progress: step "))
        .unwrap_or_else(|| panic!("no progress line: {running}"));
    assert!(
        progress.contains(" of 1000000 (") && progress.contains(" tok/s, ETA "),
        "{progress}"
    );

    let cancel = c.json(&["cancel", "halt"]);
    assert_eq!(
        (&cancel["cancelled_queued"], &cancel["stopping_running"]),
        (&Value::from(1), &Value::from(1)),
        "{cancel}"
    );
    wait_until("the running run stopped", Duration::from_secs(120), || {
        let status = c.json(&["status", "halt"]);
        (status["runs"]["stopped"] == 1 && status["runs"]["running"] == 0).then_some(())
    });

    let show = c.cli(&["show", &run]);
    let text = String::from_utf8_lossy(&show.stdout);
    assert!(
        show.status.success(),
        "{}",
        String::from_utf8_lossy(&show.stderr)
    );
    assert!(text.contains("stopped: the sweep was cancelled"), "{text}");
    assert!(!text.contains("error"), "a stop is not an error: {text}");
    let lines: Vec<&str> = text.lines().collect();
    let header = lines
        .iter()
        .position(|l| l.trim_start().starts_with("HYPERPARAMETER"))
        .unwrap_or_else(|| panic!("no table of hyperparameters: {text}"));
    assert!(
        lines[header + 1].starts_with("*  lr "),
        "swept first: {text}"
    );
    let column = lines[header].find("VALUE").unwrap();
    for row in &lines[header + 1..header + 5] {
        assert!(
            row.len() > column && row.as_bytes()[column - 1] == b' ',
            "values aligned under VALUE: {text}"
        );
    }
    assert!(!text.contains("{\""), "no one-line JSON: {text}");
    let json = c.json(&["show", &run]);
    assert_eq!(json["error"], "", "{json}");
    assert_eq!(json["stop_reason"], "the sweep was cancelled", "{json}");

    // Both runs have ended: `sweeps` says so (it counted only finished runs as done).
    let sweeps = c.cli(&["sweeps"]);
    let sweeps = String::from_utf8_lossy(&sweeps.stdout);
    let row: Vec<&str> = sweeps
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("halt"))
        .unwrap_or_else(|| panic!("{sweeps}"))
        .split_whitespace()
        .collect();
    assert_eq!(row[5], "2/2", "DONE: every run ended: {sweeps}");

    let retry = c.json(&["retry", "halt", "--cancelled"]);
    assert_eq!(
        retry["requeued"], 2,
        "the queued run the cancel cancelled and the running one it stopped: {retry}"
    );
}
