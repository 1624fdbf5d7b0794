//! A real Slurm cluster, driven through its own commands (`sbatch`, `squeue`, `scancel`,
//! `scontrol`): the one `tests/slurm/start-cluster.sh` starts on loopback (`.ci/run` runs
//! it). Without one a test that needs it says so and is skipped, except under CI, where it
//! fails.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use super::output_within;

/// How long one Slurm command may take; the controller answers in milliseconds.
const COMMAND_DEADLINE: Duration = Duration::from_secs(30);

/// Whether a Slurm cluster answers here with a node up: idle, or busy with other jobs
/// (a test's tasks then wait in the queue, and it fails if they do not start in time);
/// says why not when not.
pub fn available() -> bool {
    let why = match Command::new("sinfo").args(["-h", "-o", "%T"]).output() {
        Err(e) => format!("sinfo cannot run ({e}): install slurmctld, slurmd and munge"),
        Ok(out) if !out.status.success() => format!(
            "no Slurm cluster answers: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Ok(out) => {
            let states = String::from_utf8_lossy(&out.stdout).to_string();
            if states
                .lines()
                .any(|s| ["idle", "mixed", "allocated"].contains(&s))
            {
                return true;
            }
            format!("no node of the Slurm cluster is up: sinfo says {states:?}")
        }
    };
    assert!(
        std::env::var_os("CI").is_none(),
        "{why} under CI (.ci/run runs tests/slurm/start-cluster.sh)"
    );
    eprintln!("SKIPPED: {why}; start one with tests/slurm/start-cluster.sh (as root)");
    false
}

/// Runs a Slurm command, asserting that it succeeds, and answers its stdout.
fn run(command: &mut Command) -> String {
    let shown = format!("{command:?}");
    let out: Output = output_within(command, COMMAND_DEADLINE)
        .unwrap_or_else(|ran| panic!("{shown} was still running after {ran:?}"));
    assert!(
        out.status.success(),
        "{shown} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `sbatch --parsable --array=ARRAY --output=DIR/slurm-%A_%a.log ... SCRIPT` with `env`
/// added to the environment sbatch passes on; `extra` are more sbatch options (they
/// override the script's `#SBATCH` lines). Answers the job id.
pub fn sbatch(
    script: &Path,
    array: &str,
    output_dir: &Path,
    extra: &[&str],
    env: &[(&str, &str)],
) -> String {
    let out = run(Command::new("sbatch")
        .arg("--parsable")
        .arg(format!("--array={array}"))
        .arg(format!(
            "--output={}",
            output_dir.join("slurm-%A_%a.log").display()
        ))
        .args(extra)
        .arg(script)
        .envs(env.iter().copied()));
    // `--parsable` answers `JOBID` or `JOBID;CLUSTER`.
    let job = out.trim().split(';').next().unwrap_or_default().to_string();
    assert!(
        !job.is_empty() && job.chars().all(|c| c.is_ascii_digit()),
        "sbatch answered {out:?}, not a job id"
    );
    job
}

/// The tasks of array job `job` still in the queue (pending, running or completing).
pub fn queued_tasks(job: &str) -> Vec<String> {
    run(Command::new("squeue").args(["-h", "-r", "-j", job, "-o", "%i %T"]))
        .lines()
        .map(str::to_string)
        .collect()
}

/// Waits up to `within` until no task of `job` is in the queue; `logs` for the failure.
pub fn wait_until_gone(job: &str, within: Duration, logs: impl Fn() -> String) {
    let start = std::time::Instant::now();
    while !queued_tasks(job).is_empty() {
        assert!(
            start.elapsed() < within,
            "job {job} still queued after {within:?}: {:?}\n{}",
            queued_tasks(job),
            logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Waits up to `within` until every task of `job` runs (its array expanded to `tasks`);
/// the failure shows the whole queue and the node (a job left by an earlier test may hold
/// the CPUs).
pub fn wait_until_running(job: &str, tasks: usize, within: Duration) {
    let start = std::time::Instant::now();
    loop {
        let q = queued_tasks(job);
        if q.len() == tasks && q.iter().all(|t| t.ends_with(" RUNNING")) {
            return;
        }
        assert!(
            start.elapsed() < within,
            "{tasks} tasks of job {job} not all running after {within:?}: {q:?}\nsqueue:\n{}\nsinfo:\n{}",
            run(Command::new("squeue").args(["-o", "%i %j %u %T %R"])),
            run(Command::new("sinfo").args(["-N", "-l"])),
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// `scancel --batch --signal=TERM JOB`: SIGTERM to each task's batch shell, nothing after.
pub fn scancel_term(job: &str) {
    run(Command::new("scancel").args(["--batch", "--signal=TERM", job]));
}

/// Each finished task of array job `job`, by array index: `(JobState, ExitCode)` as
/// `scontrol show job` says (the controller keeps ended jobs for `MinJobAge`, 300 s).
pub fn task_ends(job: &str) -> BTreeMap<u32, (String, String)> {
    run(Command::new("scontrol").args(["show", "job", "-o", job]))
        .lines()
        .filter_map(|line| {
            let field = |key: &str| {
                line.split_whitespace()
                    .find_map(|kv| kv.strip_prefix(key)?.strip_prefix('='))
                    .map(str::to_string)
            };
            let task = field("ArrayTaskId")?.parse().ok()?;
            Some((task, (field("JobState")?, field("ExitCode")?)))
        })
        .collect()
}
