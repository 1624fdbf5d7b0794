//! `gptsweep sample`: new text from a checkpoint: a directory (`--checkpoint`, what `train
//! --out` and `export` write), or a stored run's latest, fetched from the coordinator and
//! cached (`sample RUN`).

use std::path::PathBuf;

use gptsweep_gpt::sample::generate;
use gptsweep_gpt::{Checkpoint, DeviceSpec, OnBackend, SampleOptions, TrainBackend, with_backend};
use serde::Serialize;

use super::ctx::Ctx;
use super::output::{Document, OutputMode, print, to_json};
use super::run_checkpoint::fetch;

/// Flags of `gptsweep sample`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A run of a sweep (its id, from `top`): its latest checkpoint, from the coordinator.
    #[arg(conflicts_with = "checkpoint", required_unless_present = "checkpoint")]
    pub run: Option<i64>,
    /// Checkpoint directory (the --out of train, or of export).
    #[arg(long)]
    checkpoint: Option<PathBuf>,
    /// Text to continue.
    #[arg(long, default_value = "\n")]
    prompt: String,
    /// Characters to generate.
    #[arg(long, default_value_t = 500)]
    length: usize,
    /// Softmax temperature.
    #[arg(long, default_value_t = 1.0)]
    temperature: f64,
    /// Sample only among the k most likely characters.
    #[arg(long)]
    top_k: Option<usize>,
    /// Seed of the draws.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// cpu, cuda, cuda:N (`--features cuda` builds), wgpu or wgpu:N (`--features wgpu`).
    #[arg(long, default_value = "cpu")]
    device: String,
}

struct SampleTask {
    ckpt: Checkpoint,
    opts: SampleOptions,
}

impl OnBackend for SampleTask {
    type Output = gptsweep_gpt::Result<String>;

    fn run<B: TrainBackend>(self, device: B::Device) -> Self::Output {
        let model = self.ckpt.load_model::<B::InnerBackend>(&device)?;
        generate(&model, &self.ckpt.meta.tokenizer, &self.opts, &device)
    }
}

/// The generated text: the prompt and its continuation, or `{prompt, text, step}` (and
/// `run` for a stored run).
#[derive(Serialize)]
struct Report {
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<i64>,
    prompt: String,
    text: String,
    step: usize,
}

impl Document for Report {
    fn text(&self) -> String {
        format!("{}{}\n", self.prompt, self.text)
    }

    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

/// Runs `gptsweep sample --checkpoint DIR`.
pub fn run(args: Args, output: OutputMode) -> anyhow::Result<()> {
    let dir = args
        .checkpoint
        .clone()
        .expect("clap requires --checkpoint without a run");
    let ckpt = Checkpoint::load(&dir)?;
    print(output, &generate_from(&args, ckpt)?)
}

/// Runs `gptsweep sample RUN`.
pub async fn run_stored(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let run = args.run.expect("clap requires a run without --checkpoint");
    // Flags first: a bad one costs no download.
    let _: DeviceSpec = args.device.parse()?;
    options(&args).validate()?;
    let fetched = fetch(&mut ctx, run).await?;
    let report = tokio::task::block_in_place(|| generate_from(&args, fetched.checkpoint))?;
    ctx.print(&Report {
        run: Some(run),
        ..report
    })
}

fn options(args: &Args) -> SampleOptions {
    SampleOptions {
        prompt: args.prompt.clone(),
        length: args.length,
        temperature: args.temperature,
        top_k: args.top_k,
        seed: args.seed,
    }
}

/// Generates from `ckpt` as `args` ask.
fn generate_from(args: &Args, ckpt: Checkpoint) -> anyhow::Result<Report> {
    let device: DeviceSpec = args.device.parse()?;
    let opts = options(args);
    opts.validate()?;
    ckpt.meta.tokenizer.encode(&opts.prompt, "prompt")?;
    let step = ckpt.meta.step;
    let text = with_backend(device, SampleTask { ckpt, opts })??;
    Ok(Report {
        run: None,
        prompt: args.prompt.clone(),
        text,
        step,
    })
}
