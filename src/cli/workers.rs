//! `gptsweep workers`: registered workers, their devices and the runs they hold.

use gptsweep_proto::pb;
use serde::Serialize;

use super::ctx::Ctx;
use super::output::{OutputMode, print_json};
use super::table;

#[derive(Serialize)]
struct WorkerJson<'a> {
    id: i64,
    name: &'a str,
    devices: &'a [String],
    alive: bool,
    last_seen_ms: i64,
    running: &'a [i64],
}

/// Runs `gptsweep workers`.
pub async fn run(mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .list_workers(pb::ListWorkersRequest {})
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    match ctx.output {
        OutputMode::Json => print_json(
            &reply
                .workers
                .iter()
                .map(|w| WorkerJson {
                    id: w.id,
                    name: &w.name,
                    devices: &w.devices,
                    alive: w.alive,
                    last_seen_ms: w.last_seen_ms,
                    running: &w.running,
                })
                .collect::<Vec<_>>(),
        )?,
        OutputMode::Text => {
            let rows: Vec<Vec<String>> = reply
                .workers
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
            print!(
                "{}",
                table::render(&["ID", "NAME", "DEVICES", "STATE", "RUNS"], &rows)
            );
        }
    }
    Ok(())
}
