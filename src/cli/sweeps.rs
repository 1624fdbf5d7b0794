//! `gptsweep sweeps`: every sweep with its progress.

use gptsweep_coordinator::server::convert::sweep_from_pb;
use gptsweep_proto::pb;

use super::ctx::Ctx;
use super::output::{OutputMode, print_json};
use super::table;

/// Runs `gptsweep sweeps`.
pub async fn run(mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .list_sweeps(pb::ListSweepsRequest {})
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    let sweeps: Vec<_> = reply.sweeps.iter().map(sweep_from_pb).collect();
    match ctx.output {
        OutputMode::Json => print_json(&sweeps)?,
        OutputMode::Text => {
            let rows: Vec<Vec<String>> = sweeps
                .iter()
                .map(|s| {
                    let total = s.runs.queued
                        + s.runs.running
                        + s.runs.finished
                        + s.runs.failed
                        + s.runs.stopped
                        + s.runs.cancelled;
                    vec![
                        s.id.to_string(),
                        s.name.clone(),
                        s.state.clone(),
                        s.method.clone(),
                        s.dataset.clone(),
                        format!("{}/{}", s.runs.finished, total),
                        s.runs.running.to_string(),
                        s.runs.failed.to_string(),
                        table::loss(s.best),
                    ]
                })
                .collect();
            print!(
                "{}",
                table::render(
                    &[
                        "ID", "NAME", "STATE", "METHOD", "DATASET", "DONE", "RUNNING", "FAILED",
                        "BEST"
                    ],
                    &rows
                )
            );
        }
    }
    Ok(())
}
