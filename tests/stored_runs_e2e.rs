//! A stored run can be used: `gptsweep sample RUN` generates from its latest checkpoint,
//! fetched from the coordinator and cached (the second time nothing is downloaded), and
//! `gptsweep export RUN --out DIR` writes the directory that `sample --checkpoint` and
//! `train --resume` take, with the same text for the same seed either way (and
//! `--format safetensors` the model for PyTorch). An unknown run and a non-empty --out
//! are refused with a clear error (a run without a checkpoint: tests/delete_e2e.rs).
//! Output into a closed pipe ends quietly.

mod common;

use common::{Cluster, TinySweep};

#[test]
fn sample_and_export_work_from_a_stored_run() {
    let c = Cluster::start(1, 10.0);
    let sweep = TinySweep::new("use").grid("lr", &[0.01]).no_samples();
    c.submit(&sweep);
    // stderr is a pipe here, as under nohup or Slurm: progress comes as plain lines.
    let watched = c.cli(&["status", "use", "--watch"]);
    let progress = String::from_utf8_lossy(&watched.stderr);
    let last = progress.lines().last().unwrap_or_default();
    assert!(
        last.contains("] use: 2/2 evals  runs: 1/1 made, 0 queued, 0 running, 1 finished, 0 stopped, 0 failed | best "),
        "{progress}"
    );
    let status = c.json(&["status", "use"]);
    assert_eq!(status["runs"]["finished"], 1, "{status}\n{}", c.logs());
    let run = c.json(&["top", "use"])[0]["run"]
        .as_i64()
        .unwrap()
        .to_string();

    let args = ["--prompt", "ROMEO:", "--length", "40", "--seed", "7"];
    let stored = c.json(&[&["sample", &run][..], &args[..]].concat());
    assert_eq!(
        stored["run"].as_i64().map(|r| r.to_string()),
        Some(run.clone())
    );
    assert_eq!(stored["prompt"], "ROMEO:");
    assert_eq!(
        stored["step"], 20,
        "the checkpoint of the finished run: {stored}"
    );
    assert_eq!(stored["text"].as_str().unwrap().chars().count(), 40);

    let out = c.dir.path().join("exported");
    let exported = c.json(&["export", &run, "--out", out.to_str().unwrap()]);
    assert_eq!(exported["step"], 20);
    assert_eq!(
        exported["from_cache"], true,
        "sample had fetched it: {exported}"
    );
    for file in std::fs::read_dir(&out).unwrap() {
        assert!(file.unwrap().metadata().unwrap().len() > 0);
    }
    // The directory is a checkpoint that sample (no coordinator) reads: same text.
    let local = c.json(
        &[
            &["sample", "--checkpoint", out.to_str().unwrap()][..],
            &args[..],
        ]
        .concat(),
    );
    assert_eq!(local["text"], stored["text"]);
    assert_eq!(local["step"], 20);

    // The stored run's model as safetensors for PyTorch (the file itself:
    // tests/safetensors_e2e.rs).
    let st = c.dir.path().join("model.safetensors");
    let model = c.json(&[
        "export",
        &run,
        "--format",
        "safetensors",
        "--out",
        st.to_str().unwrap(),
    ]);
    assert_eq!(
        (&model["step"], &model["format"], &model["layout"]),
        (&20.into(), &"safetensors".into(), &"lecture".into()),
        "{model}"
    );
    let header = std::fs::read(&st).unwrap();
    assert!(
        header.len() > 8 && header[8] == b'{',
        "a safetensors header"
    );

    // A fresh cache downloads it again, into the same bytes.
    let again = c.dir.path().join("again");
    std::fs::remove_dir_all(c.dir.path().join("cli-cache")).unwrap();
    let second = c.json(&["export", &run, "--out", again.to_str().unwrap()]);
    assert_eq!(second["from_cache"], false);
    assert_eq!(second["sha256"], exported["sha256"]);

    // And train --resume takes it (a finished run resumed for more steps).
    let resumed = c.dir.path().join("resumed");
    let train = c.cli(&[
        "train",
        "--resume",
        out.to_str().unwrap(),
        "--max-iters",
        "30",
        "--out",
        resumed.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert!(
        train.status.success(),
        "train --resume: {}",
        String::from_utf8_lossy(&train.stderr)
    );

    // Refusals: a non-empty --out (nothing written), an unknown run.
    let refused = c.cli(&["export", &run, "--out", out.to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(2));
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(
        err.contains("exists and is not an empty directory"),
        "{err}"
    );
    let missing = c.cli(&["sample", "999"]);
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("no run 999"));
    let both = c.cli(&["sample", &run, "--checkpoint", out.to_str().unwrap()]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "a run and --checkpoint: a usage error"
    );
}
