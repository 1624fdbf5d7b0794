//! `gptsweep annotate RUN --name TEXT --note TEXT`: a run's name and note (W&B's run name
//! and notes), shown by `show`, `top`, `--output json` and the dashboard. One verb for
//! both, like `wandb`'s run settings; either flag alone leaves the other as it is, and an
//! empty value clears it. Checked here before any network, and again by the coordinator.

use gptsweep_api::annotation::{check_name, check_note};
use gptsweep_proto::pb;
use serde::Serialize;
use serde_json::Value;

use super::bad_input::BadInput;
use super::ctx::Ctx;
use super::output::{Document, to_json};

/// Flags of `gptsweep annotate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id (from `top`).
    pub run: i64,
    /// The run's name: one line, at most 100 characters ("" clears it).
    #[arg(long)]
    pub name: Option<String>,
    /// A note on the run: at most 4 KiB, line breaks allowed ("" clears it).
    #[arg(long)]
    pub note: Option<String>,
}

/// The run's name and note as stored now.
#[derive(Serialize)]
struct Annotated {
    run: i64,
    name: String,
    note: String,
}

impl Document for Annotated {
    fn text(&self) -> String {
        let shown = |s: &str| {
            if s.is_empty() {
                "(none)".to_string()
            } else {
                format!("{s:?}")
            }
        };
        format!(
            "run {}: name {}, note {}\n",
            self.run,
            shown(&self.name),
            shown(&self.note)
        )
    }

    fn json(&self) -> Value {
        to_json(self)
    }
}

/// Runs `gptsweep annotate`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    if args.name.is_none() && args.note.is_none() {
        return Err(BadInput(format!(
            "annotate {}: give --name, --note or both (an empty value clears one)",
            args.run
        ))
        .into());
    }
    if let Some(name) = &args.name {
        check_name(name).map_err(|why| BadInput(format!("--name: {why}")))?;
    }
    if let Some(note) = &args.note {
        check_note(note).map_err(|why| BadInput(format!("--note: {why}")))?;
    }
    let r = ctx
        .client
        .annotate(pb::AnnotateRequest {
            run_id: args.run,
            name: args.name,
            note: args.note,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&Annotated {
        run: args.run,
        name: r.name,
        note: r.note,
    })
}
