//! The command tree. Each verb is a module with an `Args` struct and a `run` function.

mod output;
mod progress;
mod sample;
mod train;

use clap::{Parser, Subcommand};

pub use output::OutputMode;

/// Hyperparameter sweeps for character-level GPTs.
#[derive(Debug, Parser)]
#[command(name = "gptsweep", version, about, long_about = None)]
pub struct Cli {
    /// How listings and results are printed.
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Text, env = "GPTSWEEP_OUTPUT")]
    pub output: OutputMode,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one GPT, no coordinator: losses as it goes, a checkpoint in --out.
    Train(Box<train::Args>),
    /// Continue a prompt with a trained checkpoint.
    Sample(sample::Args),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Train(args) => train::run(*args, cli.output),
        Command::Sample(args) => sample::run(args, cli.output),
    }
}

/// Exit code for an error: 2 for bad input (config, dataset, prompt, device, checkpoint),
/// 1 for anything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    use gptsweep_gpt::GptError;
    match err.downcast_ref::<GptError>() {
        Some(GptError::Io { .. } | GptError::Diverged { .. }) => 1,
        Some(_) => 2,
        None => 1,
    }
}
