//! `precision: bf16` end to end with real processes: a CPU worker trains a sweep over
//! `precision: {values: [f32, bf16]}` (burn-flex has bf16 products), `top` ranks both runs
//! side by side with a precision column and `show` lists each run's; a sweep that fixes
//! bf16 is named so in `top`'s title and `status`; a device without bf16 (wgpu) is refused
//! by `local` and `train` before anything is created, with one line and exit code 2.

mod common;

use common::{Cluster, TinySweep};

#[test]
fn a_cpu_worker_trains_f32_and_bf16_runs_and_top_ranks_them_side_by_side() {
    let c = Cluster::start(1, 10.0);
    let sub = c.submit(
        &TinySweep::new("prec")
            .grid("precision", &["f32", "bf16"])
            .max_iters(40)
            .eval_interval(20),
    );
    assert_eq!(sub["runs"], 2, "{sub}");
    let status = c.json(&["status", "prec", "--watch"]);
    assert_eq!(status["state"], "finished", "{}", c.logs());
    assert_eq!(status["runs"]["finished"], 2, "{}", c.logs());
    assert!(
        status.get("precision").is_none(),
        "swept, not fixed: {status}"
    );

    let top = c.json(&["top", "prec", "-n", "0"]);
    let rows = top.as_array().unwrap();
    let by = |p: &str| {
        rows.iter()
            .find(|r| r["params"]["precision"] == p)
            .unwrap_or_else(|| panic!("no {p} row in {top}"))
    };
    let (f32, bf16) = (by("f32"), by("bf16"));
    let loss = |r: &serde_json::Value| r["best_val_loss"].as_f64().unwrap();
    // Same seed, same batches: bf16 products follow f32's losses within their rounding,
    // and both learn (from ln 65 = 4.17 at initialisation; 40 steps of a 16-wide model).
    assert_ne!(loss(f32), loss(bf16), "bf16 products round");
    assert!(
        (loss(f32) - loss(bf16)).abs() < 0.05,
        "f32 {} bf16 {}",
        loss(f32),
        loss(bf16)
    );
    let init = 65f64.ln();
    assert!(
        loss(f32) < init - 0.1 && loss(bf16) < init - 0.1,
        "both learn from ln 65 = {init}: f32 {} bf16 {}",
        loss(f32),
        loss(bf16)
    );

    let text = String::from_utf8(c.cli(&["top", "prec"]).stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "prec (grid by val_loss, minimize)", "{text}");
    assert!(lines[1].contains("precision"), "a column: {text}");
    assert!(
        lines.iter().any(|l| l.contains(" bf16 ")) && lines.iter().any(|l| l.contains(" f32 ")),
        "{text}"
    );
    let show = String::from_utf8(c.cli(&["show", &bf16["run"].to_string()]).stdout).unwrap();
    assert!(
        show.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["*", "precision", "bf16"]),
        "{show}"
    );

    // Fixed under train: every run's, named once in the title and in status.
    c.submit(
        &TinySweep::new("fixed")
            .train("precision", "bf16")
            .max_iters(10)
            .eval_interval(10),
    );
    let status = c.json(&["status", "fixed", "--watch"]);
    assert_eq!(status["runs"]["finished"], 1, "{}", c.logs());
    assert_eq!(status["precision"], "bf16", "{status}");
    let text = String::from_utf8(c.cli(&["top", "fixed"]).stdout).unwrap();
    assert!(
        text.starts_with("fixed (grid by val_loss, minimize, bf16 products)\n"),
        "{text}"
    );
    let run = c.json(&["top", "fixed"])[0]["run"].to_string();
    let show = String::from_utf8(c.cli(&["show", &run]).stdout).unwrap();
    assert!(
        show.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["precision", "bf16"]),
        "{show}"
    );
}

#[test]
fn a_device_without_bf16_is_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let file = TinySweep::new("wg")
        .grid("precision", &["f32", "bf16"])
        .write_in(dir.path());
    let state = dir.path().join("state");
    let out = std::process::Command::new(common::bin())
        .args([
            "local",
            file.to_str().unwrap(),
            "--devices",
            "wgpu:0",
            "--yes",
        ])
        .arg("--state-dir")
        .arg(&state)
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let want = format!(
        "{}: precision = bf16: bf16 products need a CUDA device or the CPU; wgpu:0 trains \
         through burn's wgpu backend, which has no bf16 arithmetic",
        file.display()
    );
    assert!(
        err.lines().any(|l| l.ends_with(&want)) && !err.contains("panicked"),
        "want {want:?} in {err}"
    );
    assert!(
        !state.exists(),
        "a refused local sweep creates no state dir"
    );

    let out = std::process::Command::new(common::bin())
        .args([
            "train",
            "--precision",
            "bf16",
            "--device",
            "wgpu:0",
            "--max-iters",
            "1",
        ])
        .env("XDG_CACHE_HOME", dir.path().join("cache"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains(
            "precision = bf16: bf16 products need a CUDA device or the CPU; wgpu:0 trains"
        ),
        "{err}"
    );
}
