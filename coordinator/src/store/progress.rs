//! A running run's live progress as reads answer it ([`gptsweep_api::RunProgress`]): the
//! step its worker's latest heartbeat carried (or its latest evaluation's, if later), the
//! throughput then, the ETA at that throughput and the worker. Kept on the run by the
//! heartbeat ([`super::write::Heartbeat`]) with the lease that sent it; progress of an
//! earlier lease (the run handed back, or expired and leased again) does not count.

use serde::Deserialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use gptsweep_api::progress::eta_secs;
use gptsweep_api::{RunProgress, RunState};

use super::column;
use crate::error::Result;

/// What a read selects for [`of`], of the run aliased `r` joined by [`JOINS`].
pub(super) const COLUMNS: &str = "r.state AS progress_state, r.last_step AS progress_eval_step, r.progress_step, r.progress_tokens_per_sec, r.progress_at, r.progress_lease, r.lease_id AS progress_holder, r.hyperparams_json AS progress_hyperparams, pw.name AS progress_worker, pw.id AS progress_worker_id";

/// The joins [`COLUMNS`] needs: the holding attempt's worker.
pub(super) const JOINS: &str =
    "LEFT JOIN attempts pa ON pa.id = r.lease_id LEFT JOIN workers pw ON pw.id = pa.worker_id";

/// The hyperparameters the ETA needs; serde skips the rest.
#[derive(Deserialize)]
struct Budget {
    max_iters: u64,
    batch_size: u64,
    block_size: u64,
}

/// The live progress of the run in `row` (selected with [`COLUMNS`]) as of `now` (ms):
/// `None` unless it runs and its current lease has sent some.
pub(super) fn of(row: &AnyRow, now: i64) -> Result<Option<RunProgress>> {
    let state: RunState = column::named(row, "progress_state")?;
    let holder: Option<i64> = row.try_get("progress_holder")?;
    let lease: Option<i64> = row.try_get("progress_lease")?;
    if state != RunState::Running || holder.is_none() || lease != holder {
        return Ok(None);
    }
    let (Some(step), Some(rate), Some(at)) = (
        row.try_get::<Option<i64>, _>("progress_step")?,
        row.try_get::<Option<f64>, _>("progress_tokens_per_sec")?,
        row.try_get::<Option<i64>, _>("progress_at")?,
    ) else {
        return Ok(None);
    };
    let hp: &str = row.try_get("progress_hyperparams")?;
    let budget: Budget = serde_json::from_str(hp).map_err(|e| {
        crate::CoordinatorError::Store(sqlx::Error::Decode(
            format!("column hyperparams_json: {e}").into(),
        ))
    })?;
    let step = (step.max(0) as u64).max(row.try_get::<i64, _>("progress_eval_step")?.max(0) as u64);
    let worker = match (
        row.try_get::<Option<String>, _>("progress_worker")?,
        row.try_get::<Option<i64>, _>("progress_worker_id")?,
    ) {
        (Some(name), Some(id)) => format!("{name}#{id}"),
        _ => String::new(),
    };
    Ok(Some(RunProgress {
        step,
        max_iters: budget.max_iters,
        tokens_per_sec: rate,
        reported_at_ms: at,
        age_ms: now.saturating_sub(at).max(0) as u64,
        eta_secs: eta_secs(
            step,
            budget.max_iters,
            budget.batch_size * budget.block_size,
            rate,
        ),
        worker,
    }))
}
