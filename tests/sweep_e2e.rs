//! The sweep system end to end with real processes: a coordinator and two workers on
//! loopback, sweeps submitted, cancelled and refused through the CLI.

mod common;

use std::time::Duration;

use common::{Cluster, TinySweep, eval_steps, shakespeare, wait_until};
use serde_json::Value;

/// Four runs (n_embd 16 or 32, two learning rates) on `corpus.txt`, two samples each.
fn four_runs(name: &str, max_iters: u64, eval_interval: u64) -> TinySweep {
    TinySweep::new(name)
        .dataset("corpus.txt")
        .grid("n_embd", &[16, 32])
        .grid("lr", &[0.001, 0.003])
        .max_iters(max_iters)
        .eval_interval(eval_interval)
        .sample_prompt("ROMEO:")
        .samples(2, 30)
        .sample_seed(7)
}

fn counts(status: &Value) -> (u64, u64, u64, u64, u64, u64) {
    let r = &status["runs"];
    let n = |k: &str| r[k].as_u64().unwrap();
    (
        n("queued"),
        n("running"),
        n("finished"),
        n("failed"),
        n("stopped"),
        n("cancelled"),
    )
}

#[test]
fn two_workers_run_a_four_run_sweep_to_the_end() {
    four_run_sweep_to_the_end(Cluster::start(2, 10.0));
}

#[test]
fn two_workers_run_a_four_run_sweep_to_the_end_on_postgres() {
    if let Some(c) = Cluster::start_postgres(2, 10.0) {
        four_run_sweep_to_the_end(c);
    }
}

fn four_run_sweep_to_the_end(c: Cluster) {
    c.write("corpus.txt", &shakespeare(40_000));
    let sub = c.submit(&four_runs("e2e", 40, 10));
    assert_eq!(sub["runs"], 4);

    let status = c.json(&["status", "e2e", "--watch"]);
    assert_eq!(status["state"], "finished", "{}", c.logs());
    assert_eq!(counts(&status), (0, 0, 4, 0, 0, 0), "{}", c.logs());
    assert_eq!(status["evals_stored"], 16);

    let top = c.json(&["top", "e2e", "-n", "0"]);
    let rows = top.as_array().unwrap();
    assert_eq!(rows.len(), 4);
    let losses: Vec<f64> = rows
        .iter()
        .map(|r| r["best_val_loss"].as_f64().unwrap())
        .collect();
    assert!(
        losses.windows(2).all(|w| w[0] <= w[1]),
        "top is ordered by val loss: {losses:?}"
    );
    assert_eq!(
        rows.iter()
            .map(|r| r["rank"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3, 4]
    );

    // The same leaderboard as CSV: a header with the swept keys spread out, one row a run.
    let csv = c.cli(&["top", "e2e", "-n", "0", "--output", "csv"]);
    assert!(
        csv.status.success(),
        "{}",
        String::from_utf8_lossy(&csv.stderr)
    );
    let csv = String::from_utf8_lossy(&csv.stdout);
    let lines: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let header = &lines[0];
    assert_eq!(header[..3], ["rank", "run", "state"], "{csv}");
    assert_eq!(lines.len(), 5, "{csv}");
    let col = |name: &str| header.iter().position(|h| *h == name).unwrap();
    for (line, row) in lines[1..].iter().zip(rows) {
        assert_eq!(line.len(), header.len(), "{csv}");
        assert_eq!(line[col("run")], row["run"].to_string());
        assert_eq!(line[col("state")], "finished");
        let loss: f64 = line[col("best_val_loss")].parse().unwrap();
        assert_eq!(loss, row["best_val_loss"].as_f64().unwrap());
        for (key, value) in row["params"].as_object().unwrap() {
            assert_eq!(line[col(key)], value.to_string(), "{key}: {csv}");
        }
    }
    let refused = c.cli(&["sweeps", "--output", "csv"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("only `top` writes CSV"));
    assert!(
        rows.iter()
            .all(|r| r["params"]["n_embd"].is_number() && r["params"]["lr"].is_number())
    );

    let mut workers_used = std::collections::BTreeSet::new();
    for r in rows {
        let show = c.json(&["show", &r["run"].to_string()]);
        let steps: Vec<u64> = eval_steps(&show);
        assert_eq!(
            steps,
            vec![10, 20, 30, 40],
            "exactly one evaluation per interval"
        );
        assert_eq!(show["samples"].as_array().unwrap().len(), 2);
        let attempts = show["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0]["state"], "finished");
        workers_used.insert(attempts[0]["worker"].as_str().unwrap().to_string());
    }
    assert!(!workers_used.is_empty());

    let samples = c.json(&["samples", "e2e", "--top", "4"]);
    let samples = samples.as_array().unwrap();
    assert_eq!(samples.len(), 4);
    for s in samples {
        let texts = s["samples"].as_array().unwrap();
        assert_eq!(texts.len(), 2);
        assert!(
            texts
                .iter()
                .all(|t| t.as_str().unwrap().chars().count() == 30)
        );
    }

    let workers = c.json(&["workers"]);
    assert_eq!(workers.as_array().unwrap().len(), 2);
    let text = c.cli(&["samples", "e2e", "--top", "2"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("ROMEO:"));
}

#[test]
fn cancelling_a_sweep_stops_its_running_runs() {
    let c = Cluster::start(1, 10.0);
    c.write("corpus.txt", &shakespeare(40_000));
    c.submit(&four_runs("long", 1_000_000, 5));
    wait_until("a run to report", Duration::from_secs(60), || {
        let s = c.json(&["status", "long"]);
        (s["runs"]["running"] == 1 && s["evals_stored"].as_u64().unwrap() >= 1).then_some(())
    });
    let cancel = c.json(&["cancel", "long"]);
    assert_eq!(cancel["cancelled_queued"], 3);
    assert_eq!(cancel["stopping_running"], 1);
    let status = wait_until("the running run to stop", Duration::from_secs(30), || {
        let s = c.json(&["status", "long"]);
        (s["runs"]["running"] == 0).then_some(s)
    });
    assert_eq!(status["state"], "cancelled");
    assert_eq!(counts(&status), (0, 0, 0, 0, 1, 3), "{}", c.logs());
    let top = c.json(&["top", "long", "-n", "1"]);
    let show = c.json(&["show", &top[0]["run"].to_string()]);
    assert_eq!(show["state"], "stopped");
    assert_eq!(show["attempts"][0]["state"], "stopped");
}

#[test]
fn a_bad_sweep_file_is_refused_with_line_and_column_and_nothing_stored() {
    let c = Cluster::start(0, 10.0);
    let before = c.json(&["sweeps"]);
    let bad = c.write(
        "bad.yaml",
        "method: grid\nparameters:\n  n_layer: {values: []}\n  dropout: {min: 0.5, max: 0.1}\n",
    );
    let out = c.cli(&["submit", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("bad.yaml:3:") && err.contains("values: must not be empty"),
        "{err}"
    );
    assert!(
        err.contains("bad.yaml:4:") && err.contains("min 0.5 is greater than max 0.1"),
        "{err}"
    );

    // The coordinator refuses it too (the CLI's local check is a convenience, not the guard).
    let grid = c.write(
        "grid.yaml",
        "method: grid\nparameters:\n  n_embd: {values: [64, 96]}\n  n_head: {values: [4, 6]}\n",
    );
    let out = c.cli(&["submit", grid.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("grid point 1 {n_embd: 64, n_head: 6}"));
    assert_eq!(c.json(&["sweeps"]), before, "nothing was stored");
}

#[test]
fn a_sweeps_description_and_tags_are_kept_and_shown_and_bad_ones_located() {
    let c = Cluster::start(0, 10.0);
    let file = c.write(
        "described.yaml",
        "description: |\n  Does a higher lr still train\n  at two layers?\ntags: [lr, baseline]\nmethod: grid\nparameters:\n  lr: {values: [0.01, 0.001]}\n",
    );
    c.json(&["submit", file.to_str().unwrap()]);
    let sweeps = c.json(&["sweeps"]);
    assert_eq!(
        sweeps[0]["description"],
        "Does a higher lr still train\nat two layers?"
    );
    assert_eq!(sweeps[0]["tags"], serde_json::json!(["lr", "baseline"]));
    let text = c.cli(&["sweeps"]);
    let text = String::from_utf8_lossy(&text.stdout);
    let header: Vec<&str> = text.lines().next().unwrap().split_whitespace().collect();
    assert_eq!(
        header[header.len() - 2..],
        ["TAGS", "DESCRIPTION"],
        "{text}"
    );
    assert!(
        text.lines()
            .nth(1)
            .unwrap()
            .ends_with("lr,baseline  Does a higher lr still train…"),
        "{text}"
    );

    let bad = c.write(
        "badtags.yaml",
        "tags: [lr, lr, \"a/b\"]\nmethod: grid\nparameters:\n  lr: {values: [0.01]}\n",
    );
    let out = c.cli(&["submit", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("badtags.yaml:1:12: tags: \"lr\" is listed twice"),
        "{err}"
    );
    assert!(
        err.contains("badtags.yaml:1:16: tags: \"a/b\" must be"),
        "{err}"
    );
    assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 1);
}

#[test]
fn top_of_a_sweep_no_worker_has_started_shows_no_made_up_numbers() {
    let c = Cluster::start(0, 10.0);
    c.submit(&TinySweep::new("idle").grid("lr", &[0.01, 0.001]));
    let out = c.cli(&["top", "idle"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    assert!(lines[1].ends_with("TOK/S  TIME"), "{text}");
    let rows = &lines[2..];
    assert_eq!(rows.len(), 2, "{text}");
    for row in rows {
        let cells: Vec<&str> = row.split_whitespace().collect();
        // Speed and time, and the losses and best step before them: none yet.
        assert_eq!(cells[cells.len() - 2..], ["-", "-"], "{text}");
        assert!(!row.contains(" 0.0s") && !row.ends_with(" 0"), "{text}");
    }
}

#[test]
fn early_termination_stops_the_runs_that_fall_behind_at_a_rung() {
    early_termination_at_a_rung(Cluster::start(1, 10.0));
}

#[test]
fn early_termination_stops_the_runs_that_fall_behind_at_a_rung_on_postgres() {
    if let Some(c) = Cluster::start_postgres(1, 10.0) {
        early_termination_at_a_rung(c);
    }
}

fn early_termination_at_a_rung(c: Cluster) {
    // Rungs at evaluations 1 and 3 (steps 10 and 30 of 40). One worker takes the runs in
    // order. The first (lr 0.01) sets the bar at step 10; each
    // later one learns more slowly than all before it, so at step 10 it is outside the best
    // third of the values recorded so far: of 2 (cutoff 1/3 of the way from the best to
    // it), of 3, and of 4 (cutoff = the second best, which it is not).
    c.write("corpus.txt", &shakespeare(40_000));
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
    let status = c.json(&["status", "asha", "--watch"]);
    assert_eq!(status["state"], "finished", "{}", c.logs());
    assert_eq!(counts(&status), (0, 0, 1, 0, 3, 0), "{}", c.logs());
    // The stopped runs will evaluate no more: the progress ends full (7/7, not 7/16).
    assert_eq!(
        (
            status["evals_stored"].as_u64(),
            status["evals_expected"].as_u64()
        ),
        (Some(7), Some(7)),
        "{status}"
    );

    let top = c.json(&["top", "asha", "-n", "0"]);
    let rows = top.as_array().unwrap();
    assert_eq!(rows[0]["params"]["lr"], 0.01);
    assert_eq!(rows[0]["state"], "finished");
    let best = rows[0]["run"].as_i64().unwrap().to_string();
    assert_eq!(eval_steps(&c.json(&["show", &best])), vec![10, 20, 30, 40]);
    for row in &rows[1..] {
        assert_eq!(row["state"], "stopped");
        let show = c.json(&["show", &row["run"].as_i64().unwrap().to_string()]);
        let steps = eval_steps(&show);
        // Stopped at the rung: the worker awaits the answer to the step-10 evaluation
        // before step 11.
        assert_eq!(steps, vec![10], "trained on past the rung: {show}");
        // An outcome, not an error.
        assert_eq!(show["error"], "", "{show}");
        let error = show["stop_reason"].as_str().unwrap();
        assert!(
            error.starts_with("early-terminated at evaluation 1 (step 10): val_loss ")
                && error.contains("outside the best 1/3"),
            "{error}"
        );
        assert_eq!(show["attempts"][0]["reason"], error);
    }
}
