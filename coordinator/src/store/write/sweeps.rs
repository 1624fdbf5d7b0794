//! A sweep's life as a whole: created with its planned runs, cancelled, and its ended
//! runs queued again; and how a planned run is stored (at submit, or proposed later).

use sqlx::AnyConnection;

use gptsweep_api::{Method, Named, RunState, SweepId};

use super::group::each_chunk;
use super::{Write, on_postgres};
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::store::states_sql::{
    RUN_CANCELLED, RUN_QUEUED, RUN_RUNNING, RUN_STOPPED, SWEEP_CANCELLED, SWEEP_RUNNING,
};
use crate::sweep::{CorpusShapes, PlannedRun, SweepSpec};

/// A sweep ready to be stored.
#[derive(Debug, Clone)]
pub struct NewSweep {
    /// The checked spec.
    pub spec: SweepSpec,
    /// The file as submitted.
    pub yaml: String,
    /// Its name as the user gave it.
    pub file_name: String,
    /// Dataset identity.
    pub dataset_sha256: String,
    /// Planned runs, with their parameter counts and training-memory estimates (bytes).
    pub runs: Vec<(PlannedRun, u64, u64)>,
    /// The corpus under each tokenizer the sweep uses (for proposals' memory estimates
    /// and block_size).
    pub shapes: CorpusShapes,
}

impl NewSweep {
    /// Runs the sweep makes in all: a tpe sweep's cap, else those planned now.
    pub fn run_cap(&self) -> usize {
        match self.spec.method {
            Method::Tpe => self.spec.run_cap.unwrap_or(self.runs.len()),
            Method::Grid | Method::Random => self.runs.len(),
        }
    }
}

/// Queues `run` in sweep `sweep` with its parameter count and memory estimate.
pub(super) async fn insert_run(
    c: &mut AnyConnection,
    sweep: i64,
    run: &PlannedRun,
    params: u64,
    memory: u64,
) -> Result<i64> {
    let id = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "INSERT INTO runs (sweep_id, idx, hyperparams_json, swept_json, state, num_params, created_at, memory_bytes) VALUES ($1, $2, $3, $4, {RUN_QUEUED}, $5, $6, $7) RETURNING id"
    )))
    .bind(sweep)
    .bind(run.index as i64)
    .bind(serde_json::to_string(&run.hyperparams).expect("serialises"))
    .bind(serde_json::to_string(&run.swept).expect("serialises"))
    .bind(params as i64)
    .bind(now_ms())
    .bind(memory as i64)
    .fetch_one(&mut *c)
    .await?;
    Ok(id)
}

/// Queues a sweep's planned runs, each with its parameter count and memory estimate: as
/// [`insert_run`], a statement a chunk of runs (a 10,000-run grid was 10,000 round trips).
async fn insert_runs(
    c: &mut AnyConnection,
    sweep: i64,
    runs: &[(PlannedRun, u64, u64)],
) -> Result<()> {
    let now = now_ms();
    each_chunk(
        c,
        runs,
        7,
        |rows| {
            format!(
                "INSERT INTO runs (sweep_id, idx, hyperparams_json, swept_json, num_params, created_at, memory_bytes, state) SELECT v.*, {RUN_QUEUED} FROM (VALUES {rows}) AS v"
            )
        },
        |query, (run, size, memory)| {
            query
                .bind(sweep)
                .bind(run.index as i64)
                .bind(serde_json::to_string(&run.hyperparams).expect("serialises"))
                .bind(serde_json::to_string(&run.swept).expect("serialises"))
                .bind(*size as i64)
                .bind(now)
                .bind(*memory as i64)
        },
    )
    .await
}

/// After many runs were queued at once: on PostgreSQL, `ANALYZE runs`, so that the
/// planner knows them. On fresh statistics (an empty table) it read every queued run and
/// sorted them on each lease (14 ms a lease with 10,000 queued, 0.5 ms after `ANALYZE`),
/// until autovacuum got round to it. SQLite plans the lease from the index either way.
pub(super) async fn refresh_statistics(c: &mut AnyConnection) -> Result<()> {
    if on_postgres(c) {
        sqlx::query("ANALYZE runs").execute(&mut *c).await?;
    }
    Ok(())
}

/// Queues `run`, planned after submit (a tpe proposal, or `extend`), with the parameter
/// count and memory estimate of its model on the sweep's corpus.
pub(super) async fn queue_planned(
    c: &mut AnyConnection,
    sweep: i64,
    run: &PlannedRun,
    shapes: &CorpusShapes,
) -> Result<i64> {
    let (params, memory) = shapes.estimates(&run.hyperparams);
    insert_run(c, sweep, run, params, memory).await
}

/// Stores a sweep and queues its runs; answers its id. A taken name is refused.
#[derive(Debug, Clone)]
pub struct CreateSweep(pub Box<NewSweep>);

impl Write for CreateSweep {
    type Output = SweepId;

    async fn apply(self, c: &mut AnyConnection) -> Result<SweepId> {
        let s = self.0;
        let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM sweeps WHERE name = $1")
            .bind(&s.spec.name)
            .fetch_optional(&mut *c)
            .await?;
        if let Some(id) = taken {
            return Err(CoordinatorError::AlreadyExists(format!(
                "{}: a sweep named {:?} already exists (id {id}); set another `name:` in the file, or submit it with --name NEW_NAME",
                s.file_name, s.spec.name
            )));
        }
        let now = now_ms();
        let spec_json = serde_json::to_string(&s.spec).expect("spec serialises");
        let id: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "INSERT INTO sweeps (name, file_name, yaml, spec_json, method, metric, goal, dataset_sha256, state, created_at, early_min_iter, early_eta, run_cap, vocab_size, shortest_split, gpt2_shortest_split, samples_json)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, {SWEEP_RUNNING}, $9, $10, $11, $12, $13, $14, $15, $16) RETURNING id"
        )))
        .bind(&s.spec.name)
        .bind(&s.file_name)
        .bind(&s.yaml)
        .bind(spec_json)
        .bind(s.spec.method.as_str())
        .bind(s.spec.metric.name.as_str())
        .bind(s.spec.metric.goal.as_str())
        .bind(&s.dataset_sha256)
        .bind(now)
        .bind(s.spec.early_terminate.map(|e| e.min_iter as i64))
        .bind(s.spec.early_terminate.map(|e| e.eta as i64))
        .bind(s.run_cap() as i64)
        .bind(s.shapes.char.vocab_size as i64)
        .bind(s.shapes.char.shortest_split as i64)
        .bind(s.shapes.gpt2.map_or(0, |g| g.shortest_split as i64))
        .bind(serde_json::to_string(&s.spec.samples).expect("samples serialise"))
        .fetch_one(&mut *c)
        .await?;
        insert_runs(c, id, &s.runs).await?;
        refresh_statistics(c).await?;
        Ok(SweepId(id))
    }
}

/// The stop reason of a run that a cancel stopped while it ran: such a run ends `stopped`,
/// and `retry --cancelled` queues it again with the runs that were cancelled before they ran.
pub const CANCELLED_REASON: &str = "the sweep was cancelled";

/// Cancels a sweep: queued runs are cancelled, running ones asked to stop (an earlier
/// stop reason is kept). Answers (cancelled, told to stop).
#[derive(Debug, Clone, Copy)]
pub struct Cancel {
    /// The sweep.
    pub sweep: SweepId,
}

impl Write for Cancel {
    type Output = (u32, u32);

    async fn apply(self, c: &mut AnyConnection) -> Result<(u32, u32)> {
        let now = now_ms();
        let queued = sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE runs SET state = {RUN_CANCELLED}, finished_at = $1 WHERE sweep_id = $2 AND state = {RUN_QUEUED}")))
            .bind(now)
            .bind(self.sweep.get())
            .execute(&mut *c)
            .await?;
        let running = sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE runs SET stop_reason = CASE WHEN stop_requested = 1 THEN stop_reason ELSE $1 END, stop_requested = 1 WHERE sweep_id = $2 AND state = {RUN_RUNNING}")))
            .bind(CANCELLED_REASON)
            .bind(self.sweep.get())
            .execute(&mut *c)
            .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sweeps SET state = {SWEEP_CANCELLED}, finished_at = $1 WHERE id = $2 AND state = {SWEEP_RUNNING}"
        )))
        .bind(now)
        .bind(self.sweep.get())
        .execute(&mut *c)
        .await?;
        Ok((
            queued.rows_affected() as u32,
            running.rows_affected() as u32,
        ))
    }
}

/// Queues a sweep's failed, stopped and/or cancelled runs again, with fresh attempt
/// counts; the sweep runs again if any were. Answers how many. "Cancelled" is what a
/// cancel ended: the runs cancelled before they ran, and those it stopped while they ran
/// (state `stopped`, stop reason [`CANCELLED_REASON`]).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    /// The sweep.
    pub sweep: SweepId,
    /// Requeue failed runs.
    pub failed: bool,
    /// Requeue stopped runs (early-terminated, or stopped by a worker).
    pub stopped: bool,
    /// Requeue what a cancel ended: runs cancelled before they ran, and those it stopped
    /// while they ran.
    pub cancelled: bool,
}

impl Write for Retry {
    type Output = u32;

    async fn apply(self, c: &mut AnyConnection) -> Result<u32> {
        let mut states = Vec::new();
        if self.failed {
            states.push(RunState::Failed);
        }
        if self.stopped {
            states.push(RunState::Stopped);
        }
        if self.cancelled {
            states.push(RunState::Cancelled);
        }
        let mut n = 0;
        if self.cancelled && !self.stopped {
            n += sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE runs SET state = {RUN_QUEUED}, stop_requested = 0, stop_reason = '', attempts = 0, error = '', finished_at = NULL WHERE sweep_id = $1 AND state = {RUN_STOPPED} AND stop_reason = $2"
            )))
            .bind(self.sweep.get())
            .bind(CANCELLED_REASON)
            .execute(&mut *c)
            .await?
            .rows_affected() as u32;
        }
        for state in states {
            n += sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE runs SET state = {RUN_QUEUED}, stop_requested = 0, stop_reason = '', attempts = 0, error = '', finished_at = NULL WHERE sweep_id = $1 AND state = $2"
            )))
            .bind(self.sweep.get())
            .bind(state.as_str())
            .execute(&mut *c)
            .await?
            .rows_affected() as u32;
        }
        if n > 0 {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE sweeps SET state = {SWEEP_RUNNING}, finished_at = NULL WHERE id = $1"
            )))
            .bind(self.sweep.get())
            .execute(&mut *c)
            .await?;
        }
        Ok(n)
    }
}
