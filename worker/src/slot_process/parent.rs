//! The worker's side of a slot process: start the child, send it the run, forward the
//! run's stop, hand-back and answered evaluations as control frames, and turn the child's
//! frames back into the thread slot's [`Progress`] and [`RunOutput`]. It runs on a
//! blocking thread of the worker, as a thread slot's training does, so [`crate::execute`]
//! drives both alike.
//!
//! A child that ends without its last frame (killed, crashed, closed its pipe) or whose
//! stream is garbled fails its run as a panic of a thread slot does
//! ([`faults::of_panic`]); the other slots never notice. If the run's async side goes
//! away (the worker is leaving), the child is killed rather than left to train for nobody.

use std::io::{BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gptsweep_gpt::DeviceSpec;
use tokio::sync::mpsc::UnboundedSender;

use super::SlotProcess;
use super::frame::{read_frame, write_frame};
use super::message::{CorpusSource, TaskSpec, ToChild, ToParent};
use crate::faults::{self, Fault};
use crate::train_task::{Answered, Progress, RunOutput, RunTask};

/// The variable that points a gptsweep process's kernel folder elsewhere.
pub const KERNEL_DIR_VAR: &str = "GPTSWEEP_KERNEL_DIR";

/// How often the control side looks at the run's flags.
const CONTROL_TICK: Duration = Duration::from_millis(10);

/// How long a child that sent its last frame may take to exit before it is killed.
const EXIT_GRACE: Duration = Duration::from_secs(10);

/// A failed run: whose fault, and what happened.
pub type Failed = (Fault, String);

/// Trains `task` on `device` in a child process of `slot.exe` (blocking: call from a
/// blocking thread), with the corpus `corpus` names. Progress goes to `task.progress` as
/// from a thread slot.
pub fn train_in_child(
    slot: &SlotProcess,
    device: DeviceSpec,
    task: RunTask,
    corpus: CorpusSource,
) -> Result<RunOutput, Failed> {
    let mut command = Command::new(&slot.exe);
    command
        .args(["slot-child", "--device", &device.to_string()])
        .args(["--log-format", if slot.log_json { "json" } else { "text" }])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        // Its own process group: a Ctrl-C or a SIGTERM to the worker's group reaches the
        // worker, which drains its children; it does not kill them mid-step.
        .process_group(0);
    if let Some(dir) = &slot.kernel_dir {
        command.env(KERNEL_DIR_VAR, dir);
    }
    // Spawned from this blocking thread, which lives until the child is reaped: the child's
    // PR_SET_PDEATHSIG fires when the thread that started it ends, i.e. only with the worker.
    let mut child = command.spawn().map_err(|e| {
        (
            Fault::Worker,
            format!("cannot start a slot process ({}): {e}", slot.exe.display()),
        )
    })?;
    let pid = child.id();
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        let _ = child.kill();
        let _ = child.wait();
        return Err((Fault::Worker, "a slot process without its pipes".into()));
    };
    tracing::debug!(pid, %device, "slot process started");
    let child = Arc::new(Mutex::new(child));
    let spec = TaskSpec {
        hp: task.hp,
        samples: task.samples,
        corpus,
        answer_within_ms: task.answer_within.as_millis() as u64,
        resume: task.resume.is_some(),
    };
    // A child that died at once is heard of below, by its exit.
    let _ = send(&mut stdin, &ToChild::Task(Box::new(spec))).and_then(|()| match task.resume {
        Some(c) => send(&mut stdin, &ToChild::Resume(c.to_bytes())),
        None => Ok(()),
    });
    let done = Arc::new(AtomicBool::new(false));
    let control = {
        let control = Control {
            stdin,
            stop: task.stop,
            preempt: task.preempt,
            answered: task.answered,
            progress: task.progress.clone(),
            child: child.clone(),
            done: done.clone(),
        };
        std::thread::spawn(move || control.run())
    };
    let (last, garbled) = relay(BufReader::new(stdout), &task.progress);
    if garbled.is_some() {
        kill(&child);
    }
    done.store(true, Ordering::Relaxed);
    let _ = control.join();
    let status = wait(&child);
    if let Some(why) = garbled {
        let message = format!("slot process {pid} sent a garbled stream ({why}); killed it");
        return Err((faults::of_panic(&message), message));
    }
    match last {
        Some(ToParent::Output(o)) => Ok((*o).into()),
        Some(ToParent::Failed(f)) => Err((
            if f.worker_fault {
                Fault::Worker
            } else {
                Fault::Run
            },
            f.message,
        )),
        _ => {
            let message = format!("slot process {pid} {}", ended(status));
            Err((faults::of_panic(&message), message))
        }
    }
}

/// Reads the child's frames to the end, passing progress on: its last frame (output or
/// failure), and why the stream could not be read, if it could not.
fn relay(
    mut stdout: impl std::io::Read,
    progress: &UnboundedSender<Progress>,
) -> (Option<ToParent>, Option<String>) {
    let mut last = None;
    loop {
        let message = match read_frame(&mut stdout) {
            Ok(None) => return (last, None),
            Ok(Some(frame)) => ToParent::decode(frame),
            Err(e) => Err(e.to_string()),
        };
        match message {
            Ok(ToParent::Eval(e)) => {
                let _ = progress.send(Progress::Eval(e));
            }
            Ok(ToParent::Checkpoint { step, bytes }) => {
                let _ = progress.send(Progress::Checkpoint { step, bytes });
            }
            Ok(ToParent::Step {
                step,
                tokens_per_sec,
            }) => {
                let _ = progress.send(Progress::Step {
                    step,
                    tokens_per_sec,
                });
            }
            Ok(m @ (ToParent::Output(_) | ToParent::Failed(_))) => last = Some(m),
            Err(why) => return (last, Some(why)),
        }
    }
}

fn send(stdin: &mut ChildStdin, message: &ToChild) -> std::io::Result<()> {
    let f = message.encode();
    write_frame(stdin, f.tag, &f.payload).map_err(|e| match e {
        super::frame::FrameError::Io(e) => e,
        other => std::io::Error::other(other.to_string()),
    })?;
    stdin.flush()
}

fn kill(child: &Mutex<Child>) {
    let _ = child.lock().unwrap_or_else(|e| e.into_inner()).kill();
}

/// Waits for the child to exit, killing it after [`EXIT_GRACE`].
fn wait(child: &Mutex<Child>) -> Option<std::process::ExitStatus> {
    let mut child = child.lock().unwrap_or_else(|e| e.into_inner());
    let since = Instant::now();
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if since.elapsed() < EXIT_GRACE => std::thread::sleep(CONTROL_TICK),
            Ok(None) => {
                let _ = child.kill();
                return child.wait().ok();
            }
            Err(_) => return None,
        }
    }
}

/// How a child ended, in words.
fn ended(status: Option<std::process::ExitStatus>) -> String {
    match status {
        Some(s) => match (s.code(), s.signal()) {
            (Some(code), _) => format!("exited with code {code} before its run's end"),
            (None, Some(signal)) => format!("was killed by signal {signal} during its run"),
            _ => format!("ended during its run ({s})"),
        },
        None => "ended during its run (its exit status is unknown)".into(),
    }
}

/// The worker's words to a running child.
struct Control {
    stdin: ChildStdin,
    stop: Arc<AtomicBool>,
    preempt: Arc<AtomicBool>,
    answered: Arc<Answered>,
    progress: UnboundedSender<Progress>,
    child: Arc<Mutex<Child>>,
    done: Arc<AtomicBool>,
}

impl Control {
    /// Forwards each change of the run's flags until the child is done or gone; closes the
    /// child's stdin when it ends.
    fn run(mut self) {
        let (mut stop, mut preempt, mut answered) = (false, false, 0);
        while !self.done.load(Ordering::Relaxed) {
            if self.progress.is_closed() {
                // The run's async side is gone: nobody will hear the child.
                kill(&self.child);
                return;
            }
            let mut say = Vec::new();
            if !stop && self.stop.load(Ordering::Relaxed) {
                stop = true;
                say.push(ToChild::Stop);
            }
            if !preempt && self.preempt.load(Ordering::Relaxed) {
                preempt = true;
                say.push(ToChild::Preempt);
            }
            let latest = self.answered.latest();
            if latest > answered {
                answered = latest;
                say.push(ToChild::Answered(latest));
            }
            for m in &say {
                if send(&mut self.stdin, m).is_err() {
                    return; // the child is gone; the reader hears how
                }
            }
            std::thread::sleep(CONTROL_TICK);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stream_that_breaks_off_or_is_garbled_is_told_apart_from_one_that_ended() {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut bytes = Vec::new();
        let f = ToParent::Checkpoint {
            step: 5,
            bytes: vec![1, 2, 3],
        }
        .encode();
        write_frame(&mut bytes, f.tag, &f.payload).unwrap();
        let (last, garbled) = relay(bytes.as_slice(), &tx);
        assert!(
            last.is_none() && garbled.is_none(),
            "ended, without an outcome"
        );
        assert!(matches!(
            rx.try_recv(),
            Ok(Progress::Checkpoint { step: 5, .. })
        ));
        let (_, garbled) = relay(&bytes[..bytes.len() - 1], &tx);
        assert!(garbled.unwrap().contains("ended inside a frame"));
        let (_, garbled) = relay(&[200u8, 0, 0, 0, 0][..], &tx);
        assert!(garbled.unwrap().contains("unknown frame"));
        assert_eq!(
            ended(Some(std::process::ExitStatus::from_raw(9))),
            "was killed by signal 9 during its run"
        );
    }
}
