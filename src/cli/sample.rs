//! `gptsweep sample`: new text from a stored checkpoint.

use std::path::PathBuf;

use gptsweep_gpt::sample::generate;
use gptsweep_gpt::{
    AutodiffBackend, Checkpoint, DeviceSpec, OnBackend, SampleOptions, with_backend,
};
use serde::Serialize;

use super::output::{Document, OutputMode, print, to_json};

/// Flags of `gptsweep sample`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Checkpoint directory (the --out of train, or a run's checkpoint).
    #[arg(long)]
    checkpoint: PathBuf,
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

    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output {
        let model = self.ckpt.load_model::<B::InnerBackend>(&device)?;
        generate(&model, &self.ckpt.meta.tokenizer, &self.opts, &device)
    }
}

/// The generated text: the prompt and its continuation, or `{prompt, text, step}`.
#[derive(Serialize)]
struct Report {
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

/// Runs `gptsweep sample`.
pub fn run(args: Args, output: OutputMode) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    let ckpt = Checkpoint::load(&args.checkpoint)?;
    let opts = SampleOptions {
        prompt: args.prompt.clone(),
        length: args.length,
        temperature: args.temperature,
        top_k: args.top_k,
        seed: args.seed,
    };
    opts.validate()?;
    ckpt.meta.tokenizer.encode(&opts.prompt, "prompt")?;
    let step = ckpt.meta.step;
    let text = with_backend(device, SampleTask { ckpt, opts })??;
    print(
        output,
        &Report {
            prompt: args.prompt,
            text,
            step,
        },
    )
}
