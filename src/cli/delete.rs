//! `gptsweep delete SWEEP [--force]`: a sweep and everything it holds (runs, evaluations,
//! samples, checkpoints, and its dataset when no other sweep uses it). A running sweep, or
//! a cancelled one whose runs are still stopping, is refused unless --force. It asks first
//! on a terminal; a script says `--yes` (or GPTSWEEP_YES=1), else it is refused (`ask`).

use gptsweep_proto::pb;
use serde::Serialize;
use serde_json::Value;

use super::ask::{Answer, confirm};
use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::table::plural;

/// Flags of `gptsweep delete`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
    /// Delete it even while it runs (its workers lose their runs).
    #[arg(long)]
    pub force: bool,
    /// Delete without asking (scripts: GPTSWEEP_YES=1); without it, delete asks on a
    /// terminal and refuses elsewhere.
    #[arg(long, env = "GPTSWEEP_YES", value_parser = clap::builder::FalseyValueParser::new())]
    pub yes: bool,
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
            "deleted sweep {}: {}, {}, {}, {}{later}\n",
            self.sweep,
            plural(self.runs, "run"),
            plural(self.evals, "evaluation"),
            plural(self.checkpoints, "checkpoint"),
            plural(self.datasets, "dataset"),
        )
    }

    fn json(&self) -> Value {
        to_json(self)
    }
}

/// Runs `gptsweep delete`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    if !args.yes {
        // The sweep is looked up first: a name that is not there is said as such, and the
        // question says what goes.
        let s = super::status::fetch(&mut ctx, &args.sweep).await?.summary;
        let question = format!(
            "delete sweep {} (id {}, {}) with its {}, evaluations, samples and checkpoints?",
            super::terminal::escape_line(&s.name),
            s.id,
            s.state,
            plural(s.runs.total() as u64, "run"),
        );
        if confirm(&question, "delete")? == Answer::No {
            anyhow::bail!("sweep {} not deleted", s.name);
        }
    }
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
