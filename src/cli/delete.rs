//! `gptsweep delete SWEEP [--force]`: a sweep and everything it holds (runs, evaluations,
//! samples, checkpoints, and its dataset when no other sweep uses it). A running sweep, or
//! a cancelled one whose runs are still stopping, is refused unless --force.

use gptsweep_proto::pb;
use serde::Serialize;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};

/// Flags of `gptsweep delete`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
    /// Delete it even while it runs (its workers lose their runs).
    #[arg(long)]
    pub force: bool,
}

/// What a delete removed.
#[derive(Serialize)]
struct Deleted {
    sweep: String,
    runs: u64,
    evals: u64,
    checkpoints: u64,
    datasets: u64,
}

impl Document for Deleted {
    fn text(&self) -> String {
        let later = if self.datasets > 0 {
            " (their files go at the coordinator's next collection, within a minute)"
        } else {
            ""
        };
        format!(
            "deleted sweep {}: {} runs, {} evaluations, {} checkpoints, {} datasets{later}\n",
            self.sweep, self.runs, self.evals, self.checkpoints, self.datasets
        )
    }

    fn json(&self) -> Value {
        to_json(self)
    }
}

/// Runs `gptsweep delete`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let r = ctx
        .client
        .delete(pb::DeleteRequest {
            sweep: args.sweep.clone(),
            force: args.force,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&Deleted {
        sweep: args.sweep,
        runs: r.runs,
        evals: r.evals,
        checkpoints: r.checkpoints,
        datasets: r.datasets,
    })
}
