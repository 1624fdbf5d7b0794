//! `gptsweep cancel SWEEP`: queued runs are cancelled, running ones told to stop at their
//! next report or heartbeat.

use gptsweep_proto::pb;
use serde::Serialize;

use super::ctx::Ctx;
use super::output::{OutputMode, print_json};

/// Flags of `gptsweep cancel`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
}

#[derive(Serialize)]
struct Cancelled {
    cancelled_queued: u32,
    stopping_running: u32,
}

/// Runs `gptsweep cancel`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let r = ctx
        .client
        .cancel(pb::SweepRef {
            sweep: args.sweep.clone(),
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    match ctx.output {
        OutputMode::Json => print_json(&Cancelled {
            cancelled_queued: r.cancelled_queued,
            stopping_running: r.stopping_running,
        })?,
        OutputMode::Text => println!(
            "{}: {} queued runs cancelled, {} running runs told to stop",
            args.sweep, r.cancelled_queued, r.stopping_running
        ),
    }
    Ok(())
}
