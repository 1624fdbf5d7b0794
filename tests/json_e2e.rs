//! Every verb's `--output json` document, pinned by its keys and their JSON types, with
//! real processes: a coordinator and a worker run a tiny sweep, then each client verb is
//! asked for JSON; `train`, `sample` and `local` run on their own. Errors under
//! `--output json` are an `{"error": {...}}` object on stdout with the same exit code as
//! in text mode. A document that gains, loses or retypes a key fails here.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Cluster, TinySweep, bin, wait_until};
use serde_json::Value;

/// The JSON type of `v`, as the shapes below name it.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A sweep's size before it runs (`submit`, `local`, `--dry-run`).
const ESTIMATE: &[(&str, &str)] = &[
    ("queued", "number"),
    ("later", "number"),
    ("dropped", "number"),
    ("shapes", "array"),
    ("tokens_queued", "number"),
    ("tokens_total", "number"),
    ("time", "array"),
    ("note", "string"),
];

/// Asserts that `v` is an object with exactly the keys of `shape`, each of one of the
/// types `"number|null"` allows.
fn assert_shape(what: &str, v: &Value, shape: &[(&str, &str)]) {
    let obj = v
        .as_object()
        .unwrap_or_else(|| panic!("{what}: not an object: {v}"));
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    let mut want: Vec<&str> = shape.iter().map(|(k, _)| *k).collect();
    keys.sort();
    want.sort();
    assert_eq!(keys, want, "{what}: keys of {v}");
    for (key, types) in shape {
        let got = kind(&obj[*key]);
        assert!(
            types.split('|').any(|t| t == got),
            "{what}.{key}: {got}, expected {types} in {v}"
        );
    }
}

/// Asserts that `v` is a non-empty array whose every item has `shape`.
fn assert_items(what: &str, v: &Value, shape: &[(&str, &str)]) {
    let items = v
        .as_array()
        .unwrap_or_else(|| panic!("{what}: not an array: {v}"));
    assert!(!items.is_empty(), "{what}: empty");
    for (i, item) in items.iter().enumerate() {
        assert_shape(&format!("{what}[{i}]"), item, shape);
    }
}

const SWEEP: &[(&str, &str)] = &[
    ("id", "number"),
    ("name", "string"),
    ("state", "string"),
    ("method", "string"),
    ("metric", "string"),
    ("goal", "string"),
    ("dataset", "string"),
    ("runs", "object"),
    ("best", "number|null"),
    ("best_run", "number|null"),
    ("created_at_ms", "number"),
    ("swept", "array"),
    ("evals_stored", "number"),
    ("evals_expected", "number"),
    ("proposed", "number"),
    ("run_cap", "number"),
    ("description", "string"),
    ("tags", "array"),
];

/// `status` (and `local`'s sweep): a sweep's keys and `too_large`, the queued runs no live
/// worker's device has the memory for (null when there are none).
fn status_shape() -> Vec<(&'static str, &'static str)> {
    let mut shape = SWEEP.to_vec();
    shape.push(("too_large", "object|null"));
    shape
}

const COUNTS: &[(&str, &str)] = &[
    ("queued", "number"),
    ("running", "number"),
    ("finished", "number"),
    ("failed", "number"),
    ("stopped", "number"),
    ("cancelled", "number"),
];

const TOP_ROW: &[(&str, &str)] = &[
    ("rank", "number"),
    ("run", "number"),
    ("name", "string"),
    ("note", "string"),
    ("state", "string"),
    ("params", "object"),
    ("best_val_loss", "number|null"),
    ("best_val_bpc", "number|null"),
    ("step", "number|null"),
    ("last_train_loss", "number|null"),
    ("steps", "number"),
    ("num_params", "number"),
    ("tokens_per_sec", "number"),
    ("train_secs", "number"),
    ("progress", "object|null"),
];

const SAMPLES_ENTRY: &[(&str, &str)] = &[
    ("run", "number"),
    ("rank", "number"),
    ("best_val_loss", "number|null"),
    ("samples", "array"),
];

const ERROR: &[(&str, &str)] = &[
    ("kind", "string"),
    ("message", "string"),
    ("exit_code", "number"),
];

/// Two runs of the tiny model, one sample each.
fn tiny() -> TinySweep {
    TinySweep::new("shapes")
        .grid("seed", &[1, 2])
        .samples(1, 12)
}

/// Runs the binary with `args`, answers (exit code, stdout as JSON).
fn run_json(args: &[&str]) -> (i32, Value) {
    let out = Command::new(bin()).args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "gptsweep {args:?}: stdout is not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), value)
}

#[test]
fn every_client_verb_prints_its_pinned_json_document() {
    let c = Cluster::start(1, 30.0);
    let sub = c.submit(&tiny());
    assert_shape(
        "submit",
        &sub,
        &[
            ("id", "number"),
            ("name", "string"),
            ("runs", "number"),
            ("queued", "number"),
            ("later", "number"),
            ("dropped", "number"),
            ("estimate", "object"),
        ],
    );
    assert_eq!(sub["runs"], 2);
    assert_shape("submit.estimate", &sub["estimate"], ESTIMATE);

    wait_until("the sweep to finish", Duration::from_secs(120), || {
        (c.json(&["status", "shapes"])["state"] == "finished").then_some(())
    });
    let status = c.json(&["status", "shapes"]);
    assert_shape("status", &status, &status_shape());
    assert_shape("status.runs", &status["runs"], COUNTS);
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());

    let sweeps = c.json(&["sweeps"]);
    assert_items("sweeps", &sweeps, SWEEP);

    let top = c.json(&["top", "shapes"]);
    assert_items("top", &top, TOP_ROW);
    assert_eq!(top.as_array().unwrap().len(), 2);

    let samples = c.json(&["samples", "shapes"]);
    assert_items("samples", &samples, SAMPLES_ENTRY);
    assert_eq!(samples[0]["samples"].as_array().unwrap().len(), 1);

    let run = top[0]["run"].as_i64().unwrap().to_string();
    let show = c.json(&["show", &run]);
    assert_shape(
        "show",
        &show,
        &[
            ("run", "number"),
            ("sweep", "string"),
            ("state", "string"),
            ("name", "string"),
            ("note", "string"),
            ("params", "object"),
            ("swept", "object"),
            ("num_params", "number"),
            ("evals", "array"),
            ("samples", "array"),
            ("attempts", "array"),
            ("error", "string"),
            ("stop_reason", "string"),
            ("progress", "object|null"),
        ],
    );
    assert_items(
        "show.evals",
        &show["evals"],
        &[
            ("step", "number"),
            ("train_loss", "number"),
            ("val_loss", "number"),
            ("train_bpc", "number"),
            ("val_bpc", "number"),
            ("tokens_per_sec", "number"),
            ("train_secs", "number"),
        ],
    );
    assert_items(
        "show.attempts",
        &show["attempts"],
        &[
            ("worker", "string"),
            ("device", "string"),
            ("state", "string"),
            ("reason", "string"),
            ("started_at_ms", "number"),
            ("ended_at_ms", "number|null"),
            ("resumed_from", "number"),
        ],
    );

    let workers = c.json(&["workers"]);
    assert_items(
        "workers",
        &workers,
        &[
            ("id", "number"),
            ("name", "string"),
            ("devices", "array"),
            ("last_seen_ms", "number"),
            ("running", "array"),
            ("alive", "bool"),
            ("left", "string|null"),
            ("disabled", "array"),
            ("loads", "array"),
        ],
    );
    assert_items(
        "workers.loads",
        &workers[0]["loads"],
        &[
            ("device", "string"),
            ("memory_bytes", "number"),
            ("used_bytes", "number"),
            ("runs", "array"),
        ],
    );

    let retry = c.json(&["retry", "shapes", "--failed"]);
    assert_shape("retry", &retry, &[("requeued", "number")]);
    let cancel = c.json(&["cancel", "shapes"]);
    assert_shape(
        "cancel",
        &cancel,
        &[
            ("cancelled_queued", "number"),
            ("stopping_running", "number"),
        ],
    );

    // Errors: the object on stdout, the exit code of text mode.
    let url = c.url.clone();
    let token = c.token_file();
    let token = token.to_str().unwrap();
    let (code, missing) = run_json(&[
        "status",
        "nosuch",
        "--output",
        "json",
        "--coordinator",
        &url,
        "--token-file",
        token,
    ]);
    assert_eq!(code, 2);
    assert_shape("error", &missing["error"], ERROR);
    assert_eq!(missing["error"]["kind"], "not_found");
    assert_eq!(missing["error"]["exit_code"], 2);

    let bad = c.write(
        "bad.yaml",
        "name: bad\nmethod: grid\nparameters:\n  n_embed: {values: [1]}\n",
    );
    let (code, refused) = run_json(&[
        "submit",
        bad.to_str().unwrap(),
        "--output",
        "json",
        "--coordinator",
        &url,
        "--token-file",
        token,
    ]);
    assert_eq!(code, 2);
    let e = &refused["error"];
    assert_eq!(e["kind"], "bad_input");
    assert_eq!(e["line"].as_u64(), Some(4), "{e}");
    assert!(e["column"].as_u64().is_some_and(|c| c >= 3), "{e}");
    assert!(e["file"].as_str().unwrap().ends_with("bad.yaml"), "{e}");
    assert!(e["message"].as_str().unwrap().contains("n_embed"), "{e}");
    assert_eq!(e["diagnostics"].as_array().unwrap().len(), 1, "{e}");

    let (code, unreachable) = run_json(&[
        "sweeps",
        "--output",
        "json",
        "--coordinator",
        "http://127.0.0.1:1",
    ]);
    assert_eq!(code, 1);
    assert_eq!(unreachable["error"]["kind"], "unreachable", "{unreachable}");

    let (code, usage) = run_json(&["top", "--output", "json"]);
    assert_eq!(code, 2);
    assert_eq!(usage["error"]["kind"], "usage", "{usage}");
}

#[test]
fn train_sample_and_local_print_their_pinned_json_documents() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("run");
    let out_s = out.to_str().unwrap();
    let (code, train) = run_json(&[
        "train",
        "--n-layer",
        "1",
        "--n-head",
        "2",
        "--n-embd",
        "16",
        "--block-size",
        "16",
        "--batch-size",
        "8",
        "--max-iters",
        "10",
        "--eval-interval",
        "5",
        "--eval-iters",
        "2",
        "--sample-length",
        "8",
        "--out",
        out_s,
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{train}");
    assert_shape(
        "train",
        &train,
        &[
            ("params", "number"),
            ("steps", "number"),
            ("best_val_loss", "number|null"),
            ("best_val_bpc", "number|null"),
            ("best_step", "number|null"),
            ("final_train_loss", "number|null"),
            ("final_val_loss", "number|null"),
            ("evals", "array"),
            ("tokens_per_sec", "number"),
            ("train_secs", "number"),
            ("wall_secs", "number"),
            ("device", "string"),
            ("dataset", "string"),
            ("hyperparams", "object"),
            ("sample", "string"),
            ("out", "string|null"),
        ],
    );

    let (code, sample) = run_json(&[
        "sample",
        "--checkpoint",
        out_s,
        "--length",
        "8",
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{sample}");
    assert_shape(
        "sample",
        &sample,
        &[("prompt", "string"), ("text", "string"), ("step", "number")],
    );

    let file = dir.path().join("shapes.yaml");
    std::fs::write(&file, tiny().yaml()).unwrap();
    let state = dir.path().join("state");
    let (code, local) = run_json(&[
        "local",
        file.to_str().unwrap(),
        "--state-dir",
        state.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(code, 0, "{local}");
    assert_shape(
        "local",
        &local,
        &[
            ("sweep", "object"),
            ("top", "array"),
            ("samples", "array"),
            ("state_dir", "string"),
            ("estimate", "object"),
            ("look_again", "array"),
        ],
    );
    assert_shape("local.estimate", &local["estimate"], ESTIMATE);
    assert_shape("local.sweep", &local["sweep"], &status_shape());
    assert_items("local.top", &local["top"], TOP_ROW);
    assert_items("local.samples", &local["samples"], SAMPLES_ENTRY);

    let (code, refused) = run_json(&["train", "--n-head", "5", "--output", "json"]);
    assert_eq!(code, 2);
    assert_shape("train error", &refused["error"], ERROR);
    assert_eq!(refused["error"]["kind"], "bad_input");
}
