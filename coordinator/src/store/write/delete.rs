//! Deleting a sweep: its runs, their attempts, evaluations and samples, the sweep, and its
//! dataset's row when no other sweep uses it and nobody uploaded it again since the sweep
//! began. Answers the checkpoint blobs that may then go; the caller removes those files
//! once the write has committed (a blob only if no other run refers to it). A forgotten
//! dataset's file is left to the collection at the coordinator's next start: an upload of
//! the same corpus may be between storing its file and recording its row.

use sqlx::AnyConnection;

use gptsweep_api::{SweepId, SweepState};

use super::Write;
use super::datasets::ForgetUnusedDatasets;
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::store::column;
use crate::store::states_sql::RUN_RUNNING;

/// Deletes a sweep; a running one only with `force`.
#[derive(Debug, Clone)]
pub struct Delete {
    /// The sweep.
    pub sweep: SweepId,
    /// Delete it even while it runs (workers on its runs lose their leases).
    pub force: bool,
}

/// What a delete removed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deleted {
    /// Runs removed.
    pub runs: u64,
    /// Evaluations removed.
    pub evals: u64,
    /// Checkpoint blobs its runs held.
    pub checkpoints: Vec<String>,
    /// Datasets no sweep uses any more, forgotten (their files go at the next start).
    pub datasets: Vec<String>,
}

impl Write for Delete {
    type Output = Deleted;

    async fn apply(self, c: &mut AnyConnection) -> Result<Deleted> {
        let id = self.sweep.get();
        let (name, state, created_at): (String, String, i64) =
            sqlx::query_as("SELECT name, state, created_at FROM sweeps WHERE id = $1")
                .bind(id)
                .fetch_optional(&mut *c)
                .await?
                .ok_or_else(|| CoordinatorError::NotFound(format!("no sweep {id}")))?;
        if column::parse::<SweepState>("sweeps.state", &state)? == SweepState::Running
            && !self.force
        {
            return Err(CoordinatorError::Invalid(format!(
                "sweep {name} is running: cancel it first (gptsweep cancel {name}), or delete it with --force"
            )));
        }
        // A cancelled sweep's runs stop at their workers' next call; until then a worker
        // still trains them.
        let running: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM runs WHERE sweep_id = $1 AND state = {RUN_RUNNING}"
        )))
        .bind(id)
        .fetch_one(&mut *c)
        .await?;
        if running > 0 && !self.force {
            return Err(CoordinatorError::Invalid(format!(
                "sweep {name} has {} still stopping on their workers: wait for them (gptsweep status {name}), or delete it with --force",
                crate::sweep::estimate::plural(running as usize, "run")
            )));
        }
        let checkpoints: Vec<String> = sqlx::query_scalar(
            "SELECT checkpoint_sha256 FROM runs WHERE sweep_id = $1 AND checkpoint_sha256 IS NOT NULL",
        )
        .bind(id)
        .fetch_all(&mut *c)
        .await?;
        let runs_of = "(SELECT id FROM runs WHERE sweep_id = $1)";
        let mut removed = Vec::new();
        for table in ["samples", "evals", "attempts"] {
            let sql = format!("DELETE FROM {table} WHERE run_id IN {runs_of}");
            // `table` and `runs_of` are the literals above, never input.
            let done = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .execute(&mut *c)
                .await?;
            removed.push(done.rows_affected());
        }
        let runs = sqlx::query("DELETE FROM runs WHERE sweep_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?
            .rows_affected();
        let dataset: String =
            sqlx::query_scalar("DELETE FROM sweeps WHERE id = $1 RETURNING dataset_sha256")
                .bind(id)
                .fetch_one(&mut *c)
                .await?;
        // An upload since the sweep began (a submit on its way) refreshed the row's time.
        let datasets = ForgetUnusedDatasets {
            only: Some(dataset),
            uploaded_before: created_at.min(now_ms()) + 1,
        }
        .apply(c)
        .await?;
        Ok(Deleted {
            runs,
            evals: removed[1],
            checkpoints,
            datasets,
        })
    }
}
