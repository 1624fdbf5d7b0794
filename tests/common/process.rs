//! One child process of a test cluster with its log file, and what teardown checks of it:
//! that it did not end on its own with a failure or a signal the test did not send, and
//! that its log holds no panic.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// Lines that only a panicking Rust process writes.
const PANIC_MARKS: [&str; 2] = ["panicked at", "RUST_BACKTRACE"];

/// A gptsweep process started by the harness.
#[derive(Debug)]
pub struct Process {
    /// Who it is in failure messages ("worker w1", "coordinator #0").
    name: String,
    /// The running (or ended) process.
    child: Child,
    /// Where its stderr goes.
    log: PathBuf,
    /// Whether the test ended it on purpose, which exempts its exit from the crash check.
    ended_on_purpose: bool,
}

impl Process {
    /// Wraps `child`, whose stderr is written to `log`.
    pub fn new(name: String, child: Child, log: PathBuf) -> Self {
        Self {
            name,
            child,
            log,
            ended_on_purpose: false,
        }
    }

    /// Its process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Its log file.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Kills it with SIGKILL on the test's behalf and waits for it to end. One that had
    /// already ended on its own is not exempted: that end is still checked at teardown.
    pub fn kill(&mut self) {
        self.ended_on_purpose = self.exit_status().is_none();
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    /// Sends it `signal` (`TERM`, `INT`) on the test's behalf, as Slurm or Kubernetes would.
    pub fn signal(&mut self, signal: &str) {
        let status = std::process::Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{signal} {}", self.name);
    }

    /// Waits up to `timeout` for it to end and answers how; the test judges that end
    /// itself, so teardown no longer does. Panics naming it if it does not end in time.
    pub fn wait_for_exit(&mut self, timeout: std::time::Duration) -> std::process::ExitStatus {
        let start = std::time::Instant::now();
        loop {
            if let Some(status) = self.exit_status() {
                self.ended_on_purpose = true;
                return status;
            }
            assert!(
                start.elapsed() < timeout,
                "{} did not exit within {timeout:?}",
                self.name
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// How it ended, if it has ended (and it could be asked).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Says how it crashed, if it ended on its own with a failure or by a signal that the
    /// test did not send. Does not wait.
    pub fn crash(&mut self) -> Option<String> {
        if self.ended_on_purpose {
            return None;
        }
        let status = self.exit_status()?;
        (!status.success()).then(|| format!("{} ended on its own: {status}", self.name))
    }

    /// Says which lines of its log show a panic, if any.
    pub fn panic_in_log(&self) -> Option<String> {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines = panic_lines(&text);
        (!lines.is_empty()).then(|| format!("{} panicked: {}", self.name, lines.join(" | ")))
    }

    /// Ends it at teardown (SIGKILL if still running) and reaps it.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The lines of `text` that show a panic.
pub fn panic_lines(text: &str) -> Vec<&str> {
    text.lines()
        .filter(|line| PANIC_MARKS.iter().any(|mark| line.contains(mark)))
        .collect()
}

/// Runs `command` to its end, its output captured, as `Command::output` does; `Err` with
/// how long it ran when it was still running after `deadline`, then killed. A hung CLI call
/// fails its test with the cluster's logs instead of holding CI until its own time limit.
pub fn output_within(command: &mut Command, deadline: Duration) -> Result<Output, Duration> {
    let child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || tx.send(child.wait_with_output()));
    match rx.recv_timeout(deadline) {
        Ok(out) => Ok(out.unwrap()),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .status();
            Err(deadline)
        }
    }
}
