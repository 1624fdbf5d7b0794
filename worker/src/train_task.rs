//! The part of a run that computes: on a blocking thread, drive the run on its device with
//! the shared driver ([`gptsweep_gpt::driver`]: from scratch or continuing a checkpoint,
//! then the sweep's samples), handing each evaluation and a checkpoint taken right after
//! it to the async side, and stopping between steps when told (with a checkpoint of that
//! step when the worker drains and hands the run back). After each evaluation it waits,
//! briefly, for the coordinator's answer to it ([`Answered`]): a run early termination
//! stops at a rung stops there, not the steps of a round trip later.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc::UnboundedSender;

use crate::step_rate::{self, StepRate};

use gptsweep_gpt::sample::SamplesSpec;
use gptsweep_gpt::{
    Checkpoint, Corpus, DeviceSpec, Eval, Event, Flow, Hyperparams, Observer, OnBackend, Start,
    TrainBackend, Trainer, train_then_sample, with_backend,
};

/// How often the compute thread says where it is between evaluations (the worker sends
/// the latest with its next heartbeat).
pub const STEP_EVERY: Duration = Duration::from_secs(1);

/// What a run produced: losses, samples, and whether it ended early on the coordinator's
/// word.
pub use gptsweep_gpt::RunOutput;

/// What the compute thread tells the async side as training goes.
#[derive(Debug)]
pub enum Progress {
    /// An evaluation, as it happens.
    Eval(Eval),
    /// Where training is between evaluations, at most every [`STEP_EVERY`]: completed
    /// steps and the throughput over the last seconds ([`StepRate`]).
    Step {
        /// Completed steps.
        step: u64,
        /// Tokens a second.
        tokens_per_sec: f64,
    },
    /// A checkpoint taken right after that evaluation, as one blob.
    Checkpoint {
        /// Completed steps.
        step: u64,
        /// [`Checkpoint::to_bytes`].
        bytes: Vec<u8>,
    },
}

/// Everything the compute thread needs.
pub struct RunTask {
    /// The run's hyperparameters (a resumed run keeps its checkpoint's).
    pub hp: Hyperparams,
    /// Its corpus.
    pub corpus: Arc<Corpus>,
    /// The samples to generate at the end.
    pub samples: SamplesSpec,
    /// Continue this checkpoint instead of starting from scratch.
    pub resume: Option<Checkpoint>,
    /// Where evaluations and checkpoints go as they happen.
    pub progress: UnboundedSender<Progress>,
    /// Set by the async side to stop between steps.
    pub stop: Arc<AtomicBool>,
    /// Set by the async side when the worker drains: stop at the next step and send a
    /// checkpoint taken there, so the run continues elsewhere without training a step twice.
    pub preempt: Arc<AtomicBool>,
    /// Which evaluations the async side has had answered.
    pub answered: Arc<Answered>,
    /// How long to wait for an evaluation's answer before training on without it.
    pub answer_within: Duration,
}

/// The step of the last evaluation whose report the async side has finished with: answered
/// by the coordinator (its word, such as a stop, already set) or found undeliverable.
#[derive(Debug, Default)]
pub struct Answered {
    step: Mutex<u64>,
    changed: Condvar,
}

impl Answered {
    /// The async side is done with the report of the evaluation at `step`.
    pub fn mark(&self, step: u64) {
        let mut last = self.step.lock().unwrap_or_else(|e| e.into_inner());
        *last = (*last).max(step);
        self.changed.notify_all();
    }

    /// The step of the last evaluation answered (0 before any).
    pub fn latest(&self) -> u64 {
        *self.step.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Waits up to `within` for the evaluation at `step` to be answered; whether it was.
    pub fn wait_for(&self, step: u64, within: Duration) -> bool {
        let last = self.step.lock().unwrap_or_else(|e| e.into_inner());
        let (last, _) = self
            .changed
            .wait_timeout_while(last, within, |last| *last < step)
            .unwrap_or_else(|e| e.into_inner());
        *last >= step
    }
}

/// Sends every evaluation and a checkpoint after it; stops when the async side says so,
/// with a checkpoint of the step it stopped at when the worker hands the run back.
struct Reporter {
    progress: UnboundedSender<Progress>,
    stop: Arc<AtomicBool>,
    preempt: Arc<AtomicBool>,
    answered: Arc<Answered>,
    answer_within: Duration,
    rate: StepRate,
    /// When the last [`Progress::Step`] went.
    said: Option<Instant>,
}

impl Reporter {
    /// Notes a finished step and, at most every [`STEP_EVERY`], says where training is.
    fn stepped(&mut self, step: u64) {
        let now = Instant::now();
        self.rate.step(now, step);
        let due = self
            .said
            .is_none_or(|t| now.duration_since(t) >= STEP_EVERY);
        if let (true, Some(tokens_per_sec)) = (due, self.rate.tokens_per_sec()) {
            self.said = Some(now);
            let _ = self.progress.send(Progress::Step {
                step,
                tokens_per_sec,
            });
        }
    }

    /// Sends a checkpoint of `trainer` as it stands (`what` names why, for the log).
    fn checkpoint<B: TrainBackend>(&self, trainer: &Trainer<B>, what: &str) {
        match trainer.checkpoint() {
            Ok(c) => {
                let _ = self.progress.send(Progress::Checkpoint {
                    step: trainer.steps_done() as u64,
                    bytes: c.to_bytes(),
                });
            }
            Err(err) => tracing::warn!(
                "cannot checkpoint {what} at step {}: {err}",
                trainer.steps_done()
            ),
        }
    }
}

impl<B: TrainBackend> Observer<B> for Reporter {
    fn observe(&mut self, trainer: &Trainer<B>, event: Event) -> Flow {
        // Whether this state has a checkpoint already, or will have one after the evaluation
        // the trainer runs at this step before it stops.
        let checkpointed = match event {
            Event::Step { step, .. } => {
                self.stepped(step as u64);
                trainer.hyperparams().evaluates_after(step)
            }
            Event::Eval(e) => {
                let step = e.step as u64;
                let _ = self.progress.send(Progress::Eval(e));
                // Taken while the report travels; its answer is awaited after.
                self.checkpoint(trainer, "after an evaluation");
                self.answered.wait_for(step, self.answer_within);
                self.rate.pause();
                true
            }
        };
        if self.preempt.load(Ordering::Relaxed) {
            if !checkpointed {
                self.checkpoint(trainer, "to hand the run back");
            }
            Flow::Stop
        } else if self.stop.load(Ordering::Relaxed) {
            Flow::Stop
        } else {
            Flow::Continue
        }
    }
}

impl OnBackend for RunTask {
    type Output = gptsweep_gpt::Result<RunOutput>;

    fn run<B: TrainBackend>(self, device: B::Device) -> Self::Output {
        let tokens_per_step = (self.hp.batch_size * self.hp.block_size) as u64;
        let start = match self.resume {
            Some(checkpoint) => Start::Resume {
                checkpoint: Box::new(checkpoint),
                max_iters: None,
            },
            None => Start::New(self.hp),
        };
        let mut reporter = Reporter {
            progress: self.progress,
            stop: self.stop,
            preempt: self.preempt,
            answered: self.answered,
            answer_within: self.answer_within,
            rate: StepRate::new(tokens_per_step, step_rate::WINDOW),
            said: None,
        };
        train_then_sample::<B>(start, self.corpus, &self.samples, device, &mut reporter)
    }
}

/// Runs `task` to its end on `device` (blocking: call from a blocking thread).
pub fn train_blocking(device: DeviceSpec, task: RunTask) -> gptsweep_gpt::Result<RunOutput> {
    with_backend(device, task)?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wait_ends_when_its_evaluation_or_a_later_one_is_answered_or_in_time() {
        let answered = Arc::new(Answered::default());
        let long = Duration::from_secs(30);
        let waiter = {
            let answered = answered.clone();
            std::thread::spawn(move || answered.wait_for(20, long))
        };
        answered.mark(10);
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !waiter.is_finished(),
            "an earlier answer does not end the wait"
        );
        answered.mark(30);
        assert!(waiter.join().unwrap());
        assert!(answered.wait_for(30, Duration::ZERO), "already answered");
        let t0 = std::time::Instant::now();
        assert!(!answered.wait_for(40, Duration::from_millis(50)));
        assert!(t0.elapsed() >= Duration::from_millis(50));
    }
}
