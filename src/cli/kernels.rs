//! `gptsweep kernels`: what the fleet's kernel cache holds (compiled GPU kernels and
//! autotune results workers uploaded), by scope: the device, driver and build they are
//! valid for. A scope with records is one a new node of that kind starts warm in.

use gptsweep_proto::pb;
use serde_json::{Value, json};

use super::ctx::Ctx;
use super::output::Document;
use super::table;

struct KernelsDoc(pb::ListKernelsReply);

impl Document for KernelsDoc {
    fn text(&self) -> String {
        let total: u64 = self.0.scopes.iter().map(|s| s.bytes).sum();
        let rows: Vec<Vec<String>> = self
            .0
            .scopes
            .iter()
            .map(|s| {
                vec![
                    s.records.to_string(),
                    table::bytes(s.bytes),
                    s.workers.to_string(),
                    stored_ago(s.last_stored_ms),
                    s.scope.clone(),
                ]
            })
            .collect();
        let mut out = if rows.is_empty() {
            "the fleet's kernel cache is empty: workers on GPUs fill it as they train\n".into()
        } else {
            table::render(&["RECORDS", "SIZE", "WORKERS", "STORED", "SCOPE"], &rows)
        };
        out += &format!(
            "{} of {} (--kernel-cache-size; the oldest records go first past it)\n",
            table::bytes(total),
            table::bytes(self.0.limit_bytes)
        );
        out
    }

    fn json(&self) -> Value {
        json!({
            "limit_bytes": self.0.limit_bytes,
            "scopes": self.0.scopes.iter().map(|s| json!({
                "scope": s.scope,
                "records": s.records,
                "bytes": s.bytes,
                "workers": s.workers,
                "last_stored_ms": s.last_stored_ms,
            })).collect::<Vec<_>>(),
        })
    }
}

/// "3m ago" for a time in ms since the epoch.
fn stored_ago(ms: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    format!("{} ago", table::secs(((now - ms).max(0) as f64) / 1000.0))
}

/// Runs `gptsweep kernels`.
pub async fn run(mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .list_kernels(pb::ListKernelsRequest {})
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&KernelsDoc(reply))
}
