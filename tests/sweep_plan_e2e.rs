//! Issue 31, items 1 and 2, on the real binary: a sweep's size said before anything trains
//! (runs queued now and proposed later, tokens, an estimated time per device kind;
//! `--dry-run` stores nothing; a big sweep asks for `--yes`), and every problem of a file
//! in one submit, each at its line and column (text and JSON), grid points grouped, and
//! `skip_impossible` dropping the impossible ones.

mod common;

use std::process::Output;

use common::Cluster;
use serde_json::Value;

/// A typo, a dropout of 1.5 and an n_embd that the default n_head (6) does not divide.
const THREE_PROBLEMS: &str = "\
name: three
dataset: tinyshakespeare
method: grid
metric: {name: val_loss, goal: minimize}
paramters: 3
train:
  dropout: 1.5
  max_iters: 20
parameters:
  n_embd: {values: [96, 100]}
  n_layer: {values: [1, 2]}
  lr: {values: [0.001, 0.002, 0.003]}
";

/// The lecture's model under tpe with run_cap 20: many CPU-hours.
const LECTURE_TPE: &str = "\
name: lecture
dataset: tinyshakespeare
method: tpe
metric: {name: val_loss, goal: minimize}
run_cap: 20
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  dropout: {min: 0.0, max: 0.3}
train: {n_layer: 6, n_head: 6, n_embd: 384, block_size: 256, batch_size: 64, max_iters: 5000}
";

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// No sweep is stored.
fn no_sweeps(c: &Cluster) {
    assert_eq!(c.json(&["sweeps"]), Value::Array(vec![]));
}

#[test]
fn every_problem_of_a_file_comes_in_one_submit_with_its_line_and_column() {
    let c = Cluster::start(0, 30.0);
    let file = c.write("three.yaml", THREE_PROBLEMS);
    let f = file.to_str().unwrap();
    let out = c.cli(&["submit", f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(
        lines,
        vec![
            format!(
                "error: {f}:5:1: paramters: unknown key; did you mean parameters? (known keys: name, description, tags, dataset, tokenizer, method, metric, run_cap, seed, parameters, train, tpe, early_terminate, samples, max_memory_gb, skip_impossible)"
            ),
            format!(
                "error: {f}:7:12: train.dropout: 1.5 breaks dropout's rule (must be in [0, 1))"
            ),
            format!(
                "error: {f}:10:11: n_embd = 100 with n_head = 6: n_embd must be a multiple of n_head (n_embd = 96 or 102, or n_head = 5, would pair): 6 of 12 grid points (the first: grid point 2 {{lr: 0.001, n_embd: 100, n_layer: 1}})"
            ),
            format!(
                "error: {f}: 6 of 12 grid points are no valid model: change the values above, or add `skip_impossible: true` to drop them and run the other 6"
            ),
        ]
    );
    // The same problems in JSON, each with its line and column.
    let out = c.cli(&["submit", f, "--output", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    let located: Vec<(u64, u64)> = doc["error"]["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["line"].as_u64().unwrap(), d["column"].as_u64().unwrap()))
        .collect();
    assert_eq!(located, vec![(5, 1), (7, 12), (10, 11), (0, 0)]);
    assert_eq!(doc["error"]["file"], f);
    assert_eq!(doc["error"]["exit_code"], 2);
    no_sweeps(&c);
}

#[test]
fn a_prompt_problem_and_a_block_size_problem_come_together() {
    let c = Cluster::start(0, 30.0);
    c.write("small.txt", &"abc def\n".repeat(40));
    let file = c.write(
        "pb.yaml",
        "name: pb\ndataset: small.txt\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n\
         train: {block_size: 256, max_iters: 10, n_embd: 32, n_head: 2}\n\
         parameters:\n  lr: {values: [0.001, 0.002]}\n\
         samples: {prompt: \"XYZ\"}\n",
    );
    let f = file.to_str().unwrap();
    let out = c.cli(&["submit", f]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let lines: Vec<&str> = err.trim_end().lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert!(
        lines[0].starts_with(&format!(
            "error: {f}:5:21: block_size = 256 needs splits of at least 257 tokens"
        )),
        "{err}"
    );
    assert!(
        lines[0].ends_with("2 of 2 grid points (the first: grid point 0 {lr: 0.001})"),
        "{err}"
    );
    assert!(
        lines[1].starts_with(&format!("error: {f}:8:19: ")) && lines[1].contains("samples.prompt"),
        "{err}"
    );
    assert!(
        lines[2].contains("no grid point of 2 is a valid model"),
        "{err}"
    );
    no_sweeps(&c);
}

#[test]
fn dry_run_prints_the_size_and_stores_nothing() {
    let c = Cluster::start(0, 30.0);
    let file = c.write("lecture.yaml", LECTURE_TPE);
    let f = file.to_str().unwrap();
    let out = c.cli(&["submit", f, "--dry-run"]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.starts_with(
            "sweep lecture: 10 runs queued now, 10 proposed later as results come in (tpe)\n"
        ),
        "{text}"
    );
    assert!(
        text.contains(
            "  10 runs x n_layer 6 n_head 6 n_embd 384 block 256: 10,788,929 parameters\n"
        ),
        "{text}"
    );
    // 20 runs x 5,000 steps x 64 x 256.
    assert!(
        text.contains("  tokens to train: 1,638,400,000 (819,200,000 for the queued runs)\n"),
        "{text}"
    );
    assert!(
        text.contains("estimated time, one run at a time on cpu (2-core Xeon, measured): "),
        "{text}"
    );
    assert!(
        text.contains("estimated time, one run at a time on cuda (one H100, measured): "),
        "{text}"
    );
    assert!(
        text.ends_with(
            "dry run: nothing was stored (an estimate from BENCHMARKS.md's measured table)\n"
        ),
        "{text}"
    );
    let doc = c.json(&["submit", f, "--dry-run"]);
    assert_eq!(doc["dry_run"], true);
    assert_eq!(doc["estimate"]["queued"], 10);
    assert_eq!(doc["estimate"]["later"], 10);
    assert_eq!(doc["estimate"]["tokens_total"], 1_638_400_000u64);
    assert_eq!(doc["estimate"]["shapes"][0]["params"], 10_788_929);
    assert_eq!(doc["estimate"]["time"].as_array().unwrap().len(), 2);
    no_sweeps(&c);
}

#[test]
fn a_sweep_over_two_cpu_hours_asks_for_yes_and_counts_queued_and_later_runs() {
    let c = Cluster::start(0, 30.0);
    let file = c.write("lecture.yaml", LECTURE_TPE);
    let f = file.to_str().unwrap();
    let out = c.cli_asking(&["submit", f], true);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.starts_with(&format!("error: {f}: estimated ")), "{err}");
    assert!(err.contains("(10 runs queued now, 10 proposed later as results come in (tpe), 1,638,400,000 tokens to train), over the 2.0 h that needs --yes: rerun with --yes"), "{err}");
    no_sweeps(&c);
    let out = c.cli_asking(&["submit", f, "--yes", "--output", "json"], true);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["queued"], 10);
    assert_eq!(doc["later"], 10);
    assert_eq!(doc["estimate"]["queued"], 10);
    assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 1);
}

#[test]
fn skip_impossible_drops_the_impossible_grid_points_and_says_how_many() {
    let c = Cluster::start(0, 30.0);
    let file = c.write(
        "skip.yaml",
        "name: skip\ndataset: tinyshakespeare\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n\
         skip_impossible: true\ntrain: {max_iters: 10, block_size: 16, batch_size: 4}\n\
         parameters:\n  n_embd: {values: [96, 100]}\n  n_layer: {values: [1, 2]}\n",
    );
    let f = file.to_str().unwrap();
    let out = c.cli(&["submit", f]);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        text.starts_with(
            "sweep skip: 2 runs queued; 2 impossible grid points dropped (skip_impossible)\n"
        ),
        "{text}"
    );
    assert!(text.contains("submitted sweep skip (id "), "{text}");
    let sweeps = c.json(&["sweeps"]);
    assert_eq!(sweeps.as_array().unwrap().len(), 1);
    assert_eq!(sweeps[0]["run_cap"], 2, "{sweeps}");
}

/// Runs `gptsweep local FILE --state-dir STATE ARGS` with no coordinator around.
fn local(dir: &std::path::Path, file: &str, state: &std::path::Path, args: &[&str]) -> Output {
    std::process::Command::new(common::bin())
        .args(["local", file, "--dashboard", "off", "--state-dir"])
        .arg(state)
        .args(args)
        .env("XDG_CACHE_HOME", dir.join("cache"))
        .env_remove("GPTSWEEP_OUTPUT")
        .env_remove("GPTSWEEP_YES")
        .output()
        .unwrap()
}

#[test]
fn local_says_the_size_first_and_its_dry_run_and_refusal_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let lecture = dir.path().join("lecture.yaml");
    std::fs::write(&lecture, LECTURE_TPE).unwrap();
    let l = lecture.to_str().unwrap();
    let state = dir.path().join("state");

    let out = local(dir.path(), l, &state, &["--dry-run", "--output", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["dry_run"], true);
    assert_eq!(
        (&doc["estimate"]["queued"], &doc["estimate"]["later"]),
        (&Value::from(10), &Value::from(10))
    );
    assert!(!state.exists(), "a dry run creates no state");

    let out = local(dir.path(), l, &state, &[]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("that needs --yes"), "{err}");
    assert!(!state.exists(), "a refused sweep creates no state");

    // A small sweep runs without --yes, its size on stderr before anything trains.
    let small = dir.path().join("small.yaml");
    std::fs::write(
        &small,
        "name: small\ndataset: tinyshakespeare\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n\
         train: {n_layer: 1, n_head: 2, n_embd: 16, block_size: 16, batch_size: 4, max_iters: 10, eval_interval: 10, eval_iters: 2}\n\
         parameters:\n  lr: {values: [0.001, 0.002]}\n",
    )
    .unwrap();
    let out = local(dir.path(), small.to_str().unwrap(), &state, &[]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    assert!(
        err.starts_with(
            "sweep small: 2 runs queued\n  2 runs x n_layer 1 n_head 2 n_embd 16 block 16: "
        ),
        "{err}"
    );
    assert!(err.contains("  tokens to train: 1,280\n"), "{err}");
    assert!(
        err.contains("sweep small (id 1): 2 runs queued on cpu;"),
        "{err}"
    );
}
