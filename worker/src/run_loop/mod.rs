//! The decisions of one run between its lease and its end, as a state type: what to tell
//! the coordinator next, what to do with its answer, when to stop training, and how the
//! attempt ends. [`crate::execute`] drives it: it turns the trainer's progress, a drain, a
//! heartbeat tick and the answers of the coordinator into calls of one method each, and
//! performs what they return ([`Call`], [`Effect`], [`Closing`]). No method here talks to
//! the coordinator or waits, so every sequence is a unit test.
//!
//! While training: an evaluation is reported at once (with any earlier ones not yet
//! delivered), a checkpoint is uploaded once the evaluations before it are delivered, and a
//! tick sends what is still held (evaluations first, then the checkpoint) or else a
//! heartbeat with where training is. A stop from the coordinator stops training; a lost
//! lease stops it and abandons the run; a drain stops it at the next step with a
//! checkpoint there. Once training ends: abandon a lost run without a word; else deliver
//! the held evaluations, report a failure as such, try the last checkpoint a few times,
//! and report the outcome (handed back, stopped or finished).

use gptsweep_api::{Directive, Evaluation, Outcome, RunId, Sample, from_proto};

use crate::faults::Fault;
use crate::train_task::RunOutput;

/// Tries of a run's last checkpoint (a [`Wait::Pause`] after each that finds the
/// coordinator away) before reporting its outcome without it.
pub const FINAL_UPLOAD_TRIES: usize = 20;

/// What the coordinator answered a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Delivered; train on.
    Continue,
    /// Delivered; stop training (early termination, a cancel), for this reason.
    Stop(String),
    /// The lease is gone (expired, or the run handed elsewhere): the attempt is over.
    Lost(String),
    /// Not delivered (the coordinator is down or slow): hold it and try again.
    Unreachable,
}

impl Heard {
    /// The coordinator's directive in a delivered answer.
    pub fn directive(directive: i32, reason: String) -> Self {
        match from_proto::directive(directive, reason) {
            Directive::Stop(reason) => Heard::Stop(reason),
            Directive::Continue => Heard::Continue,
        }
    }

    fn delivered(&self) -> bool {
        matches!(self, Heard::Continue | Heard::Stop(_))
    }
}

/// A call to make to the coordinator now, then to answer with [`RunLoop::heard`].
#[derive(Debug, PartialEq)]
pub enum Call<'a> {
    /// Report these evaluations (every one not yet delivered, oldest first).
    Report(&'a [Evaluation]),
    /// Upload the checkpoint of `step`.
    Upload {
        /// Completed steps of the checkpoint.
        step: u64,
        /// [`gptsweep_gpt::Checkpoint::to_bytes`].
        bytes: &'a [u8],
    },
    /// Renew the lease, saying where training is.
    Heartbeat {
        /// Completed steps.
        step: u64,
        /// The recent throughput, once known.
        tokens_per_sec: Option<f64>,
    },
    /// Nothing to send.
    Nothing,
}

/// A [`Call`] made, with the coordinator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// [`Call::Report`].
    Report(Heard),
    /// [`Call::Upload`].
    Upload(Heard),
    /// [`Call::Heartbeat`].
    Heartbeat(Heard),
    /// [`Call::Nothing`].
    Nothing,
}

impl Sent {
    fn heard(self) -> Heard {
        match self {
            Sent::Report(h) | Sent::Upload(h) | Sent::Heartbeat(h) => h,
            Sent::Nothing => Heard::Continue,
        }
    }
}

/// What the training side is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Stop between steps.
    StopTraining,
    /// Stop at the next step with a checkpoint taken there (the worker drains).
    HandBack,
    /// The report of the evaluation at this step is answered (or found undeliverable):
    /// training, waiting for its answer, goes on.
    Answered(u64),
}

/// How the attempt is reported at its end.
#[derive(Debug, Clone, PartialEq)]
pub struct Finish {
    /// The outcome.
    pub outcome: Outcome,
    /// The error of a failure, or the reason of a hand-back; empty otherwise.
    pub error: String,
    /// The texts generated at the end.
    pub samples: Vec<Sample>,
    /// The run's summary as JSON; empty for a failure or a hand-back.
    pub summary_json: String,
}

impl Finish {
    /// A failed attempt: the run's fault (`failed`, counted) or the worker's
    /// (`worker_fault`, queued again at once).
    pub fn failed(fault: Fault, error: String) -> Self {
        let outcome = match fault {
            Fault::Run => Outcome::Failed,
            Fault::Worker => Outcome::WorkerFault,
        };
        Self::bare(outcome, error)
    }

    /// An outcome with no samples and no summary.
    pub fn bare(outcome: Outcome, error: String) -> Self {
        Self {
            outcome,
            error,
            samples: Vec::new(),
            summary_json: String::new(),
        }
    }
}

/// The next thing to do once training has ended ([`Ending::what_next`]).
#[derive(Debug, PartialEq)]
pub enum Closing<'a> {
    /// Send these held evaluations, and answer with [`Ending::heard`].
    Report(&'a [Evaluation]),
    /// Try the last checkpoint, and answer with [`Ending::heard`].
    Upload {
        /// Completed steps of the checkpoint.
        step: u64,
        /// Its bytes.
        bytes: &'a [u8],
    },
    /// The lease is gone: end without reporting anything, for this reason.
    Abandon(String),
    /// Report the attempt's end: the last thing to do.
    Finish(Finish),
}

/// How long to wait before the next [`Ending::what_next`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Go on at once.
    No,
    /// The coordinator is away: a backoff (spread out over the fleet, at least once a
    /// heartbeat interval).
    Backoff,
    /// The coordinator is away while a checkpoint is tried: a short pause.
    Pause,
}

/// What a training run ended with: its output, or the fault and error of its failure.
pub type Trained = Result<RunOutput, (Fault, String)>;

/// One run's state from the start of training to its report.
#[derive(Debug)]
pub struct RunLoop {
    run: RunId,
    /// Evaluations not yet delivered, oldest first.
    pending: Vec<Evaluation>,
    /// The latest checkpoint not yet delivered: (step, bytes).
    checkpoint: Option<(u64, Vec<u8>)>,
    /// Completed steps as last heard from training.
    step: u64,
    /// The throughput over the last seconds, sent with `step` in each heartbeat.
    rate: Option<f64>,
    /// Why the lease was lost, once it was.
    lost: Option<String>,
    /// Whether the coordinator said stop.
    told_to_stop: bool,
    /// Whether the worker drains and hands the run back.
    handing_back: bool,
    /// The evaluation whose report the current turn sent, to be marked answered.
    evaluated: Option<u64>,
}

impl RunLoop {
    /// A run about to train from `step` (0, or the step of the checkpoint it resumes).
    pub fn new(run: RunId, step: u64) -> Self {
        Self {
            run,
            pending: Vec::new(),
            checkpoint: None,
            step,
            rate: None,
            lost: None,
            told_to_stop: false,
            handing_back: false,
            evaluated: None,
        }
    }

    /// Whether a drain was already heard (the driver stops listening for one).
    pub fn handing_back(&self) -> bool {
        self.handing_back
    }

    /// Training evaluated: report it, with any held before it.
    pub fn evaluation(&mut self, eval: Evaluation) -> Call<'_> {
        self.step = eval.step;
        self.evaluated = Some(eval.step);
        self.pending.push(eval);
        Call::Report(&self.pending)
    }

    /// Where training is between evaluations: sent with the next heartbeat.
    pub fn progress(&mut self, step: u64, tokens_per_sec: f64) {
        self.step = self.step.max(step);
        self.rate = Some(tokens_per_sec);
    }

    /// Training took a checkpoint (replacing any held): upload it, unless evaluations
    /// before it wait to be delivered (a tick sends it after them).
    pub fn checkpoint(&mut self, step: u64, bytes: Vec<u8>) -> Call<'_> {
        self.step = self.step.max(step);
        self.checkpoint = Some((step, bytes));
        if self.pending.is_empty() {
            self.upload()
        } else {
            Call::Nothing
        }
    }

    /// The worker drains: training stops at its next step, with a checkpoint there.
    pub fn drain(&mut self) -> Vec<Effect> {
        tracing::info!(run = %self.run, "handing the run back at the next step");
        self.handing_back = true;
        vec![Effect::HandBack]
    }

    /// A heartbeat interval passed: send what is held, or else renew the lease.
    pub fn tick(&mut self) -> Call<'_> {
        if !self.pending.is_empty() {
            Call::Report(&self.pending)
        } else if self.checkpoint.is_some() {
            self.upload()
        } else {
            Call::Heartbeat {
                step: self.step,
                tokens_per_sec: self.rate,
            }
        }
    }

    /// The answer to the call this turn made: what training is told.
    pub fn heard(&mut self, sent: Sent) -> Vec<Effect> {
        self.forget_delivered(&sent);
        let mut effects = Vec::new();
        match sent.heard() {
            Heard::Continue | Heard::Unreachable => {}
            Heard::Stop(why) => {
                if !self.told_to_stop {
                    tracing::info!(run = %self.run, "stopping: {why}");
                }
                self.told_to_stop = true;
                effects.push(Effect::StopTraining);
            }
            Heard::Lost(why) => {
                tracing::warn!(run = %self.run, "abandoning: {why}");
                effects.push(Effect::StopTraining);
                self.lost = Some(why);
            }
        }
        if let Some(step) = self.evaluated.take() {
            effects.push(Effect::Answered(step));
        }
        effects
    }

    /// Training ended (its progress channel closed and its thread returned): what is
    /// left is delivering and reporting ([`Ending`]).
    pub fn trained(self, trained: Trained) -> Ending {
        let (finish, failed) = match trained {
            Ok(output) => (self.outcome(output), false),
            Err((fault, error)) => (Finish::failed(fault, error), true),
        };
        Ending {
            state: self,
            finish,
            failed,
            upload_tries: 0,
        }
    }

    fn upload(&self) -> Call<'_> {
        match &self.checkpoint {
            Some((step, bytes)) => Call::Upload { step: *step, bytes },
            None => Call::Nothing,
        }
    }

    /// Drops what `sent` delivered.
    fn forget_delivered(&mut self, sent: &Sent) {
        match sent {
            Sent::Report(h) if h.delivered() => self.pending.clear(),
            Sent::Upload(h) if h.delivered() => self.checkpoint = None,
            _ => {}
        }
    }

    /// How a run that trained to its end (or to a stop) is reported.
    fn outcome(&self, output: RunOutput) -> Finish {
        let RunOutput {
            summary,
            samples,
            stopped,
        } = output;
        if stopped && self.handing_back && !self.told_to_stop {
            let reason = format!(
                "preempted: the worker stopped at step {}; the run continues from there",
                summary.steps
            );
            return Finish::bare(Outcome::Preempted, reason);
        }
        let samples = samples
            .into_iter()
            .map(|(o, text)| Sample {
                prompt: o.prompt,
                text,
                seed: o.seed,
            })
            .collect();
        // A run told to stop is stopped even when its last steps were done before the word
        // came (a tiny model trains tens of steps in one round trip): the scheduler decided,
        // and the sweep's counts do not hang on the worker's speed.
        let outcome = if stopped || self.told_to_stop {
            Outcome::Stopped
        } else {
            Outcome::Finished
        };
        Finish {
            outcome,
            error: String::new(),
            samples,
            summary_json: serde_json::to_string(&summary).unwrap_or_default(),
        }
    }
}

/// A run whose training ended: the held evaluations, the last checkpoint and the report
/// of its end still to deliver.
#[derive(Debug)]
pub struct Ending {
    state: RunLoop,
    /// The report of the attempt's end, once everything before it is done.
    finish: Finish,
    /// Whether training failed (the last checkpoint is not tried then).
    failed: bool,
    /// Tries of the last checkpoint so far.
    upload_tries: usize,
}

impl Ending {
    /// What to do next: call until [`Closing::Abandon`] or [`Closing::Finish`], answering
    /// each call with [`Ending::heard`].
    pub fn what_next(&mut self) -> Closing<'_> {
        let run = self.state.run;
        if let Some(why) = &self.state.lost {
            return Closing::Abandon(why.clone());
        }
        if !self.state.pending.is_empty() {
            return Closing::Report(&self.state.pending);
        }
        if self.failed {
            return Closing::Finish(self.finish.clone());
        }
        // The last checkpoint is worth a few tries (a handed-back run resumes from it), not
        // a run: a coordinator that cannot store it (its storage is failing) gets the
        // outcome anyway, and the run resumes from an earlier checkpoint if it must.
        match &self.state.checkpoint {
            Some((step, bytes)) if self.upload_tries < FINAL_UPLOAD_TRIES => {
                self.upload_tries += 1;
                Closing::Upload { step: *step, bytes }
            }
            Some((step, _)) => {
                tracing::warn!(run = %run, "the checkpoint of step {step} could not be delivered; reporting the outcome without it");
                Closing::Finish(self.finish.clone())
            }
            None => Closing::Finish(self.finish.clone()),
        }
    }

    /// The answer to the call [`Ending::what_next`] asked for: how long to wait before the
    /// next. A stop now changes nothing: training is over.
    pub fn heard(&mut self, sent: Sent) -> Wait {
        self.state.forget_delivered(&sent);
        let upload = matches!(sent, Sent::Upload(_));
        match sent.heard() {
            Heard::Lost(why) => {
                self.state.lost = Some(why);
                Wait::No
            }
            Heard::Unreachable if upload => Wait::Pause,
            Heard::Unreachable => Wait::Backoff,
            Heard::Continue | Heard::Stop(_) => Wait::No,
        }
    }
}

#[cfg(test)]
mod tests;
