//! `deploy/slurm/workers.sbatch` on a real Slurm cluster (single node, loopback; started by
//! `tests/slurm/start-cluster.sh`): an array of two tasks trains against a coordinator this
//! test started; `scancel --batch --signal=TERM` drains both (their runs handed back with a
//! checkpoint, no attempt counted, every task exits 0); a second array resumes the runs
//! where they stopped (no step trained twice) and finishes the sweep; then, with no work
//! left, `--idle-exit` ends its tasks and the job leaves the queue by itself.
//!
//! The script's GPU defaults stay: the test only overrides them (`--gres=none`,
//! `GPTSWEEP_DEVICES=cpu`) and points the tasks at the binary under test.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Cluster, TinySweep, eval_steps, panic_lines, slurm, stopped_at, wait_until};
use serde_json::Value;

/// Runs in the sweep: one per array task.
const RUNS: usize = 2;

/// Steps each run trains, and how often it evaluates (and checkpoints): the tiny model
/// trains ~1000 steps/s on a CPU core, so a run is still training well after both have
/// evaluated twice, however far apart the two tasks started (about a second measured).
const MAX_ITERS: u64 = 10_000;
const EVAL_INTERVAL: u64 = 500;

/// How long a drain or an idle exit may take to empty the queue: a drain takes a step
/// (the script's `--drain-timeout` is 90 s); an idle task leaves after `--idle-exit` plus
/// up to the worker's `--poll` (20 s: a poll for work is never cut short, so that a run it
/// is answered with is handed back rather than left to expire).
const LEAVE_QUEUE: Duration = Duration::from_secs(60);

/// The job script under test.
fn script() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/slurm/workers.sbatch")
}

/// An array job of the script; cancelled outright if still queued when dropped (a failed
/// test leaves no task behind).
struct Job(String);

impl Job {
    /// Submits `--array=0-(RUNS-1)` against `c`, the tasks ending after `idle_exit` seconds
    /// without work; their logs go to `c`'s scratch directory (`slurm-JOB_TASK.log`), so
    /// that every failure message shows them.
    fn submit(c: &Cluster, idle_exit: u32) -> Self {
        let token = c.token_file();
        let cache = c.dir.path().join("slurm-cache");
        let idle_exit = idle_exit.to_string();
        Self(slurm::sbatch(
            &script(),
            &format!("0-{}", RUNS - 1),
            c.dir.path(),
            // The script asks for a GPU, 4 CPUs and 32 GB; this node has none of that.
            &[
                "--gres=none",
                "--cpus-per-task=1",
                "--mem=256M",
                "--time=10",
            ],
            &[
                ("GPTSWEEP_BIN", common::bin()),
                ("GPTSWEEP_COORDINATOR", &c.url),
                ("GPTSWEEP_TOKEN_FILE", token.to_str().unwrap()),
                ("GPTSWEEP_DEVICES", "cpu"),
                ("GPTSWEEP_RUNS_PER_DEVICE", "1"),
                ("GPTSWEEP_CACHE_DIR", cache.to_str().unwrap()),
                ("GPTSWEEP_IDLE_EXIT", &idle_exit),
            ],
        ))
    }

    /// The log of array task `task`.
    fn log(&self, c: &Cluster, task: usize) -> String {
        let path = c.dir.path().join(format!("slurm-{}_{task}.log", self.0));
        std::fs::read_to_string(path).unwrap_or_default()
    }

    /// Asserts that every task ended by itself with exit code 0 and wrote no panic.
    fn assert_every_task_exited_0(&self, c: &Cluster) {
        let ends = slurm::task_ends(&self.0);
        let want: Vec<(u32, (String, String))> = (0..RUNS as u32)
            .map(|t| (t, ("COMPLETED".to_string(), "0:0".to_string())))
            .collect();
        assert_eq!(
            ends.into_iter().collect::<Vec<_>>(),
            want,
            "job {}: every task completed with exit code 0\n{}",
            self.0,
            c.logs()
        );
        for task in 0..RUNS {
            let log = self.log(c, task);
            assert!(panic_lines(&log).is_empty(), "task {task} panicked: {log}");
        }
    }
}

impl Drop for Job {
    /// Never panics (it may run while a failed assert unwinds): an ended job's scancel
    /// error is expected, and dropped with the rest of its output.
    fn drop(&mut self) {
        let _ = std::process::Command::new("scancel").arg(&self.0).output();
    }
}

/// The run ids of sweep `name`, ascending.
fn runs(c: &Cluster, name: &str) -> Vec<String> {
    let mut ids: Vec<i64> = c
        .json(&["top", name])
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["run"].as_i64().unwrap())
        .collect();
    ids.sort();
    ids.iter().map(i64::to_string).collect()
}

/// The states of a run's attempts, oldest first.
fn attempt_states(show: &Value) -> Vec<String> {
    show["attempts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["state"].as_str().unwrap().to_string())
        .collect()
}

/// `(name, alive, left)` of every worker the coordinator knows, in registration order.
fn workers(c: &Cluster) -> Vec<(String, bool, String)> {
    c.json(&["workers"])
        .as_array()
        .unwrap()
        .iter()
        .map(|w| {
            (
                w["name"].as_str().unwrap().to_string(),
                w["alive"].as_bool().unwrap(),
                w["left"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Asserts that the workers registered by `job` are exactly its tasks, each gone with a
/// reason containing `why`.
fn assert_tasks_left(c: &Cluster, registered: &[(String, bool, String)], job: &Job, why: &str) {
    let mut names: Vec<&str> = registered.iter().map(|w| w.0.as_str()).collect();
    names.sort();
    for (task, name) in names.iter().enumerate() {
        assert!(
            name.starts_with(&format!("slurm-{}_{task}@", job.0)),
            "worker names {names:?}: one per task of job {}",
            job.0
        );
    }
    assert_eq!(names.len(), RUNS, "{registered:?}");
    for (name, alive, left) in registered {
        assert!(
            !alive && left.contains(why),
            "worker {name}: alive {alive}, left {left:?}; want gone with {why:?}\n{}",
            c.logs()
        );
    }
}

#[test]
fn an_array_drained_by_scancel_hands_its_runs_back_and_the_next_resumes_them_and_idles_out() {
    if !slurm::available() {
        return;
    }
    let c = Cluster::start(0, 10.0);
    let sweep = TinySweep::new("slurm")
        .grid("lr", &[0.01, 0.001])
        .max_iters(MAX_ITERS)
        .eval_interval(EVAL_INTERVAL)
        .no_samples();
    assert_eq!(c.submit(&sweep)["runs"], RUNS);
    let runs = runs(&c, "slurm");
    assert_eq!(runs.len(), RUNS);

    // 1. Both tasks train a run each, then are drained at once.
    let first = Job::submit(&c, 600);
    slurm::wait_until_running(&first.0, RUNS, Duration::from_secs(60));
    for run in &runs {
        wait_until(
            &format!("run {run} to report two evaluations from job {}", first.0),
            Duration::from_secs(120),
            || (eval_steps(&c.json(&["show", run])).len() >= 2).then_some(()),
        );
    }
    let drain = Instant::now();
    slurm::scancel_term(&first.0);
    slurm::wait_until_gone(&first.0, LEAVE_QUEUE, || c.logs());
    let drain = drain.elapsed();
    first.assert_every_task_exited_0(&c);
    for task in 0..RUNS {
        let log = first.log(&c, task);
        assert!(log.contains("drained"), "task {task} drained: {log}");
    }
    let status = c.json(&["status", "slurm"]);
    assert_eq!(
        (
            &status["runs"]["queued"],
            &status["runs"]["finished"],
            &status["runs"]["failed"]
        ),
        (&Value::from(RUNS), &Value::from(0), &Value::from(0)),
        "both runs handed back, neither failed: {status}\n{}",
        c.logs()
    );
    let mut stopped = Vec::new();
    for run in &runs {
        let show = c.json(&["show", run]);
        assert_eq!(attempt_states(&show), ["preempted"], "{show}");
        let step = stopped_at(show["attempts"][0]["reason"].as_str().unwrap());
        assert!(
            (2 * EVAL_INTERVAL..MAX_ITERS).contains(&step),
            "run {run} stopped mid-run, after two evaluations: {show}"
        );
        stopped.push(step);
    }
    assert_tasks_left(&c, &workers(&c), &first, "signal");
    eprintln!(
        "job {}: drained in {drain:.1?}, runs {runs:?} stopped at steps {stopped:?}",
        first.0
    );

    // 2. A second array resumes both runs from their checkpoints and finishes the sweep.
    let second = Job::submit(&c, 3);
    let status = c.json(&["status", "slurm", "--watch"]);
    assert_eq!(
        (&status["runs"]["finished"], &status["runs"]["failed"]),
        (&Value::from(RUNS), &Value::from(0)),
        "{status}\n{}",
        c.logs()
    );
    let every_eval: Vec<u64> = (1..=MAX_ITERS / EVAL_INTERVAL)
        .map(|i| i * EVAL_INTERVAL)
        .collect();
    for (run, stopped) in runs.iter().zip(&stopped) {
        let show = c.json(&["show", run]);
        assert_eq!(show["state"], "finished", "{show}");
        assert_eq!(attempt_states(&show), ["preempted", "finished"], "{show}");
        assert_eq!(
            show["attempts"][1]["resumed_from"].as_u64(),
            Some(*stopped),
            "run {run} resumed exactly where it stopped: {show}"
        );
        assert_eq!(
            eval_steps(&show),
            every_eval,
            "run {run}: one evaluation per interval, none twice"
        );
    }
    // The hand-backs were not counted: each run's lease in the second job is its attempt 1.
    let logs: String = (0..RUNS).map(|t| second.log(&c, t)).collect();
    assert_eq!(
        (
            logs.matches(" attempt=").count(),
            logs.matches(" attempt=1 ").count()
        ),
        (RUNS, RUNS),
        "each run leased once more, as its attempt 1: {logs}"
    );

    // 3. No work left: every task leaves after --idle-exit, and the job leaves the queue.
    let idle = Instant::now();
    slurm::wait_until_gone(&second.0, LEAVE_QUEUE, || c.logs());
    eprintln!(
        "job {}: sweep finished, queue empty {:.1?} later (--idle-exit 3)",
        second.0,
        idle.elapsed()
    );
    second.assert_every_task_exited_0(&c);
    let all = workers(&c);
    assert_eq!(all.len(), 2 * RUNS, "{all:?}");
    assert_tasks_left(&c, &all[RUNS..], &second, "idle");
}
