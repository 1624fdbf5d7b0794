//! The explicit training loop: one AdamW step at a time, evaluations on demand, and
//! checkpoints that capture everything needed to continue. Explicit (rather than burn's
//! Learner) so that callers, the CLI and the worker, see every evaluation as it happens
//! and can stop a run between steps.

use std::sync::Arc;
use std::time::Instant;

use burn::module::AutodiffModule;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::optim::{AdamW, AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::batch::{Batch, sample_batch};
use crate::checkpoint::{Checkpoint, CheckpointMeta};
use crate::clip::clip_global_norm;
use crate::config::Hyperparams;
use crate::corpus::{Corpus, Split};
use crate::cpu_pool::StepPool;
use crate::error::{GptError, Result};
use crate::eval::Eval;
use crate::fused::{TrainBackend, keyed_dropout};
use crate::model::Gpt;
use crate::rng::{Rng, Stream, mix64};

/// What a loop observer sees.
#[derive(Debug, Clone, Copy)]
pub enum Event {
    /// A step finished; `loss` is its batch loss when it was read (every few steps).
    Step {
        /// Completed steps.
        step: usize,
        /// The batch loss of this step, if read.
        loss: Option<f32>,
    },
    /// An evaluation finished.
    Eval(Eval),
}

/// What the observer wants next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Keep training.
    Continue,
    /// Stop (cancelled, early-stopped, drained); the trainer stays usable. Said after a step
    /// that is due an evaluation, training stops after that evaluation (which the observer
    /// hears), so that a run resumed from the step has it.
    Stop,
}

fn to_tensor<B: Backend>(ids: Vec<i32>, batch: &Batch, device: &B::Device) -> Tensor<B, 2, Int> {
    Tensor::from_data(TensorData::new(ids, [batch.batch, batch.block]), device)
}

/// A model being trained, its optimiser and its progress.
pub struct Trainer<B: AutodiffBackend> {
    hp: Hyperparams,
    corpus: Arc<Corpus>,
    device: B::Device,
    model: Option<Gpt<B>>,
    optim: OptimizerAdaptor<AdamW, Gpt<B>, B>,
    step: usize,
    evals: Vec<Eval>,
    train_secs: f64,
    window: (Instant, f64, usize),
    last_loss: Option<Tensor<B::InnerBackend, 1>>,
    /// Where steps and evaluations run (the run's own rayon pool on the CPU).
    pool: StepPool,
}

fn optimizer<B: AutodiffBackend>(hp: &Hyperparams) -> OptimizerAdaptor<AdamW, Gpt<B>, B> {
    AdamWConfig::new()
        .with_beta_1(hp.beta1 as f32)
        .with_beta_2(hp.beta2 as f32)
        .with_epsilon(hp.eps as f32)
        .with_weight_decay(hp.weight_decay as f32)
        .init()
}

impl<B: TrainBackend> Trainer<B> {
    /// A freshly initialised model for `hp` on `corpus`, seeded by `hp.seed`.
    pub fn new(hp: Hyperparams, corpus: Arc<Corpus>, device: B::Device) -> Result<Self> {
        hp.validate()?;
        corpus.check_tokenizer(hp.tokenizer)?;
        corpus.check_fits(hp.block_size)?;
        crate::backend::check_device::<B>(hp.precision, &device)?;
        B::seed(&device, hp.seed);
        let model = Gpt::<B>::init(
            &hp.model_config(corpus.tokenizer().vocab_size()),
            hp.seed,
            &device,
        );
        let optim = optimizer(&hp);
        Ok(Self::assemble(
            hp,
            corpus,
            device,
            model,
            optim,
            0,
            Vec::new(),
            0.0,
        ))
    }

    /// The run saved in `ckpt`, ready to continue from its step as if never interrupted.
    /// The corpus must be the one it was trained on (same sha256).
    pub fn resume(ckpt: &Checkpoint, corpus: Arc<Corpus>, device: B::Device) -> Result<Self> {
        let meta = &ckpt.meta;
        if meta.dataset_sha256 != corpus.sha256() {
            return Err(ckpt.corrupt(format!(
                "was trained on dataset sha256 {}, not {} ({})",
                meta.dataset_sha256,
                corpus.sha256(),
                corpus.name()
            )));
        }
        if meta.tokenizer != *corpus.tokenizer() {
            return Err(ckpt.corrupt(format!(
                "was trained with a {} tokenizer of {} tokens, not this corpus's {} of {}",
                meta.tokenizer.kind(),
                meta.tokenizer.vocab_size(),
                corpus.tokenizer().kind(),
                corpus.tokenizer().vocab_size()
            )));
        }
        crate::backend::check_device::<B>(meta.model.precision, &device)?;
        let model = ckpt.load_model::<B>(&device)?;
        let optim = ckpt.load_optimizer(optimizer::<B>(&meta.hyperparams), &device)?;
        // Bits per character are a view of the losses on this text: recomputed, so that
        // a checkpoint from before they existed reports them too.
        let evals = meta
            .evals
            .iter()
            .map(|e| Eval {
                train_bpc: corpus.bits_per_char(Split::Train, e.train_loss),
                val_bpc: corpus.bits_per_char(Split::Val, e.val_loss),
                ..*e
            })
            .collect();
        Ok(Self::assemble(
            meta.hyperparams.clone(),
            corpus,
            device,
            model,
            optim,
            meta.step,
            evals,
            meta.train_secs,
        ))
    }

    #[allow(clippy::too_many_arguments)]
    fn assemble(
        hp: Hyperparams,
        corpus: Arc<Corpus>,
        device: B::Device,
        model: Gpt<B>,
        optim: OptimizerAdaptor<AdamW, Gpt<B>, B>,
        step: usize,
        evals: Vec<Eval>,
        train_secs: f64,
    ) -> Self {
        Self {
            hp,
            corpus,
            device,
            model: Some(model),
            optim,
            step,
            evals,
            train_secs,
            window: (Instant::now(), train_secs, step),
            last_loss: None,
            pool: StepPool::for_backend::<B>(),
        }
    }

    /// The hyperparameters.
    pub fn hyperparams(&self) -> &Hyperparams {
        &self.hp
    }

    /// The corpus.
    pub fn corpus(&self) -> &Arc<Corpus> {
        &self.corpus
    }

    /// Completed optimisation steps.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Whether all `max_iters` steps are done.
    pub fn finished(&self) -> bool {
        self.step >= self.hp.max_iters
    }

    /// Every evaluation so far, including those of earlier attempts.
    pub fn evals(&self) -> &[Eval] {
        &self.evals
    }

    /// Seconds spent in optimisation steps so far, over all attempts.
    pub fn train_secs(&self) -> f64 {
        self.train_secs
    }

    /// Raises (or lowers) the step budget, e.g. to continue a finished run further.
    pub fn set_max_iters(&mut self, max_iters: usize) {
        self.hp.max_iters = max_iters;
    }

    /// The model in eval mode (inner backend: no dropout, no autodiff graph).
    pub fn eval_model(&self) -> Gpt<B::InnerBackend> {
        self.model().valid()
    }

    /// The model being trained.
    pub fn model(&self) -> &Gpt<B> {
        self.model.as_ref().expect("model is present between steps")
    }

    /// Parameter count of the model.
    pub fn num_params(&self) -> usize {
        self.hp
            .model_config(self.corpus.tokenizer().vocab_size())
            .num_params()
    }

    /// One AdamW step on a fresh training batch.
    pub fn step(&mut self) {
        let t0 = Instant::now();
        let hp = &self.hp;
        let step = self.step as u64;
        // The step's masks: fused CPU dropout keys them from `seed` on the step's thread;
        // the other backends draw them from their (process-wide) seeded stream.
        let seed = mix64(hp.seed ^ mix64(step + 1));
        if hp.dropout > 0.0 {
            B::seed(&self.device, seed);
        }
        let mut rng = Rng::keyed(hp.seed, Stream::TrainBatch, step);
        let batch = sample_batch(
            self.corpus.split(Split::Train),
            hp.batch_size,
            hp.block_size,
            &mut rng,
        );
        let x = to_tensor::<B>(batch.x.clone(), &batch, &self.device);
        let y = to_tensor::<B>(batch.y.clone(), &batch, &self.device);
        let model = self.model.take().expect("model is present between steps");
        let (optim, lr, clip) = (&mut self.optim, hp.lr_at(self.step), hp.grad_clip);
        let (model, loss) = self.pool.run(move || {
            keyed_dropout(seed, || {
                let loss = Gpt::loss(model.padded_logits(x), y);
                let mut grads = GradientsParams::from_grads(loss.backward(), &model);
                if clip > 0.0 {
                    clip_global_norm(&model, &mut grads, clip);
                }
                (optim.step(lr, model, grads), loss.inner())
            })
        });
        self.model = Some(model);
        self.last_loss = Some(loss);
        self.step += 1;
        self.train_secs += t0.elapsed().as_secs_f64();
    }

    /// Waits for the steps queued on the device. A GPU backend returns from [`Self::step`]
    /// once its kernels are queued, so the wait belongs to training time: without it a GPU
    /// run's tokens/s would count only the queueing.
    fn sync_steps(&mut self) {
        let t0 = Instant::now();
        B::sync(&self.device).ok();
        self.train_secs += t0.elapsed().as_secs_f64();
    }

    /// Reads the loss of the last step (a device sync on GPUs; call it sparingly).
    pub fn last_loss(&self) -> Option<f32> {
        self.last_loss.as_ref().map(|l| {
            l.clone()
                .into_data()
                .iter::<f32>()
                .next()
                .unwrap_or(f32::NAN)
        })
    }

    /// Mean losses over `eval_iters` batches per split, in eval mode (no dropout, no graph),
    /// recorded at the current step.
    pub fn evaluate(&mut self) -> Result<Eval> {
        self.sync_steps();
        let model = self.eval_model();
        let hp = &self.hp;
        let device = self.device.clone();
        let mean_loss = |split: Split, stream: Stream| -> f32 {
            let tokens = self.corpus.split(split);
            let mut total: Option<Tensor<B::InnerBackend, 1>> = None;
            for i in 0..hp.eval_iters {
                let counter = (self.step as u64) << 32 | i as u64;
                let batch = sample_batch(
                    tokens,
                    hp.batch_size,
                    hp.block_size,
                    &mut Rng::keyed(hp.seed, stream, counter),
                );
                let x = to_tensor::<B::InnerBackend>(batch.x.clone(), &batch, &device);
                let y = to_tensor::<B::InnerBackend>(batch.y.clone(), &batch, &device);
                let l = Gpt::loss(model.padded_logits(x), y);
                total = Some(match total {
                    Some(t) => t + l,
                    None => l,
                });
            }
            let sum: f32 = total
                .map(|t| t.into_data().iter::<f32>().next().unwrap_or(f32::NAN))
                .unwrap_or(f32::NAN);
            sum / hp.eval_iters as f32
        };
        let (train_loss, val_loss) = self.pool.run(|| {
            (
                mean_loss(Split::Train, Stream::EvalTrain),
                mean_loss(Split::Val, Stream::EvalVal),
            )
        });
        if !train_loss.is_finite() || !val_loss.is_finite() {
            return Err(GptError::Diverged {
                step: self.step,
                loss: if train_loss.is_finite() {
                    val_loss
                } else {
                    train_loss
                },
            });
        }
        let (_, secs0, step0) = self.window;
        let secs = (self.train_secs - secs0).max(1e-9);
        let tokens = (self.step - step0) * hp.batch_size * hp.block_size;
        let eval = Eval {
            step: self.step,
            train_loss,
            val_loss,
            train_bpc: self.corpus.bits_per_char(Split::Train, train_loss),
            val_bpc: self.corpus.bits_per_char(Split::Val, val_loss),
            tokens_per_sec: tokens as f64 / secs,
            train_secs: self.train_secs,
        };
        self.window = (Instant::now(), self.train_secs, self.step);
        self.evals.retain(|e| e.step != eval.step);
        self.evals.push(eval);
        Ok(eval)
    }

    /// Trains to `max_iters` (or until `observer` says stop), evaluating after every
    /// `eval_interval` steps and the last. The batch loss is read every `loss_every` steps.
    pub fn run(
        &mut self,
        loss_every: usize,
        mut observer: impl FnMut(&Self, Event) -> Flow,
    ) -> Result<()> {
        while !self.finished() {
            self.step();
            let done = self.step;
            let read_loss = loss_every > 0 && done.is_multiple_of(loss_every);
            if read_loss {
                self.sync_steps();
            }
            let loss = read_loss.then(|| self.last_loss()).flatten();
            if let Some(l) = loss
                && !l.is_finite()
            {
                return Err(GptError::Diverged {
                    step: done,
                    loss: l,
                });
            }
            let stop = observer(self, Event::Step { step: done, loss }) == Flow::Stop;
            // A step due an evaluation is evaluated even when training stops there (a drain,
            // a stop): a run resumed from this step starts after it, so an evaluation skipped
            // now would be missing from its history for good.
            if self.hp.evaluates_after(done) {
                let eval = self.evaluate()?;
                if observer(self, Event::Eval(eval)) == Flow::Stop {
                    return Ok(());
                }
            }
            if stop {
                return Ok(());
            }
        }
        Ok(())
    }

    /// A checkpoint of the current state: weights, optimiser moments, step, evaluations.
    pub fn checkpoint(&self) -> Result<Checkpoint> {
        let meta = CheckpointMeta::new(
            &self.hp,
            &self.corpus,
            self.step,
            self.evals.clone(),
            self.train_secs,
        );
        Checkpoint::capture(meta, self.model(), &self.optim)
    }
}

/// The outcome of a run, as reported at its end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunSummary {
    /// Parameter count.
    pub params: usize,
    /// Completed steps.
    pub steps: usize,
    /// Lowest validation loss of any evaluation.
    pub best_val_loss: Option<f32>,
    /// That evaluation's validation loss in bits per character.
    pub best_val_bpc: Option<f32>,
    /// Step of that evaluation.
    pub best_step: Option<usize>,
    /// Train loss of the last evaluation.
    pub final_train_loss: Option<f32>,
    /// Val loss of the last evaluation.
    pub final_val_loss: Option<f32>,
    /// Every evaluation.
    pub evals: Vec<Eval>,
    /// Mean training throughput over the whole run, tokens per second.
    pub tokens_per_sec: f64,
    /// Seconds spent in optimisation steps.
    pub train_secs: f64,
}

impl<B: TrainBackend> Trainer<B> {
    /// The summary of the run so far.
    pub fn summary(&self) -> RunSummary {
        let best = self
            .evals
            .iter()
            .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss));
        let last = self.evals.last();
        let tokens = self.step * self.hp.batch_size * self.hp.block_size;
        RunSummary {
            params: self.num_params(),
            steps: self.step,
            best_val_loss: best.map(|e| e.val_loss),
            best_val_bpc: best.map(|e| e.val_bpc),
            best_step: best.map(|e| e.step),
            final_train_loss: last.map(|e| e.train_loss),
            final_val_loss: last.map(|e| e.val_loss),
            evals: self.evals.clone(),
            tokens_per_sec: if self.train_secs > 0.0 {
                tokens as f64 / self.train_secs
            } else {
                0.0
            },
            train_secs: self.train_secs,
        }
    }
}
