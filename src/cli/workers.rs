//! `gptsweep workers`: registered workers, their devices and the runs they hold.

use gptsweep_api::{DeviceLoad, WorkerInfo};
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
                    w.loads.iter().map(load).collect::<Vec<_>>().join(" "),
                    state(w),
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

/// One device as a cell: `cpu(24.0GiB, 2 runs, 0.5MiB used)`, or the spec alone when it
/// is idle and its memory unknown.
fn load(l: &DeviceLoad) -> String {
    let mut parts = Vec::new();
    if l.memory_bytes > 0 {
        parts.push(table::bytes(l.memory_bytes));
    }
    if !l.runs.is_empty() {
        parts.push(format!(
            "{} run{}, {} used",
            l.runs.len(),
            if l.runs.len() == 1 { "" } else { "s" },
            table::bytes(l.used_bytes)
        ));
    }
    if parts.is_empty() {
        l.device.clone()
    } else {
        format!("{}({})", l.device, parts.join(", "))
    }
}

/// alive, gone (quiet past the lease timeout), left (and why), with disabled devices.
fn state(w: &WorkerInfo) -> String {
    let mut s = match (&w.left, w.alive) {
        (Some(why), _) => format!("left: {why}"),
        (None, true) => "alive".into(),
        (None, false) => "gone".into(),
    };
    for d in &w.disabled {
        s += &format!("; {} disabled: {}", d.device, d.reason);
    }
    s
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
