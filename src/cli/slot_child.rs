//! `gptsweep slot-child` (hidden): a worker's slot process. `gptsweep worker` starts one per
//! run when its slots are processes, sends it the run on stdin and reads its progress from
//! stdout ([`gptsweep_worker::slot_process`]); no one else should.

use gptsweep_gpt::DeviceSpec;

/// Flags of `gptsweep slot-child`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The device to train on (cpu, cuda:N, wgpu:N).
    #[arg(long)]
    pub device: String,
    /// How log lines on stderr look.
    #[arg(long, value_enum, default_value = "text")]
    pub log_format: super::logging::LogFormat,
}

/// Trains the one run the worker sends.
pub fn run(args: Args) -> anyhow::Result<()> {
    let device: DeviceSpec = args.device.parse()?;
    gptsweep_worker::slot_process::child::serve(device)
        .map_err(|why| anyhow::anyhow!("slot process: {why}"))
}
