//! `gptsweep retry SWEEP [--failed] [--stopped] [--cancelled]`: queue the sweep's runs in
//! those states again (at least one flag).

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
    /// Requeue stopped runs (early-terminated, or stopped by a worker).
    #[arg(long)]
    pub stopped: bool,
    /// Requeue what a cancel ended: runs cancelled before they ran, and those it stopped
    /// while they ran.
    #[arg(long)]
    pub cancelled: bool,
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
        format!(
            "{}: {} queued again\n",
            self.sweep,
            super::table::plural(self.requeued.into(), "run")
        )
    }

    fn json(&self) -> Value {
        to_json(self)
    }
}

/// Runs `gptsweep retry`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    super::bad_input::ensure(args.failed || args.stopped || args.cancelled, || {
        "retry: say which runs to queue again: --failed, --stopped and/or --cancelled".into()
    })?;
    let r = ctx
        .client
        .retry(pb::RetryRequest {
            sweep: args.sweep.clone(),
            failed: args.failed,
            stopped: args.stopped,
            cancelled: args.cancelled,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&Requeued {
        sweep: args.sweep,
        requeued: r.requeued,
    })
}
