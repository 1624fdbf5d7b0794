//! `gptsweep cancel SWEEP`: queued runs are cancelled, running ones told to stop at their
//! next report or heartbeat.

use gptsweep_proto::pb;
use serde::Serialize;

use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};

/// Flags of `gptsweep cancel`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
}

/// What a cancel did.
#[derive(Serialize)]
struct Cancelled {
    #[serde(skip)]
    sweep: String,
    cancelled_queued: u32,
    stopping_running: u32,
}

impl Document for Cancelled {
    fn text(&self) -> String {
        format!(
            "{}: {} queued runs cancelled, {} running runs told to stop\n",
            self.sweep, self.cancelled_queued, self.stopping_running
        )
    }

    fn json(&self) -> Value {
        to_json(self)
    }
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
    ctx.print(&Cancelled {
        sweep: args.sweep,
        cancelled_queued: r.cancelled_queued,
        stopping_running: r.stopping_running,
    })
}
