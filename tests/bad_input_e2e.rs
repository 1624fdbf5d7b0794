//! Every class of bad input, fed to the real binary: exit code 2, one line on stderr that
//! names the file, key or flag and the value, no panic, and nothing written (no state dir,
//! no checkpoint replaced). Each input is refused before it is read whole.

mod common;

use std::path::Path;
use std::process::Output;
use std::time::{Duration, Instant};

use common::run_offline as run;

/// Asserts exit code 2 and a one-line error containing every one of `words`.
fn refused(out: &Output, words: &[&str]) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    for w in words {
        assert!(err.contains(w), "want {w:?} in {err}");
    }
    err
}

fn write(dir: &Path, name: &str, text: &[u8]) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

#[test]
fn a_missing_or_non_utf8_sweep_file_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.yaml").display().to_string();
    refused(
        &run(&["submit", &missing]),
        &["sweep file", "nope.yaml", "no such file"],
    );
    let bad = write(dir.path(), "bad.yaml", b"method: grid\n\xff\n");
    refused(&run(&["submit", &bad]), &["bad.yaml", "not UTF-8"]);
    refused(
        &run(&["submit", dir.path().to_str().unwrap()]),
        &["is a directory"],
    );
}

#[test]
fn a_fifo_sweep_file_and_a_device_dataset_are_refused_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("s.yaml");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    refused(
        &run(&["submit", fifo.to_str().unwrap()]),
        &["s.yaml", "not a regular file"],
    );
    let yaml = write(dir.path(), "z.yaml", b"method: grid\ndataset: /dev/zero\n");
    refused(
        &run(&["submit", &yaml]),
        &["dataset /dev/zero", "not a regular file"],
    );
    let state = dir.path().join("state");
    let local = run(&["local", &yaml, "--state-dir", state.to_str().unwrap()]);
    refused(&local, &["/dev/zero"]);
    assert!(
        !state.exists(),
        "a refused local sweep creates no state dir"
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "nothing was read to the end"
    );
    let yaml = write(
        dir.path(),
        "m.yaml",
        b"method: grid\ndataset: missing.txt\n",
    );
    refused(
        &run(&["submit", &yaml]),
        &["m.yaml:2:10: dataset", "missing.txt", "no such file"],
    );
}

#[test]
fn sweep_file_parse_errors_name_key_and_value_in_our_words() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[u8], &str); 4] = [
        (
            b"method: grid\nmethod: random\n",
            "d.yaml:2:1: method: the key is given twice",
        ),
        (
            b"method: grid\nseed: -1\n",
            "d.yaml:2:7: seed: -1 must be a whole number",
        ),
        (
            b"method: grid\ntrain: {n_embd: [1]}\n",
            "n_embd: [1] is not a single value",
        ),
        (
            b"method: grid\nparameters:\n  n_embd: {values: [32, 32]}\n",
            "32 is listed twice",
        ),
    ];
    for (yaml, want) in cases {
        let f = write(dir.path(), "d.yaml", yaml);
        let err = refused(&run(&["submit", &f]), &[want]);
        for internal in ["DuplicateKeyPolicy", "untagged enum", "invalid u64"] {
            assert!(!err.contains(internal), "{err}");
        }
    }
}

#[test]
fn coordinator_flags_and_bad_access_files_are_bad_input_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    let s = state.to_str().unwrap();
    let listen = ["--listen", "127.0.0.1:0", "--dashboard", "off"];
    let out = run(&[
        &["coordinator", "--lease-timeout", "0", "--state-dir", s],
        &listen[..],
    ]
    .concat());
    refused(&out, &["--lease-timeout 0"]);
    let out = run(&[
        &["coordinator", "--max-attempts", "0", "--state-dir", s],
        &listen[..],
    ]
    .concat());
    refused(&out, &["--max-attempts 0"]);
    let out = run(&[
        &[
            "coordinator",
            "--unused-dataset-grace",
            "1e10",
            "--state-dir",
            s,
        ],
        &listen[..],
    ]
    .concat());
    refused(&out, &["--unused-dataset-grace 10000000000"]);
    let out = run(&[
        &["coordinator", "--disk-reserve", "1.5GiB", "--state-dir", s],
        &listen[..],
    ]
    .concat());
    refused(
        &out,
        &["--disk-reserve", "1.5GiB", "the unit must be one of"],
    );
    assert!(!state.exists(), "no state dir for refused flags");
    std::fs::create_dir(&state).unwrap();
    write(
        &state,
        "access.json",
        br#"{"worker_token": "xxxxxxxxxxxxxxxx", "client_token": "xxxxxxxxxxxxxxxx"}"#,
    );
    let out = run(&[&["coordinator", "--state-dir", s], &listen[..]].concat());
    refused(&out, &["access.json", "are equal"]);
}

#[test]
fn client_flags_and_token_files_are_bad_input() {
    refused(
        &run(&["retry", "s"]),
        &["--failed, --stopped and/or --cancelled"],
    );
    let out = std::process::Command::new(common::bin())
        .args(["sweeps", "--token-file", "/dev/zero"])
        .env_remove("GPTSWEEP_TOKEN")
        .output()
        .unwrap();
    refused(&out, &["--token-file /dev/zero", "not a regular file"]);
}

#[test]
fn checkpoints_and_sample_lengths_are_checked_and_train_does_not_overwrite() {
    let dir = tempfile::tempdir().unwrap();
    let data = write(dir.path(), "d.txt", common::shakespeare(3000).as_bytes());
    let ck = dir.path().join("ck");
    let c = ck.to_str().unwrap();
    let tiny = [
        "--max-iters",
        "2",
        "--n-embd",
        "8",
        "--n-head",
        "2",
        "--n-layer",
        "1",
        "--block-size",
        "8",
        "--batch-size",
        "2",
        "--eval-interval",
        "2",
        "--eval-iters",
        "1",
        "--sample-length",
        "0",
    ];
    let out = run(&[&["train", "--dataset", &data, "--out", c], &tiny[..]].concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta = std::fs::read_to_string(ck.join("meta.json")).unwrap();

    let again = run(&[&["train", "--dataset", &data, "--out", c], &tiny[..]].concat());
    refused(&again, &["--out", "holds a checkpoint", "--overwrite"]);
    assert_eq!(std::fs::read_to_string(ck.join("meta.json")).unwrap(), meta);

    refused(
        &run(&["sample", "--checkpoint", c, "--length", "100001"]),
        &["length = 100001"],
    );
    refused(
        &run(&["sample", "--checkpoint", c, "--length", "0"]),
        &["length = 0"],
    );

    let mut json: serde_json::Value = serde_json::from_str(&meta).unwrap();
    let edits: [(&str, serde_json::Value, &str); 4] = [
        ("/model/n_embd", 16.into(), "model:"),
        ("/step", 1_000_000.into(), "step: 1000000"),
        ("/tokenizer/chars", "aab".into(), "tokenizer:"),
        ("/evals/0/val_loss", serde_json::Value::Null, "meta.json"),
    ];
    for (pointer, value, want) in edits {
        let original = json.pointer(pointer).unwrap().clone();
        *json.pointer_mut(pointer).unwrap() = value;
        std::fs::write(ck.join("meta.json"), json.to_string()).unwrap();
        refused(
            &run(&["sample", "--checkpoint", c, "--length", "5"]),
            &[c, want],
        );
        *json.pointer_mut(pointer).unwrap() = original;
    }
}

#[test]
fn retry_stopped_leaves_cancelled_runs_to_retry_cancelled() {
    use common::{Cluster, TinySweep};
    let c = Cluster::start(0, 10.0);
    c.submit(&TinySweep::new("halted").grid("n_layer", &[1, 2]));
    let cancel = c.json(&["cancel", "halted"]);
    assert_eq!(cancel["cancelled_queued"], 2, "{cancel}");
    let stopped = c.json(&["retry", "halted", "--stopped"]);
    assert_eq!(
        stopped["requeued"], 0,
        "--stopped does not touch cancelled runs"
    );
    let cancelled = c.json(&["retry", "halted", "--cancelled"]);
    assert_eq!(cancelled["requeued"], 2);
    let status = c.json(&["status", "halted"]);
    assert_eq!(status["runs"]["queued"], 2, "{status}");
}
