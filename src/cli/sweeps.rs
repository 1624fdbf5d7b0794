//! `gptsweep sweeps`: every sweep with its progress (runs stopped early by ASHA apart from
//! failed ones). DONE counts every run that has ended, however (finished, stopped early or
//! by a cancel, failed): a sweep whose runs ASHA stopped reads done, not half done.

use gptsweep_api::SweepSummary;
use gptsweep_proto::pb;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::table;

/// Every sweep: a table, or an array of sweep summaries.
struct SweepsDoc(Vec<SweepSummary>);

impl Document for SweepsDoc {
    fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|s| {
                vec![
                    s.id.to_string(),
                    s.name.clone(),
                    s.state.to_string(),
                    s.method.to_string(),
                    s.dataset.clone(),
                    format!(
                        "{}/{}",
                        s.runs.total() - s.runs.queued - s.runs.running,
                        s.runs.total()
                    ),
                    s.runs.running.to_string(),
                    s.runs.stopped.to_string(),
                    s.runs.failed.to_string(),
                    table::loss(s.best),
                    s.tags.join(","),
                    first_line(&s.description, 50),
                ]
            })
            .collect();
        table::render(
            &[
                "ID",
                "NAME",
                "STATE",
                "METHOD",
                "DATASET",
                "DONE",
                "RUNNING",
                "STOPPED",
                "FAILED",
                "BEST",
                "TAGS",
                "DESCRIPTION",
            ],
            &rows,
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }
}

/// The first line of `text`, cut to `max` characters with an ellipsis.
fn first_line(text: &str, max: usize) -> String {
    let line = text.lines().next().unwrap_or_default();
    if line.chars().count() > max || text.lines().nth(1).is_some() {
        let cut: String = line.chars().take(max.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        line.to_string()
    }
}

/// Runs `gptsweep sweeps`.
pub async fn run(mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .list_sweeps(pb::ListSweepsRequest {})
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    let sweeps = reply
        .sweeps
        .iter()
        .map(SweepSummary::try_from)
        .collect::<Result<_, _>>()?;
    ctx.print(&SweepsDoc(sweeps))
}
