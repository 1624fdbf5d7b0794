//! The part of a run that computes: on a blocking thread, train the model on the run's
//! device (from scratch, or continuing a checkpoint), hand each evaluation and a checkpoint
//! taken right after it to the async side, stop between steps when told, and generate the
//! sweep's samples at the end.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc::UnboundedSender;

use gptsweep_gpt::sample::{SamplesSpec, generate};
use gptsweep_gpt::{
    AutodiffBackend, Checkpoint, Corpus, DeviceSpec, Eval, Event, Flow, Hyperparams, OnBackend,
    RunSummary, SampleOptions, Trainer, with_backend,
};

/// What the compute thread tells the async side as training goes.
#[derive(Debug)]
pub enum Progress {
    /// An evaluation, as it happens.
    Eval(Eval),
    /// A checkpoint taken right after that evaluation, as one blob.
    Checkpoint {
        /// Completed steps.
        step: u64,
        /// [`Checkpoint::to_bytes`].
        bytes: Vec<u8>,
    },
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// Losses, throughput, steps.
    pub summary: RunSummary,
    /// The generated texts with the options that drew them.
    pub samples: Vec<(SampleOptions, String)>,
    /// Whether it ended early on the coordinator's word.
    pub stopped: bool,
}

/// Everything the compute thread needs.
pub struct RunTask {
    /// The run's hyperparameters.
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
}

impl OnBackend for RunTask {
    type Output = gptsweep_gpt::Result<RunOutput>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let mut trainer = match &self.resume {
            Some(ckpt) => Trainer::<B>::resume(ckpt, self.corpus.clone(), device.clone())?,
            None => Trainer::<B>::new(self.hp, self.corpus.clone(), device.clone())?,
        };
        let mut stopped = false;
        trainer.run(0, |t, event| {
            if let Event::Eval(e) = event {
                let _ = self.progress.send(Progress::Eval(e));
                match t.checkpoint() {
                    Ok(c) => {
                        let bytes = c.to_bytes();
                        let _ = self.progress.send(Progress::Checkpoint {
                            step: e.step as u64,
                            bytes,
                        });
                    }
                    Err(err) => tracing::warn!("cannot checkpoint at step {}: {err}", e.step),
                }
            }
            if self.preempt.load(Ordering::Relaxed) {
                match t.checkpoint() {
                    Ok(c) => {
                        let _ = self.progress.send(Progress::Checkpoint {
                            step: t.steps_done() as u64,
                            bytes: c.to_bytes(),
                        });
                    }
                    Err(err) => tracing::warn!("cannot checkpoint to hand the run back: {err}"),
                }
                stopped = true;
                Flow::Stop
            } else if self.stop.load(Ordering::Relaxed) {
                stopped = true;
                Flow::Stop
            } else {
                Flow::Continue
            }
        })?;
        let mut samples = Vec::new();
        if !stopped {
            let model = trainer.eval_model();
            for i in 0..self.samples.count {
                let opts = self.samples.nth(i);
                let text = generate(&model, self.corpus.tokenizer(), &opts, &device)?;
                samples.push((opts, text));
            }
        }
        Ok(RunOutput {
            summary: trainer.summary(),
            samples,
            stopped,
        })
    }
}

/// Runs `task` to its end on `device` (blocking: call from a blocking thread).
pub fn train_blocking(device: DeviceSpec, task: RunTask) -> gptsweep_gpt::Result<RunOutput> {
    with_backend(device, task)?
}
