//! `gptsweep retry SWEEP --failed [--stopped]`: queue failed (and/or stopped and cancelled)
//! runs again.

use gptsweep_proto::pb;
use serde::Serialize;

use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};

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

/// How many runs were queued again.
#[derive(Serialize)]
struct Requeued {
    #[serde(skip)]
    sweep: String,
    requeued: u32,
}

impl Document for Requeued {
    fn text(&self) -> String {
        format!("{}: {} runs queued again\n", self.sweep, self.requeued)
    }

    fn json(&self) -> Value {
        to_json(self)
    }
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
    ctx.print(&Requeued {
        sweep: args.sweep,
        requeued: r.requeued,
    })
}
