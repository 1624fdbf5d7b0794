//! What a hostile operator found (issue 29, point 7), each pinned against the real binary:
//! a checkpoint whose architecture was edited consistently, sizes of a trillion, debug
//! dumps in messages, an access file refused after the state was made, a lock file
//! removed under a running coordinator, `resumed_from` of a run that started over, a run
//! leased to a device too small for it, control characters on the terminal, `status
//! --watch` across a restart, and connection errors that blamed TLS.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{Cluster, TinySweep, bin, output_within, shakespeare, wait_until};
use serde_json::Value;

use common::run_offline as run;

/// As [`run`], for a command that might not end (a coordinator that takes what it should
/// refuse): killed, and the test failed, if it still runs after `deadline`.
fn run_within(args: &[&str], deadline: Duration) -> Output {
    output_within(
        Command::new(bin()).args(args).env_remove("GPTSWEEP_OUTPUT"),
        deadline,
    )
    .unwrap_or_else(|ran| panic!("gptsweep {args:?} still ran after {ran:?}"))
}

/// Asserts exit code 2 and a one-line error containing every one of `words`; answers it.
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

/// The flags of a model small enough to train in a second.
const TINY: [&str; 18] = [
    "--max-iters",
    "2",
    "--n-embd",
    "8",
    "--n-head",
    "2",
    "--n-layer",
    "2",
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

/// Trains the tiny model into `dir/ck` on a slice of tiny shakespeare; answers the
/// checkpoint directory and the dataset file.
fn tiny_checkpoint(dir: &Path) -> (PathBuf, String) {
    let data = dir.join("d.txt");
    std::fs::write(&data, shakespeare(3000)).unwrap();
    let data = data.display().to_string();
    let ck = dir.join("ck");
    let out = run(&[
        &["train", "--dataset", &data, "--out", ck.to_str().unwrap()],
        &TINY[..],
    ]
    .concat());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (ck, data)
}

/// Sets every JSON pointer of `edits` in `ck`'s meta.json (the weights stay as trained).
fn edit_meta(ck: &Path, edits: &[(&str, Value)]) {
    let path = ck.join("meta.json");
    let mut meta: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for (pointer, value) in edits {
        *meta.pointer_mut(pointer).unwrap() = value.clone();
    }
    std::fs::write(path, meta.to_string()).unwrap();
}

#[test]
fn a_checkpoint_whose_layers_were_edited_consistently_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let (ck, data) = tiny_checkpoint(dir.path());
    let c = ck.to_str().unwrap();
    let original = std::fs::read_to_string(ck.join("meta.json")).unwrap();
    for layers in [1, 3] {
        std::fs::write(ck.join("meta.json"), &original).unwrap();
        edit_meta(
            &ck,
            &[
                ("/model/n_layer", layers.into()),
                ("/hyperparams/n_layer", layers.into()),
            ],
        );
        refused(
            &run(&["sample", "--checkpoint", c, "--length", "5"]),
            &[c, "model.mpk", "n_layer"],
        );
        refused(
            &run(&[
                "train",
                "--resume",
                c,
                "--dataset",
                &data,
                "--max-iters",
                "4",
            ]),
            &[c, "model.mpk", "n_layer"],
        );
    }
}

#[test]
fn a_checkpoints_messages_name_fields_not_debug_dumps() {
    let dir = tempfile::tempdir().unwrap();
    let (ck, _) = tiny_checkpoint(dir.path());
    let c = ck.to_str().unwrap();
    edit_meta(&ck, &[("/model/n_embd", 16.into())]);
    let err = refused(
        &run(&["sample", "--checkpoint", c, "--length", "5"]),
        &[c, "model: n_embd = 16, but hyperparams.n_embd = 8"],
    );
    for dump in ["ModelConfig", "{ ", "Eval {"] {
        assert!(!err.contains(dump), "{err}");
    }
}

#[test]
fn sizes_of_a_trillion_are_refused_by_name_before_anything_is_allocated() {
    let dir = tempfile::tempdir().unwrap();
    // A flag.
    refused(
        &run(&[
            "train",
            "--block-size",
            "1000000000000",
            "--n-embd",
            "16",
            "--n-head",
            "2",
        ]),
        &[
            "block_size = 1000000000000",
            "must be an integer from 1 to 1048576",
        ],
    );
    refused(
        &run(&["train", "--n-layer", "1000000000000"]),
        &["n_layer = 1000000000000"],
    );
    // A sweep file, checked before any connection.
    let sweep = dir.path().join("huge.yaml");
    std::fs::write(
        &sweep,
        "method: grid\ntrain: {block_size: 1000000000000, n_embd: 16, n_head: 2}\n",
    )
    .unwrap();
    refused(
        &run(&["submit", sweep.to_str().unwrap()]),
        &["huge.yaml", "block_size", "1000000000000"],
    );
    // Within every bound, but more than this machine's memory: refused with the estimate.
    refused(
        &run(&[
            "train",
            "--n-embd",
            "65536",
            "--n-head",
            "64",
            "--n-layer",
            "4096",
        ]),
        &["n_embd = 65536", "n_layer = 4096", "of RAM"],
    );
    // A checkpoint whose meta.json claims a trillion-token context (or a model its weights
    // are far too small for) consistently in model and hyperparams.
    let (ck, _) = tiny_checkpoint(dir.path());
    let c = ck.to_str().unwrap();
    let original = std::fs::read_to_string(ck.join("meta.json")).unwrap();
    edit_meta(
        &ck,
        &[
            ("/model/block_size", 1_000_000_000_000u64.into()),
            ("/hyperparams/block_size", 1_000_000_000_000u64.into()),
        ],
    );
    refused(
        &run(&["sample", "--checkpoint", c, "--length", "5"]),
        &[c, "block_size = 1000000000000"],
    );
    std::fs::write(ck.join("meta.json"), &original).unwrap();
    edit_meta(
        &ck,
        &[
            ("/model/block_size", 1_048_576.into()),
            ("/hyperparams/block_size", 1_048_576.into()),
            ("/model/n_embd", 65_536.into()),
            ("/hyperparams/n_embd", 65_536.into()),
        ],
    );
    refused(
        &run(&["sample", "--checkpoint", c, "--length", "5"]),
        &[c, "model.mpk", "too small"],
    );
}

/// The names in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn a_refused_access_file_creates_nothing_and_short_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    std::fs::create_dir(&state).unwrap();
    let s = state.to_str().unwrap();
    let listen = ["--listen", "127.0.0.1:0", "--dashboard", "off"];
    for (access, want) in [
        (
            r#"{"worker_token": "w", "client_token": "c"}"#,
            "worker_token: a token of 1 character is too short",
        ),
        (
            r#"{"worker_token": "0123456789abcdef", "client_token": "0123456789abcdef"}"#,
            "are equal",
        ),
    ] {
        std::fs::write(state.join("access.json"), access).unwrap();
        let out = run_within(
            &[&["coordinator", "--state-dir", s], &listen[..]].concat(),
            Duration::from_secs(30),
        );
        refused(&out, &["access.json", want]);
        assert_eq!(
            names_in(&state),
            ["access.json"],
            "a refused access file leaves the state dir as it was"
        );
    }
    // A client given such a file is refused the same way, before any connection.
    std::fs::write(
        state.join("access.json"),
        r#"{"worker_token": "w", "client_token": "cccccccccccccccccccc"}"#,
    )
    .unwrap();
    let out = Command::new(bin())
        .args([
            "sweeps",
            "--coordinator",
            "http://127.0.0.1:9",
            "--token-file",
        ])
        .arg(state.join("access.json"))
        .env_remove("GPTSWEEP_TOKEN")
        .output()
        .unwrap();
    refused(&out, &["--token-file", "worker_token", "too short"]);
}

#[test]
fn removing_the_lock_file_does_not_let_a_second_coordinator_in() {
    let c = Cluster::start(0, 2.0);
    std::fs::remove_file(c.state().join("lock")).unwrap();
    let out = c.second_coordinator(Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("state dir {} is in use", c.state().display()))
            && stderr.contains("lock file lock was removed"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "it never said it listens");
    assert!(
        !c.state().join("lock").exists(),
        "the refused one made no lock file of its own"
    );
    // The holder serves on.
    assert_eq!(c.json(&["sweeps"]).as_array().unwrap().len(), 0);
}

#[test]
fn a_run_that_could_not_fetch_its_checkpoint_shows_it_resumed_from_scratch() {
    let mut c = Cluster::start(1, 1.0);
    c.submit(
        &TinySweep::new("lost")
            .max_iters(2000)
            .eval_interval(100)
            .no_samples(),
    );
    wait_until("a checkpoint", Duration::from_secs(60), || {
        (c.json(&["status", "lost"])["evals_stored"]
            .as_u64()
            .unwrap()
            >= 2)
            .then_some(())
    });
    c.kill_worker(0);
    std::fs::remove_dir_all(c.state().join("checkpoints")).unwrap();
    c.add_worker();
    let status = c.json(&["status", "lost", "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{}", c.logs());
    let show = c.json(&["show", "1"]);
    let attempts = show["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{show}");
    assert_eq!(
        attempts[1]["resumed_from"],
        0,
        "the checkpoint could not be handed over, so the run started over: {show}\n{}",
        c.logs()
    );
    assert!(
        c.worker_log(1).contains("training from scratch"),
        "{}",
        c.worker_log(1)
    );
}

#[test]
fn a_run_larger_than_every_device_is_not_leased_and_status_says_so() {
    let mut c = Cluster::start(0, 5.0);
    c.add_worker_with(&["--device-memory", "2GiB"]);
    // Run 1 is tiny; run 2 (block 512, width 1024, batch 64) needs about 3.8 GiB.
    let sweep = TinySweep::new("big")
        .train("n_head", 8u32)
        .train("batch_size", 64u32)
        .train("max_iters", 4u32)
        .train("eval_interval", 2u32)
        .grid("n_embd", &[16u32, 1024])
        .grid("block_size", &[16u32, 512])
        .no_samples();
    c.submit(&sweep);
    let status = wait_until("the small runs to end", Duration::from_secs(120), || {
        let s = c.json(&["status", "big"]);
        (s["runs"]["queued"] == 1 && s["runs"]["running"] == 0).then_some(s)
    });
    assert_eq!(status["runs"]["finished"], 3, "{status}\n{}", c.logs());
    std::thread::sleep(Duration::from_secs(3));
    let status = c.json(&["status", "big"]);
    assert_eq!(status["runs"]["queued"], 1, "never leased: {status}");
    assert_eq!(status["runs"]["failed"], 0, "{status}");
    let too_large = &status["too_large"];
    assert_eq!(too_large["runs"], 1, "{status}");
    assert_eq!(too_large["largest_device_bytes"], 2u64 << 30, "{status}");
    assert!(too_large["needs_bytes"].as_u64().unwrap() > 2u64 << 30);
    let text = c.cli(&["status", "big"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.contains("1 queued run needs more memory than any live worker's device has")
            && text.contains("the largest device offers 2.0GiB"),
        "{text}"
    );
}

#[test]
fn control_characters_are_escaped_in_text_and_exact_in_json() {
    let c = Cluster::start(0, 5.0);
    // A worker whose name rings the bell and turns the terminal red.
    let log = c.dir.path().join("named.log");
    let _worker = KillOnDrop(
        Command::new(bin())
            .args([
                "worker",
                "--devices",
                "cpu",
                "--poll",
                "2",
                "--name",
                "evil\u{1b}[31m\u{7}",
            ])
            .args(["--coordinator", &c.url, "--cache-dir"])
            .arg(c.cache_dir(9))
            .arg("--token-file")
            .arg(c.token_file())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(log).unwrap())
            .spawn()
            .unwrap(),
    );
    // A dataset where every other character is an ESC or a BEL, so every sample has some.
    // (A sweep file's name, tags and description with control characters are refused.)
    let text: String = shakespeare(4000)
        .chars()
        .enumerate()
        .map(|(i, ch)| match i % 4 {
            1 => '\u{1b}',
            3 => '\u{7}',
            _ => ch,
        })
        .collect();
    c.write("controls.txt", &text);
    c.submit(
        &TinySweep::new("ctl")
            .dataset("controls.txt")
            .samples(1, 200),
    );
    c.json(&["status", "ctl", "--watch"]);
    for verb in [&["samples", "ctl"][..], &["show", "1"], &["workers"]] {
        let out = c.cli(verb);
        assert!(
            out.status.success(),
            "{verb:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let shown = String::from_utf8(out.stdout).unwrap();
        assert!(
            !shown.contains(['\u{1b}', '\u{7}']),
            "{verb:?} sent a raw control character: {shown:?}"
        );
        assert!(
            shown.contains("\\x1b"),
            "{verb:?} shows it escaped: {shown}"
        );
    }
    let samples = c.json(&["samples", "ctl"]);
    let sample = samples[0]["samples"][0].as_str().unwrap();
    assert!(
        sample.contains('\u{1b}'),
        "JSON keeps the text exact: {sample:?}"
    );
    let workers = c.json(&["workers"]);
    assert!(
        workers
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w["name"] == "evil\u{1b}[31m\u{7}"),
        "{workers}"
    );
}

/// A process the test started outside the cluster, killed when the test ends.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn status_watch_rides_out_a_coordinator_restart() {
    let mut c = Cluster::start(0, 5.0);
    c.submit(&TinySweep::new("ride").no_samples());
    let log = c.dir.path().join("watch.log");
    let mut watch = Command::new(bin())
        .args(["status", "ride", "--watch", "--output", "json"])
        .args(["--coordinator", &c.url, "--token-file"])
        .arg(c.token_file())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    c.kill_coordinator();
    std::thread::sleep(Duration::from_secs(3));
    assert!(
        watch.try_wait().unwrap().is_none(),
        "status --watch ended with the coordinator: {}",
        std::fs::read_to_string(&log).unwrap()
    );
    c.start_coordinator();
    c.add_worker();
    let out = watch_output(watch, Duration::from_secs(120));
    let said = std::fs::read_to_string(log).unwrap();
    assert!(out.status.success(), "{said}");
    let status: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(status["runs"]["finished"], 1, "{status}");
    assert_eq!(
        said.matches("retrying").count(),
        1,
        "the outage is said once: {said}"
    );
    assert!(said.contains("answers again"), "{said}");
}

/// Waits up to `within` for `child` to end; answers its output (killing it, and failing,
/// if it does not end).
fn watch_output(mut child: std::process::Child, within: Duration) -> Output {
    let start = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > within {
            let _ = child.kill();
            panic!("still running after {within:?}");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    child.wait_with_output().unwrap()
}

/// Runs `sweeps` against `url` with `token`; answers its exit code and stderr.
fn sweeps_at(url: &str, token: &str) -> (Option<i32>, String) {
    let out = Command::new(bin())
        .args(["sweeps", "--coordinator", url])
        .env("GPTSWEEP_TOKEN", token)
        .env_remove("GPTSWEEP_TOKEN_FILE")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn connection_errors_name_their_real_cause_not_tls() {
    let token = "0123456789abcdef0123";
    // A coordinator that was killed: nothing listens on its port any more.
    let mut c = Cluster::start(0, 5.0);
    c.kill_coordinator();
    let (code, err) = sweeps_at(&c.url, token);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("connection refused"), "{err}");
    // `status --watch` rides out a coordinator it has reached, not an address never reached.
    let start = std::time::Instant::now();
    let out = Command::new(bin())
        .args(["status", "s", "--watch", "--coordinator", &c.url])
        .env("GPTSWEEP_TOKEN", token)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "it failed at once"
    );
    // Something that accepts and closes (a port-forward whose coordinator is gone).
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    let (code, err) = sweeps_at(&url, token);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("closed the connection"), "{err}");
    for (code, err) in [sweeps_at(&c.url, token), sweeps_at(&url, token)] {
        assert_eq!(code, Some(1), "{err}");
        assert!(
            !err.contains("TLS") && !err.contains("https"),
            "not a TLS problem: {err}"
        );
    }
    // A 100 KB token: refused by name before any connection, not a protocol error.
    let (code, err) = sweeps_at(&url, &"a".repeat(100_000));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("GPTSWEEP_TOKEN: a token of 100000 characters is too long"),
        "{err}"
    );
}
