//! `gptsweep train`: one run on this machine, no coordinator. Validates everything before
//! writing anything, prints a line per evaluation, checkpoints into `--out` at each one,
//! and ends with a sample of the trained model (and, with `--output json`, one summary).

mod console;
mod flags;
mod memory;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use gptsweep_gpt::sample::SamplesSpec;
use gptsweep_gpt::{
    Checkpoint, Corpus, DeviceSpec, Hyperparams, OnBackend, RunSummary, SampleOptions, Start,
    TrainBackend, train_then_sample, with_backend,
};
use indicatif::ProgressBar;
use serde::Serialize;

use super::bad_input::ensure;
use super::output::{Document, OutputMode, print, to_json};
use console::Console;
use flags::HyperparamFlags;

/// The hyperparameters a resumed run cannot change: its model and the recipe that
/// produced its weights (only `--max-iters` may be raised).
const FIXED_ON_RESUME: [&str; 8] = [
    "batch_size",
    "block_size",
    "n_embd",
    "n_head",
    "n_layer",
    "dropout",
    "lr",
    "seed",
];

/// Flags of `gptsweep train`; every hyperparameter defaults to the lecture's value.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Built-in corpus name (tinyshakespeare) or a UTF-8 text file.
    #[arg(long, default_value = "tinyshakespeare")]
    dataset: String,
    /// cpu, cuda, cuda:N (`--features cuda` builds), wgpu or wgpu:N (`--features wgpu`).
    #[arg(long, default_value = "cpu")]
    device: String,
    /// Directory for the checkpoint (written at each evaluation) and summary.json.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Replace a checkpoint already in --out (else refused, so no run is lost by accident).
    #[arg(long)]
    overwrite: bool,
    /// Continue the run saved in this checkpoint directory (its hyperparameters apply;
    /// only --max-iters may be raised).
    #[arg(long, conflicts_with_all = FIXED_ON_RESUME)]
    resume: Option<PathBuf>,
    /// One flag per hyperparameter.
    #[command(flatten)]
    hyperparam_flags: HyperparamFlags,
    /// Characters of text to generate at the end (0 for none).
    #[arg(long, default_value_t = 300)]
    sample_length: usize,
    /// Prompt of that sample.
    #[arg(long, default_value = "\n")]
    prompt: String,
}

impl Args {
    fn hyperparams(&self, base: Hyperparams) -> anyhow::Result<Hyperparams> {
        let hp = self.hyperparam_flags.apply(base)?;
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
        if let (Some(best), Some(bpc)) = (self.summary.best_val_loss, self.summary.best_val_bpc) {
            text += &format!(
                "best val loss {best:.4} ({bpc:.4} bits per char) at step {}; {:.0} tokens/s; {:.1}s\n",
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

    fn run<B: TrainBackend>(self, device: B::Device) -> Self::Output {
        let start = match self.resume {
            Some(checkpoint) => Start::Resume {
                checkpoint: Box::new(checkpoint),
                max_iters: Some(self.hp.max_iters),
            },
            None => Start::New(self.hp),
        };
        let samples = SamplesSpec {
            count: usize::from(self.sample.length > 0),
            options: self.sample,
        };
        let mut console = Console {
            out: self.out,
            text: self.output == OutputMode::Text,
            bar: ProgressBar::hidden(),
            save_error: None,
        };
        let run = train_then_sample::<B>(start, self.corpus, &samples, device, &mut console)?;
        console.bar.finish_and_clear();
        if let Some(err) = console.save_error {
            return Err(err.into());
        }
        let sample = run.samples.into_iter().next().map(|(_, text)| text);
        Ok((run.summary, sample.unwrap_or_default()))
    }
}

/// The corpus `dataset` tokenised with `hp`'s tokenizer, through the token cache a worker
/// on this machine uses too.
fn load_corpus(dataset: &str, hp: &Hyperparams) -> anyhow::Result<Corpus> {
    let tokens = super::paths::default_cache_dir().join("tokens");
    Ok(Corpus::load(dataset, hp.tokenizer, Some(&tokens))?)
}

/// Runs `gptsweep train`.
pub fn run(args: Args, output: OutputMode) -> anyhow::Result<()> {
    let started = Instant::now();
    let device: DeviceSpec = args.device.parse()?;
    let (hp, corpus, resume) = match &args.resume {
        Some(dir) => {
            let ckpt = Checkpoint::load(dir)?;
            let hp = args.hyperparams(ckpt.meta.hyperparams.clone())?;
            let corpus = load_corpus(&args.dataset, &hp)?;
            (hp, corpus, Some(ckpt))
        }
        None => {
            let hp = args.hyperparams(Hyperparams::default())?;
            let corpus = load_corpus(&args.dataset, &hp)?;
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
    // --sample-length 0 asks for no sample; any other length has the sampler's limits.
    SampleOptions {
        length: sample.length.max(1),
        ..sample.clone()
    }
    .validate()?;
    corpus.tokenizer().encode(&sample.prompt, "prompt")?;
    gptsweep_gpt::backend::check_precision(device, hp.precision)?;
    memory::check(device, &hp, corpus.tokenizer().vocab_size())?;
    if let Some(out) = &args.out {
        check_out_dir(out, args.resume.as_deref(), args.overwrite)?;
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

/// `--out` may be new or empty; a checkpoint there only with `--overwrite` or when it is
/// the one `--resume` continues; never someone else's directory.
fn check_out_dir(
    out: &std::path::Path,
    resume: Option<&std::path::Path>,
    overwrite: bool,
) -> anyhow::Result<()> {
    let shown = out.display();
    ensure(!out.exists() || out.is_dir(), || {
        format!("--out {shown}: is not a directory")
    })?;
    if !out.is_dir() {
        return Ok(());
    }
    let holds_checkpoint = out.join("meta.json").exists();
    let empty = std::fs::read_dir(out)?.next().is_none();
    ensure(holds_checkpoint || empty, || {
        format!(
            "--out {shown}: directory is not empty and holds no gptsweep checkpoint; \
             refusing to overwrite it"
        )
    })?;
    let same = |a: &std::path::Path, b: &std::path::Path| matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y);
    let continues_it = resume.is_some_and(|r| same(r, out));
    ensure(!holds_checkpoint || overwrite || continues_it, || {
        format!(
            "--out {shown}: holds a checkpoint already; give --overwrite to replace it, or \
             --resume {shown} to continue it"
        )
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use gptsweep_gpt::{HYPERPARAMS, HyperparamDef, config::LrDecay};

    use super::*;
    use crate::cli::{Cli, Command};

    fn train_args(flags: &[&str]) -> Result<Args, clap::Error> {
        let argv = ["gptsweep", "train"].iter().chain(flags);
        match Cli::try_parse_from(argv)?.command {
            Command::Train(args) => Ok(args.args),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn train_has_one_flag_per_hyperparameter_with_its_help_and_default() {
        let cli = Cli::command();
        cli.clone().debug_assert();
        let train = cli.find_subcommand("train").unwrap();
        for def in HYPERPARAMS {
            let arg = train
                .get_arguments()
                .find(|a| a.get_id() == def.name)
                .unwrap_or_else(|| panic!("no flag for {}", def.name));
            assert_eq!(arg.get_long(), Some(def.name.replace('_', "-").as_str()));
            assert_eq!(
                arg.get_help().unwrap().to_string(),
                format!("{} [{}]", def.help(), def.default)
            );
        }
        for name in FIXED_ON_RESUME {
            assert!(HyperparamDef::find(name).is_some(), "{name}");
        }
    }

    #[test]
    fn flags_set_hyperparameters_by_the_table_and_resume_keeps_the_model() {
        let args = train_args(&[
            "--lr",
            "1e-3",
            "--lr-decay",
            "cosine",
            "--min-lr",
            "none",
            "--max-iters",
            "7",
        ])
        .unwrap();
        let hp = args.hyperparams(Hyperparams::default()).unwrap();
        assert_eq!(
            (hp.lr, hp.lr_decay, hp.min_lr, hp.max_iters),
            (1e-3, LrDecay::Cosine, None, 7)
        );
        assert_eq!(hp.n_embd, Hyperparams::default().n_embd);

        let err = train_args(&["--lr-decay", "linear"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ValueValidation);
        assert!(
            err.to_string().contains("expected constant or cosine"),
            "{err}"
        );
        let err = train_args(&["--n-layer", "1.5"]).unwrap_err();
        assert!(
            err.to_string().contains("expected a non-negative integer"),
            "{err}"
        );

        let err = train_args(&["--resume", "ckpt", "--n-embd", "64"]).unwrap_err();
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        train_args(&["--resume", "ckpt", "--max-iters", "9000"]).unwrap();
    }

    #[test]
    fn flags_are_still_checked_by_the_rules() {
        let args = train_args(&["--dropout", "1"]).unwrap();
        let err = args.hyperparams(Hyperparams::default()).unwrap_err();
        assert_eq!(err.to_string(), "dropout = 1: must be in [0, 1)");
    }
}
