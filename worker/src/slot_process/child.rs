//! The slot process itself (`gptsweep slot-child`): reads one run from stdin, trains it on
//! its device with the thread slot's own driver ([`crate::train_task`]), and writes what
//! happens to stdout as frames, then exits. It needs no coordinator: the worker sent the
//! run, the checkpoint to resume and where the corpus is.
//!
//! Its stdout carries frames only: before anything else runs, the pipe is kept on a
//! descriptor of its own and stdout is pointed at stderr, so a stray print of a library
//! lands in the worker's log and not inside a frame. A closed stdin means the worker is
//! gone: the child exits at once (and the kernel kills it if the worker dies first:
//! `PR_SET_PDEATHSIG`), so no run trains on for nobody.

use std::fs::File;
use std::io::{BufReader, BufWriter};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use gptsweep_gpt::{Checkpoint, Corpus, DeviceSpec, input_file};
use tokio::sync::mpsc;

use super::frame::{read_frame, write_frame};
use super::message::{CorpusSource, Failure, Output, TaskSpec, ToChild, ToParent};
use crate::faults::{self, Fault};
use crate::train_task::{Answered, Progress, RunTask, train_blocking};

/// The exit code of a child whose worker closed its stdin (went away).
pub const EXIT_ORPHANED: i32 = 3;

/// Serves one run on `device`: the whole life of a slot process. An error is a broken
/// pipe or stream (the worker sees the child end without an output); a run that fails is
/// not an error here (it is reported as a [`Failure`] frame).
pub fn serve(device: DeviceSpec) -> Result<(), String> {
    // Die with the worker, even in the middle of a step.
    let _ = rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL));
    let frames = rustix::io::dup(std::io::stdout())
        .map_err(|e| format!("cannot keep the frame pipe: {e}"))?;
    rustix::stdio::dup2_stdout(std::io::stderr())
        .map_err(|e| format!("cannot point stdout at stderr: {e}"))?;
    let mut out = BufWriter::new(File::from(frames));
    let mut input = BufReader::new(std::io::stdin());

    let task = match read_frame(&mut input) {
        Ok(Some(f)) => match ToChild::decode(f)? {
            ToChild::Task(t) => *t,
            other => return Err(format!("expected the task first, got {other:?}")),
        },
        Ok(None) => std::process::exit(EXIT_ORPHANED),
        Err(e) => return Err(format!("reading the task: {e}")),
    };
    let resume_bytes = if task.resume {
        match read_frame(&mut input) {
            Ok(Some(f)) => match ToChild::decode(f)? {
                ToChild::Resume(bytes) => Some(bytes),
                other => return Err(format!("expected the checkpoint, got a {other:?}")),
            },
            Ok(None) => std::process::exit(EXIT_ORPHANED),
            Err(e) => return Err(format!("reading the checkpoint: {e}")),
        }
    } else {
        None
    };
    let result = match prepare(&task, resume_bytes) {
        Ok((corpus, resume)) => train(device, task, corpus, resume, input, &mut out),
        Err(failure) => Err(failure),
    };
    let last = match result {
        Ok(output) => ToParent::Output(Box::new(output)),
        Err(failure) => ToParent::Failed(failure),
    };
    let f = last.encode();
    write_frame(&mut out, f.tag, &f.payload).map_err(|e| format!("writing the outcome: {e}"))
}

/// The corpus and checkpoint of `task`; failing here is the worker's fault (it fetched
/// and checked both already).
fn prepare(
    task: &TaskSpec,
    resume: Option<Vec<u8>>,
) -> Result<(Corpus, Option<Checkpoint>), Failure> {
    let worker = |message: String| Failure {
        message,
        worker_fault: true,
    };
    let corpus = load_corpus(&task.corpus).map_err(worker)?;
    let resume = resume
        .map(|b| Checkpoint::from_bytes(&b, "the checkpoint sent to a slot process"))
        .transpose()
        .map_err(|e| worker(e.to_string()))?;
    Ok((corpus, resume))
}

/// The corpus `source` names, checked against its sha256.
fn load_corpus(source: &CorpusSource) -> Result<Corpus, String> {
    let tokens = Some(source.tokens.as_path());
    let corpus = match &source.text {
        None => Corpus::load(&source.name, source.tokenizer, tokens),
        Some(path) => input_file::read_bounded("dataset", path, input_file::MAX_DATASET_BYTES)
            .and_then(|bytes| Corpus::from_bytes(&source.name, &bytes, source.tokenizer, tokens)),
    }
    .map_err(|e| format!("slot process: {e}"))?;
    if corpus.sha256() != source.sha256 {
        return Err(format!(
            "slot process: corpus {} has sha256 {}, not {}",
            source.name,
            corpus.sha256(),
            source.sha256
        ));
    }
    Ok(corpus)
}

/// Trains the run, its progress written as frames as it comes, while a thread obeys the
/// worker's control frames.
fn train(
    device: DeviceSpec,
    task: TaskSpec,
    corpus: Corpus,
    resume: Option<Checkpoint>,
    mut input: BufReader<std::io::Stdin>,
    out: &mut BufWriter<File>,
) -> Result<Output, Failure> {
    let stop = Arc::new(AtomicBool::new(false));
    let preempt = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(Answered::default());
    {
        let (stop, preempt, answered) = (stop.clone(), preempt.clone(), answered.clone());
        std::thread::spawn(move || {
            loop {
                let message = match read_frame(&mut input) {
                    Ok(Some(f)) => ToChild::decode(f),
                    Ok(None) => Err("the worker closed the pipe".into()),
                    Err(e) => Err(e.to_string()),
                };
                match message {
                    Ok(ToChild::Stop) => stop.store(true, Ordering::Relaxed),
                    Ok(ToChild::Preempt) => preempt.store(true, Ordering::Relaxed),
                    Ok(ToChild::Answered(step)) => answered.mark(step),
                    Ok(other) => {
                        tracing::warn!("slot process: ignoring an unexpected {other:?}");
                    }
                    Err(why) => {
                        tracing::warn!("slot process exits: {why}");
                        std::process::exit(EXIT_ORPHANED);
                    }
                }
            }
        });
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = RunTask {
        hp: task.hp,
        corpus: Arc::new(corpus),
        samples: task.samples,
        resume,
        progress: tx,
        stop,
        preempt,
        answered,
        answer_within: Duration::from_millis(task.answer_within_ms),
    };
    let result = std::thread::scope(|s| {
        let writer = s.spawn(|| -> Result<(), String> {
            while let Some(p) = rx.blocking_recv() {
                let message = match p {
                    Progress::Eval(e) => ToParent::Eval(e),
                    Progress::Step {
                        step,
                        tokens_per_sec,
                    } => ToParent::Step {
                        step,
                        tokens_per_sec,
                    },
                    Progress::Checkpoint { step, bytes } => ToParent::Checkpoint { step, bytes },
                };
                let f = message.encode();
                write_frame(out, f.tag, &f.payload).map_err(|e| e.to_string())?;
            }
            Ok(())
        });
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| train_blocking(device, task)));
        // The task (and with it the sender) is gone: the writer ends once it has sent all.
        let written = writer
            .join()
            .unwrap_or_else(|_| Err("the writer panicked".into()));
        (result, written)
    });
    match result {
        (_, Err(why)) => {
            // The worker cannot hear the outcome: it is gone.
            tracing::warn!("slot process exits: {why}");
            std::process::exit(EXIT_ORPHANED);
        }
        (Ok(Ok(output)), Ok(())) => Ok(output.into()),
        (Ok(Err(e)), Ok(())) => Err(Failure {
            message: e.to_string(),
            worker_fault: faults::of_gpt(&e) == Fault::Worker,
        }),
        (Err(panic), Ok(())) => {
            let (fault, message) =
                faults::training_panicked(&gptsweep_api::panic::panic_text(panic.as_ref()));
            Err(Failure {
                worker_fault: fault == Fault::Worker,
                message,
            })
        }
    }
}
