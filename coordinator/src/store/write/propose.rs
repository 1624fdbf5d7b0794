//! A tpe sweep's next run, made when a worker asks for work and the sweep has no queued
//! run but fewer runs than its cap: read the spec and every run's parameters, state and
//! metric curve, ask the planner ([`crate::sweep::plan_next`]), and queue the run. It runs
//! inside the lease's write, in the single writer's transaction, so two workers asking at
//! once are answered one after the other and the second proposal sees the first run
//! (pending: constant liar).

use sqlx::AnyConnection;

use super::finishing::close_if_done;
use super::sweeps::queue_planned;
use crate::error::Result;
use crate::store::stored_sweep::{StoredPlan, trials};
use crate::sweep::plan_next;

/// Proposes and queues the next run of sweep `sweep`. A sweep where no buildable run can be
/// found any more has its cap lowered to the runs it has, so that it can end.
pub(super) async fn propose(c: &mut AnyConnection, sweep: i64) -> Result<()> {
    let StoredPlan {
        spec,
        metric,
        shapes,
    } = StoredPlan::read(c, sweep).await?;
    let (index, trials) = trials(c, sweep, metric).await?;
    match plan_next(&spec, index, &trials, &shapes) {
        Ok((run, how)) => {
            let id = queue_planned(c, sweep, &run, &shapes).await?;
            // `run` is the id every other log line, the CLI and the workers use; `index`
            // is its place in the sweep.
            tracing::info!(sweep = %spec.name, run = id, index, "proposed by {how}");
        }
        Err(why) => {
            tracing::warn!(sweep = %spec.name, "no more runs: {why}");
            sqlx::query("UPDATE sweeps SET run_cap = $1 WHERE id = $2")
                .bind(index as i64)
                .bind(sweep)
                .execute(&mut *c)
                .await?;
            close_if_done(c, sweep).await?;
        }
    }
    Ok(())
}
