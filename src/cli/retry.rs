//! `gptsweep retry SWEEP --failed [--stopped]`: queue failed (and/or stopped and cancelled)
//! runs again.

use gptsweep_proto::pb;
use serde::Serialize;

use super::ctx::Ctx;
use super::output::{OutputMode, print_json};

/// Flags of `gptsweep retry`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
    /// Requeue failed runs.
    #[arg(long)]
    pub failed: bool,
    /// Requeue stopped and cancelled runs.
    #[arg(long)]
    pub stopped: bool,
}

#[derive(Serialize)]
struct Requeued {
    requeued: u32,
}

/// Runs `gptsweep retry`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    anyhow::ensure!(
        args.failed || args.stopped,
        "say which runs to queue again: --failed and/or --stopped"
    );
    let r = ctx
        .client
        .retry(pb::RetryRequest {
            sweep: args.sweep.clone(),
            failed: args.failed,
            stopped: args.stopped,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    match ctx.output {
        OutputMode::Json => print_json(&Requeued {
            requeued: r.requeued,
        })?,
        OutputMode::Text => println!("{}: {} runs queued again", args.sweep, r.requeued),
    }
    Ok(())
}
