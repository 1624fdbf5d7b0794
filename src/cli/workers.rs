//! `gptsweep workers`: registered workers, their devices and the runs they hold.

use gptsweep_api::WorkerInfo;
use gptsweep_proto::pb;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::table;

/// Every worker: a table, or an array of workers.
struct WorkersDoc(Vec<WorkerInfo>);

impl Document for WorkersDoc {
    fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|w| {
                let running: Vec<String> = w.running.iter().map(|r| r.to_string()).collect();
                vec![
                    w.id.to_string(),
                    w.name.clone(),
                    w.devices.join(","),
                    if w.alive { "alive" } else { "gone" }.into(),
                    running.join(","),
                ]
            })
            .collect();
        table::render(&["ID", "NAME", "DEVICES", "STATE", "RUNS"], &rows)
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }
}

/// Runs `gptsweep workers`.
pub async fn run(mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .list_workers(pb::ListWorkersRequest {})
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&WorkersDoc(reply.workers.iter().map(Into::into).collect()))
}
