//! `gptsweep train`: one run on this machine, no coordinator. Validates everything before
//! writing anything, prints a line per evaluation, checkpoints into `--out` at each one,
//! and ends with a sample of the trained model (and, with `--output json`, one summary).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use gptsweep_gpt::sample::generate;
use gptsweep_gpt::{
    AutodiffBackend, Checkpoint, Corpus, DeviceSpec, Event, Flow, Hyperparams, OnBackend,
    RunSummary, SampleOptions, Trainer, with_backend,
};
use serde::Serialize;

use super::output::{Document, OutputMode, print, to_json};
use super::progress::steps_bar;

/// Flags of `gptsweep train`; every hyperparameter defaults to the lecture's value.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Built-in corpus name (tinyshakespeare) or a UTF-8 text file.
    #[arg(long, default_value = "tinyshakespeare")]
    dataset: String,
    /// cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Directory for the checkpoint (written at each evaluation) and summary.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run saved in this checkpoint directory (its hyperparameters apply;
    /// only --max-iters may be raised).
    #[arg(long, conflicts_with_all = ["batch_size", "block_size", "n_embd", "n_head", "n_layer", "dropout", "lr", "seed"])]
    resume: Option<PathBuf>,
    /// Sequences per batch [64].
    #[arg(long)]
    batch_size: Option<usize>,
    /// Context length [256].
    #[arg(long)]
    block_size: Option<usize>,
    /// Embedding width [384].
    #[arg(long)]
    n_embd: Option<usize>,
    /// Attention heads [6].
    #[arg(long)]
    n_head: Option<usize>,
    /// Transformer blocks [6].
    #[arg(long)]
    n_layer: Option<usize>,
    /// Dropout probability [0.2].
    #[arg(long)]
    dropout: Option<f64>,
    /// Peak learning rate [3e-4].
    #[arg(long)]
    lr: Option<f64>,
    /// Final learning rate of the cosine schedule [lr/10].
    #[arg(long)]
    min_lr: Option<f64>,
    /// Linear warm-up steps [0].
    #[arg(long)]
    warmup_iters: Option<usize>,
    /// Schedule after warm-up: constant or cosine [constant].
    #[arg(long)]
    lr_decay: Option<String>,
    /// AdamW weight decay [0.01].
    #[arg(long)]
    weight_decay: Option<f64>,
    /// Clip the global gradient norm to this (0 = off) [0].
    #[arg(long)]
    grad_clip: Option<f64>,
    /// Optimisation steps [5000].
    #[arg(long)]
    max_iters: Option<usize>,
    /// Steps between evaluations [500].
    #[arg(long)]
    eval_interval: Option<usize>,
    /// Batches per split in an evaluation [200].
    #[arg(long)]
    eval_iters: Option<usize>,
    /// Seed of initialisation, batches and dropout [1337].
    #[arg(long)]
    seed: Option<u64>,
    /// Characters of text to generate at the end (0 for none).
    #[arg(long, default_value_t = 300)]
    sample_length: usize,
    /// Prompt of that sample.
    #[arg(long, default_value = "\n")]
    prompt: String,
}

impl Args {
    fn hyperparams(&self, base: Hyperparams) -> anyhow::Result<Hyperparams> {
        let mut hp = base;
        macro_rules! set {
            ($($f:ident),*) => { $( if let Some(v) = self.$f.clone() { hp.$f = v; } )* };
        }
        set!(
            batch_size,
            block_size,
            n_embd,
            n_head,
            n_layer,
            dropout,
            lr,
            warmup_iters,
            weight_decay,
            grad_clip,
            max_iters,
            eval_interval,
            eval_iters,
            seed
        );
        if self.min_lr.is_some() {
            hp.min_lr = self.min_lr;
        }
        if let Some(d) = &self.lr_decay {
            hp.lr_decay =
                serde_json::from_value(serde_json::Value::String(d.clone())).map_err(|_| {
                    gptsweep_gpt::GptError::invalid("lr_decay", d, "must be constant or cosine")
                })?;
        }
        hp.validate()?;
        Ok(hp)
    }
}

/// The JSON summary of `train --output json`.
#[derive(Debug, Serialize)]
struct Report {
    #[serde(flatten)]
    summary: RunSummary,
    wall_secs: f64,
    device: String,
    dataset: String,
    hyperparams: Hyperparams,
    sample: String,
    out: Option<PathBuf>,
    #[serde(skip)]
    prompt: String,
}

impl Document for Report {
    fn text(&self) -> String {
        let mut text = String::new();
        if let Some(best) = self.summary.best_val_loss {
            text += &format!(
                "best val loss {best:.4} at step {}; {:.0} tokens/s; {:.1}s\n",
                self.summary.best_step.unwrap_or(0),
                self.summary.tokens_per_sec,
                self.wall_secs
            );
        }
        if !self.sample.is_empty() {
            text += &format!("--- sample ---\n{}{}\n", self.prompt, self.sample);
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

struct TrainTask {
    hp: Hyperparams,
    corpus: Arc<Corpus>,
    resume: Option<Checkpoint>,
    out: Option<PathBuf>,
    output: OutputMode,
    sample: SampleOptions,
}

impl OnBackend for TrainTask {
    type Output = anyhow::Result<(RunSummary, String)>;

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let mut trainer = match &self.resume {
            Some(ckpt) => {
                let mut t = Trainer::<B>::resume(ckpt, self.corpus.clone(), device.clone())?;
                anyhow::ensure!(
                    self.hp.max_iters >= t.steps_done(),
                    "max_iters = {}: the checkpoint is already at step {}",
                    self.hp.max_iters,
                    t.steps_done()
                );
                t.set_max_iters(self.hp.max_iters);
                t
            }
            None => Trainer::<B>::new(self.hp.clone(), self.corpus.clone(), device.clone())?,
        };
        let text = self.output == OutputMode::Text;
        if text {
            eprintln!(
                "training {} parameters on {} ({} chars of vocabulary) for {} steps",
                trainer.num_params(),
                self.corpus.name(),
                self.corpus.tokenizer().vocab_size(),
                self.hp.max_iters
            );
        }
        let bar = steps_bar(self.hp.max_iters, trainer.steps_done());
        let tokens_per_step = (self.hp.batch_size * self.hp.block_size) as f64;
        let mut save_error = None;
        trainer.run(10, |t, event| {
            match event {
                Event::Step { step, loss } => {
                    bar.set_position(step as u64);
                    if let Some(l) = loss {
                        let tps = tokens_per_step * step as f64 / t.train_secs().max(1e-9);
                        bar.set_message(format!("loss {l:.4} {tps:.0} tok/s"));
                    }
                }
                Event::Eval(e) => {
                    bar.println(format!(
                        "step {}: train loss {:.4}, val loss {:.4}",
                        e.step, e.train_loss, e.val_loss
                    ));
                    if let Some(out) = &self.out
                        && let Err(err) = t.checkpoint().and_then(|c| c.save(out))
                    {
                        save_error = Some(err);
                        return Flow::Stop;
                    }
                }
            }
            Flow::Continue
        })?;
        bar.finish_and_clear();
        if let Some(err) = save_error {
            return Err(err.into());
        }
        let sample = if self.sample.length > 0 {
            let model = trainer.eval_model();
            generate(&model, self.corpus.tokenizer(), &self.sample, &device)?
        } else {
            String::new()
        };
        Ok((trainer.summary(), sample))
    }
}

/// Runs `gptsweep train`.
pub fn run(args: Args, output: OutputMode) -> anyhow::Result<()> {
    let started = Instant::now();
    let device: DeviceSpec = args.device.parse()?;
    let (hp, corpus, resume) = match &args.resume {
        Some(dir) => {
            let ckpt = Checkpoint::load(dir)?;
            let hp = args.hyperparams(ckpt.meta.hyperparams.clone())?;
            let corpus = Corpus::load(&args.dataset)?;
            (hp, corpus, Some(ckpt))
        }
        None => {
            let hp = args.hyperparams(Hyperparams::default())?;
            let corpus = Corpus::load(&args.dataset)?;
            corpus.check_fits(hp.block_size)?;
            (hp, corpus, None)
        }
    };
    let sample = SampleOptions {
        prompt: args.prompt.clone(),
        length: args.sample_length,
        seed: hp.seed,
        ..Default::default()
    };
    sample.validate()?;
    corpus.tokenizer().encode(&sample.prompt, "prompt")?;
    if let Some(out) = &args.out {
        check_out_dir(out)?;
    }
    let task = TrainTask {
        hp: hp.clone(),
        corpus: Arc::new(corpus),
        resume,
        out: args.out.clone(),
        output,
        sample,
    };
    let (summary, sample) = with_backend(device, task)??;
    let report = Report {
        summary,
        wall_secs: started.elapsed().as_secs_f64(),
        device: device.to_string(),
        dataset: args.dataset.clone(),
        hyperparams: hp,
        sample,
        out: args.out.clone(),
        prompt: args.prompt.clone(),
    };
    if let Some(out) = &args.out {
        let path = out.join("summary.json");
        std::fs::write(&path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print(output, &report)
}

/// `--out` may be new, empty, or an earlier checkpoint; never someone else's directory.
fn check_out_dir(out: &std::path::Path) -> anyhow::Result<()> {
    if out.is_file() {
        anyhow::bail!("--out {}: is a file, expected a directory", out.display());
    }
    if out.is_dir() && !out.join("meta.json").exists() && std::fs::read_dir(out)?.next().is_some() {
        anyhow::bail!(
            "--out {}: directory is not empty and holds no gptsweep checkpoint; refusing to overwrite it",
            out.display()
        );
    }
    Ok(())
}
