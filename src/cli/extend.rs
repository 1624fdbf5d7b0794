//! `gptsweep extend SWEEP --runs N`: N more runs for a random or tpe sweep, from every
//! result so far; a finished sweep runs again (W&B users ask for this as "resume a sweep").

use gptsweep_proto::pb;
use serde::Serialize;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};

/// Flags of `gptsweep extend`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
    /// Runs to add to the sweep's cap.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub runs: u32,
}

/// The cap before and after.
#[derive(Serialize)]
struct Extended {
    sweep: String,
    run_cap_before: u32,
    run_cap: u32,
    queued: u32,
}

impl Document for Extended {
    fn text(&self) -> String {
        let how = if self.queued > 0 {
            format!("{} queued", super::table::plural(self.queued.into(), "run"))
        } else {
            "each new run is proposed by tpe when a worker asks".to_string()
        };
        format!(
            "{}: run cap {} -> {}; {how}\n",
            self.sweep, self.run_cap_before, self.run_cap
        )
    }

    fn json(&self) -> Value {
        to_json(self)
    }
}

/// Runs `gptsweep extend`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let r = ctx
        .client
        .extend(pb::ExtendRequest {
            sweep: args.sweep.clone(),
            runs: args.runs,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&Extended {
        sweep: args.sweep,
        run_cap_before: r.run_cap_before,
        run_cap: r.run_cap,
        queued: r.queued,
    })
}
