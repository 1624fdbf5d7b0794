//! One run from start to samples, as both `gptsweep train` and a worker drive it: start a
//! fresh model or continue a checkpoint, train with the caller's [`Observer`] watching every
//! step and evaluation, then (unless the observer stopped it) generate the samples.
//! The callers keep only what differs: where progress goes and when to stop.

use std::sync::Arc;

use burn::tensor::backend::AutodiffBackend;

use crate::fused::TrainBackend;

use crate::checkpoint::Checkpoint;
use crate::config::Hyperparams;
use crate::corpus::Corpus;
use crate::error::{GptError, Result};
use crate::sample::{SampleOptions, SamplesSpec, generate};
use crate::trainer::{Event, Flow, RunSummary, Trainer};

/// How a run begins.
#[derive(Debug)]
pub enum Start {
    /// A freshly initialised model.
    New(Hyperparams),
    /// The run saved in a checkpoint, continued with its own hyperparameters.
    Resume {
        /// Where it stopped.
        checkpoint: Box<Checkpoint>,
        /// A new step budget (at least the checkpoint's step), or the checkpoint's own.
        max_iters: Option<usize>,
    },
}

/// What watches a run as it trains.
pub trait Observer<B: AutodiffBackend> {
    /// Steps between reads of the batch loss (a device sync on GPUs); 0 never reads it.
    fn loss_every(&self) -> usize {
        0
    }

    /// Called once the trainer is ready, before its first step.
    fn started(&mut self, _trainer: &Trainer<B>) {}

    /// Called after every step and every evaluation; [`Flow::Stop`] ends training there (after
    /// the step's evaluation where one is due), and the run then generates no samples.
    fn observe(&mut self, trainer: &Trainer<B>, event: Event) -> Flow;
}

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// Losses, throughput, steps.
    pub summary: RunSummary,
    /// The generated texts with the options that drew them.
    pub samples: Vec<(SampleOptions, String)>,
    /// Whether the observer stopped it before its last step.
    pub stopped: bool,
}

fn trainer<B: TrainBackend>(
    start: Start,
    corpus: Arc<Corpus>,
    device: B::Device,
) -> Result<Trainer<B>> {
    match start {
        Start::New(hp) => Trainer::new(hp, corpus, device),
        Start::Resume {
            checkpoint,
            max_iters,
        } => {
            let mut trainer = Trainer::resume(&checkpoint, corpus, device)?;
            if let Some(max_iters) = max_iters {
                if max_iters < trainer.steps_done() {
                    return Err(GptError::invalid(
                        "max_iters",
                        max_iters,
                        format!("the checkpoint is already at step {}", trainer.steps_done()),
                    ));
                }
                trainer.set_max_iters(max_iters);
            }
            Ok(trainer)
        }
    }
}

/// Trains from `start` on `corpus` with `observer` watching, then draws `samples` from the
/// trained model in eval mode unless the observer stopped the run.
pub fn train_then_sample<B: TrainBackend>(
    start: Start,
    corpus: Arc<Corpus>,
    samples: &SamplesSpec,
    device: B::Device,
    observer: &mut impl Observer<B>,
) -> Result<RunOutput> {
    let mut trainer = trainer::<B>(start, corpus.clone(), device.clone())?;
    observer.started(&trainer);
    let mut stopped = false;
    trainer.run(observer.loss_every(), |t, event| {
        let flow = observer.observe(t, event);
        stopped |= flow == Flow::Stop;
        flow
    })?;
    let mut texts = Vec::new();
    if !stopped {
        let model = trainer.eval_model();
        for i in 0..samples.count {
            let opts = samples.nth(i);
            let text = generate(&model, corpus.tokenizer(), &opts, &device)?;
            texts.push((opts, text));
        }
    }
    Ok(RunOutput {
        summary: trainer.summary(),
        samples: texts,
        stopped,
    })
}
