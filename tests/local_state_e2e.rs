//! `gptsweep local` leaves its sweeps where the next command finds them: in the data
//! directory (here a temporary HOME's), where `top`, `sweeps`, `workers` and `dashboard`
//! look when no coordinator is given; a rerun adds a sweep under a fresh name; its last
//! lines say how to look again; `--state-dir` (with GPTSWEEP_LOCAL_STATE_DIR) still works,
//! and a `local` that runs serves the others' commands.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{TinySweep, bin, http, output_within, panic_lines, wait_until};
use serde_json::Value;

/// A user's home of their own: HOME and the XDG folders in a temporary directory, and
/// none of the variables that would name a coordinator or another state.
struct Home {
    dir: tempfile::TempDir,
}

impl Home {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// The default local state under this home.
    fn state(&self) -> PathBuf {
        self.dir.path().join("data/gptsweep/local")
    }

    /// `gptsweep ARGS` as this home's user; `env` added.
    fn command(&self, args: &[&str], env: &[(&str, &Path)]) -> Command {
        let mut cmd = Command::new(bin());
        for var in [
            "GPTSWEEP_COORDINATOR",
            "GPTSWEEP_TOKEN",
            "GPTSWEEP_TOKEN_FILE",
            "GPTSWEEP_LOCAL_STATE_DIR",
            "GPTSWEEP_OUTPUT",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("HOME", self.dir.path())
            .env("XDG_DATA_HOME", self.dir.path().join("data"))
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"))
            .env("GPTSWEEP_YES", "1")
            .args(args)
            .envs(env.iter().map(|(k, v)| (*k, *v)));
        cmd
    }

    /// Runs `gptsweep ARGS` to its end (within two minutes), with no panic.
    fn run(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        let out = output_within(&mut self.command(args, env), Duration::from_secs(120))
            .unwrap_or_else(|ran| panic!("gptsweep {args:?} still running after {ran:?}"));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(panic_lines(&stderr).is_empty(), "{args:?}: {stderr}");
        out
    }

    /// Runs `gptsweep ARGS --output json`, asserting success, and parses stdout.
    fn json(&self, args: &[&str], env: &[(&str, &Path)]) -> Value {
        let out = self.run(&[args, &["--output", "json"]].concat(), env);
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// Writes a tiny sweep named `name` here; answers its path.
    fn sweep(&self, sweep: TinySweep) -> String {
        sweep
            .write_in(self.dir.path())
            .to_str()
            .unwrap()
            .to_string()
    }
}

/// The run ids and best losses of a `top` (or `local`'s `top`) JSON array.
fn board(rows: &Value) -> Vec<(u64, f64)> {
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["run"].as_u64().unwrap(),
                r["best_val_loss"].as_f64().unwrap(),
            )
        })
        .collect()
}

fn tiny() -> TinySweep {
    TinySweep::new("tiny").grid("lr", &[1e-3, 3e-3])
}

#[test]
fn local_keeps_its_sweeps_where_top_sweeps_and_workers_find_them_and_a_rerun_adds_one() {
    let home = Home::new();
    let file = home.sweep(tiny());
    let first = home.json(&["local", &file, "--dashboard", "off"], &[]);
    let state = home.state();
    assert_eq!(first["state_dir"], state.to_str().unwrap());
    let runs = board(&first["top"]);
    assert_eq!(runs.len(), 2, "{first}");
    assert_eq!(
        first["look_again"],
        serde_json::json!([
            "gptsweep top tiny",
            "gptsweep samples tiny",
            format!("gptsweep show {}", runs[0].0),
            "gptsweep dashboard",
        ])
    );

    // No coordinator given: the local state, the same leaderboard.
    let top = home.json(&["top", "tiny"], &[]);
    assert_eq!(board(&top), runs);

    // Again: a sweep beside the first, named afresh, and the way back said last.
    let out = home.run(&["local", &file, "--dashboard", "off"], &[]);
    let (stdout, stderr) = (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    );
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "a sweep tiny is already in {}: this one is tiny-2\n",
            state.display()
        )),
        "{stderr}"
    );
    let second = home.json(&["top", "tiny-2"], &[]);
    let best = board(&second)[0].0;
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines[lines.len() - 5..],
        [
            format!("the sweep stays in {}; to look again:", state.display()),
            "  gptsweep top tiny-2".to_string(),
            "  gptsweep samples tiny-2".to_string(),
            format!("  gptsweep show {best}"),
            "  gptsweep dashboard".to_string(),
        ],
        "{stdout}"
    );
    let sweeps = home.json(&["sweeps"], &[]);
    let names: Vec<&str> = sweeps
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["tiny-2", "tiny"], "newest first");
    // Each run's worker left when its sweep ended.
    let workers = home.json(&["workers"], &[]);
    let left: Vec<(&str, &str)> = workers
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["name"].as_str().unwrap(), w["left"].as_str().unwrap()))
        .collect();
    let drained = "the local sweep ended; every run handed back";
    assert_eq!(left, [("local", drained), ("local", drained)]);

    // A sweep it lacks: said with where it looked.
    let out = home.run(&["top", "nosuch"], &[]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.starts_with(&format!(
            "error: in the local state {} (no --coordinator given): ",
            state.display()
        )) && stderr.contains("nosuch"),
        "{stderr}"
    );
}

#[test]
fn state_dir_keeps_working_and_the_way_back_names_it() {
    let home = Home::new();
    let file = home.sweep(tiny());
    let elsewhere = home.dir.path().join("my state");
    let local = home.json(
        &[
            "local",
            &file,
            "--dashboard",
            "off",
            "--state-dir",
            elsewhere.to_str().unwrap(),
        ],
        &[],
    );
    let best = board(&local["top"])[0].0;
    let env = format!("GPTSWEEP_LOCAL_STATE_DIR='{}' ", elsewhere.display());
    assert_eq!(
        local["look_again"],
        serde_json::json!([
            format!("{env}gptsweep top tiny"),
            format!("{env}gptsweep samples tiny"),
            format!("{env}gptsweep show {best}"),
            format!("{env}gptsweep dashboard"),
        ])
    );
    assert!(!home.state().exists(), "the default state is left alone");
    let top = home.json(
        &["top", "tiny"],
        &[("GPTSWEEP_LOCAL_STATE_DIR", &elsewhere)],
    );
    assert_eq!(board(&top), board(&local["top"]));
}

#[test]
fn dashboard_serves_the_local_state_after_the_run_and_stops_on_ctrl_c() {
    let home = Home::new();
    // Before any local run: nothing to serve, said in one line.
    let out = home.run(&["dashboard"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8(out.stderr).unwrap(),
        format!(
            "error: no local state in {}: `gptsweep local FILE` runs a sweep there \
             (GPTSWEEP_LOCAL_STATE_DIR names another)\n",
            home.state().display()
        )
    );
    let file = home.sweep(tiny());
    home.json(&["local", &file, "--dashboard", "off"], &[]);
    let mut child = home
        .command(&["dashboard"], &[])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    let prefix = format!("dashboard of {}: ", home.state().display());
    let url = first
        .trim_end()
        .strip_prefix(&prefix)
        .unwrap_or_else(|| panic!("{first:?}"));
    let (base, token) = url.split_once("/?token=").unwrap();
    let access: Value =
        serde_json::from_str(&std::fs::read_to_string(home.state().join("access.json")).unwrap())
            .unwrap();
    assert_eq!(token, access["client_token"]);
    let sweeps = http::get(base, "/api/sweeps", Some(token));
    assert_eq!(sweeps.status, 200, "{sweeps:?}");
    let names: Vec<String> = sweeps
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, ["tiny"]);
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = wait_until("dashboard to stop", Duration::from_secs(10), || {
        child.try_wait().unwrap()
    });
    assert!(status.success(), "{status}");
    // Stopped, it holds nothing: the next command opens the state.
    assert_eq!(board(&home.json(&["top", "tiny"], &[])).len(), 2);
}

#[test]
fn while_local_runs_the_other_commands_reach_it() {
    let home = Home::new();
    let long = home.sweep(
        TinySweep::new("long")
            .grid("lr", &[1e-3])
            .max_iters(100_000)
            .eval_interval(1000),
    );
    let mut local = home
        .command(&["local", &long, "--dashboard", "127.0.0.1:0"], &[])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let status = wait_until("the run to start", Duration::from_secs(60), || {
        let out = home.run(&["status", "long", "--output", "json"], &[]);
        let v: Value = serde_json::from_slice(&out.stdout).ok()?;
        (v["runs"]["running"] == 1).then_some(v)
    });
    assert_eq!(status["name"], "long", "{status}");
    // `dashboard` points at the running one's.
    let out = home.run(&["dashboard"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let said = String::from_utf8(out.stderr).unwrap();
    assert!(
        said.contains("a running gptsweep local: its dashboard is at http://127.0.0.1:"),
        "{said}"
    );
    // A second `local` on the same state is refused, naming the holder.
    let second = home.run(&["local", &long, "--dashboard", "off"], &[]);
    assert_eq!(second.status.code(), Some(1));
    let said = String::from_utf8(second.stderr).unwrap();
    assert!(
        said.contains(&format!("state dir {} is in use", home.state().display())),
        "{said}"
    );
    // Cancelled from here, the running `local` ends.
    let out = home.run(&["cancel", "long"], &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ended = wait_until("local to end", Duration::from_secs(60), || {
        local.try_wait().unwrap()
    });
    let mut stderr = String::new();
    std::io::Read::read_to_string(local.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(ended.success(), "{ended}: {stderr}");
}
