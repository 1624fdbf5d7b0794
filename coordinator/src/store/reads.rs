//! Read queries: sweeps with progress, leaderboards, one run in full, workers, the blobs
//! in use. They run on
//! the pool beside the writer (WAL), never blocking it, and answer the shared API layer's
//! records.

use std::collections::HashSet;

use sqlx::{AnyPool, Row};

use gptsweep_api::{
    Attempt, DeviceLoad, DisabledDevice, Evaluation, Goal, HyperparamImportance, ImportanceReport,
    LeaderboardRow, LeaseId, MemoryShortfall, MetricName, RunCounts, RunCurves, RunDetail, RunId,
    RunState, Sample, SweepId, SweepSummary, WorkerId, WorkerInfo,
};

use super::states_sql::{RUN_CANCELLED, RUN_QUEUED, RUN_RUNNING};
use super::stored_sweep::{StoredPlan, trials};
use super::{column, progress};
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::sweep::SweepSpec;
use crate::sweep::importance::ped_anova;
use crate::sweep::tpe::Space;

/// Resolves a sweep given by name or numeric id.
pub async fn sweep_id(pool: &AnyPool, sweep: &str) -> Result<SweepId> {
    let by_name: Option<i64> = sqlx::query_scalar("SELECT id FROM sweeps WHERE name = $1")
        .bind(sweep)
        .fetch_optional(pool)
        .await?;
    if let Some(id) = by_name {
        return Ok(SweepId(id));
    }
    if let Ok(id) = sweep.parse::<i64>() {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM sweeps WHERE id = $1")
            .bind(id)
            .fetch_optional(pool)
            .await?;
        if let Some(id) = found {
            return Ok(SweepId(id));
        }
    }
    Err(CoordinatorError::NotFound(format!(
        "no sweep named or numbered {sweep:?}; `gptsweep sweeps` lists them"
    )))
}

/// The stored spec of a sweep.
pub async fn sweep_spec(pool: &AnyPool, id: SweepId) -> Result<SweepSpec> {
    let json: String = sqlx::query_scalar("SELECT spec_json FROM sweeps WHERE id = $1")
        .bind(id.get())
        .fetch_one(pool)
        .await?;
    serde_json::from_str(&json).map_err(|e| {
        CoordinatorError::Invalid(format!("stored spec of sweep {id} is unreadable: {e}"))
    })
}

/// The runs column a metric ranks by: a run's best validation value, or its latest
/// training value ([`MetricName::ranks_by_best`]).
fn metric_column(metric: MetricName) -> &'static str {
    match metric {
        MetricName::TrainLoss => "last_train_loss",
        MetricName::ValLoss => "best_val_loss",
        MetricName::ValBpc => "best_val_bpc",
        MetricName::TrainBpc => "last_train_bpc",
    }
}

/// `ORDER BY` direction of a goal, best first.
fn order(goal: Goal) -> &'static str {
    match goal {
        Goal::Minimize => "ASC",
        Goal::Maximize => "DESC",
    }
}

/// One sweep with its counts and best run.
pub async fn sweep_info(pool: &AnyPool, id: SweepId) -> Result<SweepSummary> {
    let row = sqlx::query(
        "SELECT s.id, s.name, s.state, s.method, s.metric, s.goal, s.spec_json, s.created_at, s.run_cap, d.name AS dname
         FROM sweeps s JOIN datasets d ON d.sha256 = s.dataset_sha256 WHERE s.id = $1",
    )
    .bind(id.get())
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoordinatorError::NotFound(format!("no sweep {id}")))?;
    let mut runs = RunCounts::default();
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM runs WHERE sweep_id = $1 GROUP BY state")
            .bind(id.get())
            .fetch_all(pool)
            .await?;
    for (state, n) in counts {
        *runs.of_mut(column::parse::<RunState>("runs.state", &state)?) = n as u32;
    }
    let metric: MetricName = column::named(&row, "metric")?;
    let goal: Goal = column::named(&row, "goal")?;
    let (col, order) = (metric_column(metric), order(goal));
    // `col` and `order` are chosen from fixed literals above, never from input.
    let best: Option<(i64, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, {col} FROM runs WHERE sweep_id = $1 AND {col} IS NOT NULL ORDER BY {col} {order}, id LIMIT 1"
    )))
    .bind(id.get())
    .fetch_optional(pool)
    .await?;
    let spec: SweepSpec = serde_json::from_str(row.try_get::<&str, _>("spec_json")?)
        .map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
    let evals_stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM evals e JOIN runs r ON r.id = e.run_id WHERE r.sweep_id = $1",
    )
    .bind(id.get())
    .fetch_one(pool)
    .await?;
    // A run that ended early (stopped, failed) will evaluate no more: it counts with the
    // evaluations it made, so that a sweep's progress ends full.
    let hps: Vec<(String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT r.hyperparams_json, r.state, (SELECT COUNT(*) FROM evals e WHERE e.run_id = r.id) FROM runs r WHERE r.sweep_id = $1 AND r.state != {RUN_CANCELLED}"
    )))
    .bind(id.get())
    .fetch_all(pool)
    .await?;
    let proposed = runs.total();
    // Sweeps stored before the column have 0: they made every run at submit.
    let run_cap = (row.try_get::<i64, _>("run_cap")?.max(0) as u32).max(proposed);
    // Runs a tpe sweep has yet to make are counted at the base hyperparameters' length.
    let evals_expected: u64 = hps
        .iter()
        .filter_map(|(h, state, made)| match state.as_str() {
            "stopped" | "failed" => Some(*made as u64),
            _ => serde_json::from_str::<gptsweep_core::Hyperparams>(h)
                .ok()
                .map(|h| h.expected_evals() as u64),
        })
        .sum::<u64>()
        + u64::from(run_cap - proposed) * spec.base.expected_evals() as u64;
    Ok(SweepSummary {
        id,
        name: row.try_get("name")?,
        state: column::named(&row, "state")?,
        method: column::named(&row, "method")?,
        metric,
        goal,
        dataset: row.try_get("dname")?,
        runs,
        best: best.map(|b| b.1),
        best_run: best.map(|b| RunId(b.0)),
        created_at_ms: row.try_get("created_at")?,
        swept: spec.parameters.keys().cloned().collect(),
        evals_stored: evals_stored as u64,
        evals_expected,
        proposed,
        run_cap,
        precision: spec.fixed_precision().unwrap_or_default(),
        description: spec.description,
        tags: spec.tags,
    })
}

/// Every sweep, newest first.
pub async fn list_sweeps(pool: &AnyPool) -> Result<Vec<SweepSummary>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sweeps ORDER BY id DESC")
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match sweep_info(pool, SweepId(id)).await {
            Ok(info) => out.push(info),
            // Deleted since the list was read.
            Err(CoordinatorError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

async fn samples_of(pool: &AnyPool, run: RunId, limit: u32) -> Result<Vec<Sample>> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT prompt, seed, text FROM samples WHERE run_id = $1 ORDER BY idx LIMIT $2",
    )
    .bind(run.get())
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(prompt, seed, text)| Sample {
            prompt,
            seed: seed as u64,
            text,
        })
        .collect())
}

/// The sweep's runs ranked by its metric (runs without a value last), at most `limit`
/// (0 = all), each with up to `samples` samples.
pub async fn top(
    pool: &AnyPool,
    sweep: SweepId,
    limit: u32,
    samples: u32,
) -> Result<gptsweep_api::Leaderboard> {
    let info = sweep_info(pool, sweep).await?;
    let (col, order) = (metric_column(info.metric), order(info.goal));
    let (live, joins) = (progress::COLUMNS, progress::JOINS);
    let sql = format!(
        "SELECT r.id, r.state, r.swept_json, r.best_val_loss, r.best_val_bpc, r.best_step, r.last_train_loss, r.last_step, r.num_params, r.tokens_per_sec, r.train_secs, r.name, r.note, r.finished_at, {live}
         FROM runs r {joins} WHERE r.sweep_id = $1 ORDER BY r.{col} IS NULL, r.{col} {order}, r.id LIMIT $2"
    );
    let now = now_ms();
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(sweep.get())
        .bind(if limit == 0 { i64::MAX } else { limit as i64 })
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        let run = RunId(r.try_get("id")?);
        out.push(LeaderboardRow {
            rank: i as u32 + 1,
            run,
            state: column::named(&r, "state")?,
            params: column::object(&r, "swept_json")?,
            best_val_loss: r.try_get("best_val_loss")?,
            best_val_bpc: r.try_get("best_val_bpc")?,
            best_step: r.try_get::<Option<i64>, _>("best_step")?.map(|s| s as u64),
            last_train_loss: r.try_get("last_train_loss")?,
            steps: r.try_get::<i64, _>("last_step")? as u64,
            num_params: r.try_get::<i64, _>("num_params")? as u64,
            tokens_per_sec: r.try_get("tokens_per_sec")?,
            train_secs: r.try_get("train_secs")?,
            samples: if samples > 0 {
                samples_of(pool, run, samples).await?
            } else {
                Vec::new()
            },
            progress: progress::of(&r, now)?,
            name: r.try_get("name")?,
            note: r.try_get("note")?,
            finished_at_ms: r.try_get("finished_at")?,
        });
    }
    Ok(gptsweep_api::Leaderboard {
        sweep: info,
        rows: out,
    })
}

/// Everything about one run.
pub async fn run_detail(pool: &AnyPool, run: RunId) -> Result<RunDetail> {
    let (live, joins) = (progress::COLUMNS, progress::JOINS);
    let r = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, s.name, r.state, r.hyperparams_json, r.swept_json, r.error, r.num_params, r.name AS run_name, r.note, {live} FROM runs r JOIN sweeps s ON s.id = r.sweep_id {joins} WHERE r.id = $1",
    )))
    .bind(run.get())
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoordinatorError::NotFound(format!("no run {run}")))?;
    let evals: Vec<(i64, f64, f64, f64, f64, f64, f64)> =
        sqlx::query_as("SELECT step, train_loss, val_loss, train_bpc, val_bpc, tokens_per_sec, train_secs FROM evals WHERE run_id = $1 ORDER BY step").bind(run.get()).fetch_all(pool).await?;
    let attempt_rows = sqlx::query(
        "SELECT a.id, w.name, w.id AS wid, a.device, a.state, a.reason, a.started_at, a.ended_at, a.resumed_from FROM attempts a JOIN workers w ON w.id = a.worker_id WHERE a.run_id = $1 ORDER BY a.id",
    )
    .bind(run.get())
    .fetch_all(pool)
    .await?;
    let mut attempts = Vec::with_capacity(attempt_rows.len());
    for a in attempt_rows {
        attempts.push(Attempt {
            lease: LeaseId(a.try_get("id")?),
            worker: format!(
                "{}#{}",
                a.try_get::<String, _>("name")?,
                a.try_get::<i64, _>("wid")?
            ),
            device: a.try_get("device")?,
            state: column::named(&a, "state")?,
            reason: a.try_get("reason")?,
            started_at_ms: a.try_get("started_at")?,
            ended_at_ms: a.try_get("ended_at")?,
            resumed_from: a.try_get::<i64, _>("resumed_from")? as u64,
        });
    }
    Ok(RunDetail {
        run,
        sweep: r.try_get("name")?,
        state: column::named(&r, "state")?,
        hyperparams: column::object(&r, "hyperparams_json")?,
        swept: column::object(&r, "swept_json")?,
        evals: evals
            .into_iter()
            .map(|(step, tl, vl, tb, vb, tps, secs)| Evaluation {
                step: step as u64,
                train_loss: tl as f32,
                val_loss: vl as f32,
                train_bpc: tb as f32,
                val_bpc: vb as f32,
                tokens_per_sec: tps,
                train_secs: secs,
            })
            .collect(),
        samples: samples_of(pool, run, u32::MAX).await?,
        attempts,
        error: r.try_get("error")?,
        num_params: r.try_get::<i64, _>("num_params")? as u64,
        progress: progress::of(&r, now_ms())?,
        name: r.try_get("run_name")?,
        note: r.try_get("note")?,
    })
}

/// The loss curves of every run of a sweep that has reported, by run id.
pub async fn sweep_curves(pool: &AnyPool, sweep: SweepId) -> Result<Vec<RunCurves>> {
    let runs = sqlx::query(
        "SELECT id, state, swept_json FROM runs WHERE sweep_id = $1 AND last_step > 0 ORDER BY id",
    )
    .bind(sweep.get())
    .fetch_all(pool)
    .await?;
    let mut out = Vec::with_capacity(runs.len());
    let mut index = std::collections::HashMap::with_capacity(runs.len());
    for r in runs {
        let run = RunId(r.try_get("id")?);
        index.insert(run, out.len());
        out.push(RunCurves {
            run,
            state: column::named(&r, "state")?,
            params: column::object(&r, "swept_json")?,
            steps: Vec::new(),
            train_loss: Vec::new(),
            val_loss: Vec::new(),
        });
    }
    let evals: Vec<(i64, i64, f64, f64)> = sqlx::query_as(
        "SELECT e.run_id, e.step, e.train_loss, e.val_loss FROM evals e JOIN runs r ON r.id = e.run_id
         WHERE r.sweep_id = $1 ORDER BY e.run_id, e.step",
    )
    .bind(sweep.get())
    .fetch_all(pool)
    .await?;
    for (run, step, train, val) in evals {
        // A run that reported after the first query is left for the next read.
        if let Some(c) = index.get(&RunId(run)).map(|&i| &mut out[i]) {
            c.steps.push(step as u64);
            c.train_loss.push(train as f32);
            c.val_loss.push(val as f32);
        }
    }
    Ok(out)
}

/// Every worker with the runs it holds; alive when it called at or after `alive_since_ms`.
pub async fn workers(pool: &AnyPool, alive_since_ms: i64) -> Result<Vec<WorkerInfo>> {
    let rows = sqlx::query(
        "SELECT id, name, devices_json, last_seen, left_reason, disabled_json, device_memory_json FROM workers ORDER BY id",
    )
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for w in rows {
        let id: i64 = w.try_get("id")?;
        let running: Vec<(i64, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT r.id, a.device, r.memory_bytes FROM runs r JOIN attempts a ON a.id = r.lease_id WHERE a.worker_id = $1 AND r.state = {RUN_RUNNING} ORDER BY r.id")))
            .bind(id)
            .fetch_all(pool)
            .await?;
        let devices: Vec<String> =
            serde_json::from_str(w.try_get::<&str, _>("devices_json")?).unwrap_or_default();
        let memory: std::collections::BTreeMap<String, u64> =
            serde_json::from_str(w.try_get::<&str, _>("device_memory_json")?).unwrap_or_default();
        let loads = devices
            .iter()
            .map(|d| {
                let on: Vec<&(i64, String, i64)> =
                    running.iter().filter(|(_, dev, _)| dev == d).collect();
                DeviceLoad {
                    device: d.clone(),
                    memory_bytes: memory.get(d).copied().unwrap_or(0),
                    used_bytes: on.iter().map(|(_, _, m)| *m as u64).sum(),
                    runs: on.iter().map(|(r, _, _)| RunId(*r)).collect(),
                }
            })
            .collect();
        let last_seen_ms: i64 = w.try_get("last_seen")?;
        let left: Option<String> = w.try_get("left_reason")?;
        let disabled: std::collections::BTreeMap<String, String> =
            serde_json::from_str(w.try_get::<&str, _>("disabled_json")?).unwrap_or_default();
        out.push(WorkerInfo {
            id: WorkerId(id),
            name: w.try_get("name")?,
            devices,
            last_seen_ms,
            running: running.into_iter().map(|(r, _, _)| RunId(r)).collect(),
            alive: left.is_none() && last_seen_ms >= alive_since_ms,
            left,
            disabled: disabled
                .into_iter()
                .map(|(device, reason)| DisabledDevice { device, reason })
                .collect(),
            loads,
        });
    }
    Ok(out)
}

/// The queued runs of `sweep` that no live worker's device (one that called at or after
/// `alive_since_ms`, not disabled) has the memory for: a lease never hands them to such a
/// device. `None` when there are none, when no worker is live (the sweep then waits for
/// workers, whatever their size), or when a live device's memory is unknown (it takes any
/// run).
pub async fn memory_shortfall(
    pool: &AnyPool,
    sweep: SweepId,
    alive_since_ms: i64,
) -> Result<Option<MemoryShortfall>> {
    let workers: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT devices_json, disabled_json, device_memory_json FROM workers
         WHERE left_reason IS NULL AND last_seen >= $1",
    )
    .bind(alive_since_ms)
    .fetch_all(pool)
    .await?;
    let mut largest: Option<u64> = None;
    for (devices, disabled, memory) in workers {
        let devices: Vec<String> = serde_json::from_str(&devices).unwrap_or_default();
        let disabled: std::collections::BTreeMap<String, String> =
            serde_json::from_str(&disabled).unwrap_or_default();
        let memory: std::collections::BTreeMap<String, u64> =
            serde_json::from_str(&memory).unwrap_or_default();
        for device in devices.iter().filter(|d| !disabled.contains_key(*d)) {
            match memory.get(device) {
                Some(&m) if m > 0 => largest = Some(largest.unwrap_or(0).max(m)),
                _ => return Ok(None),
            }
        }
    }
    let Some(largest) = largest else {
        return Ok(None);
    };
    let (runs, needs): (i64, Option<i64>) = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*), MIN(memory_bytes) FROM runs
         WHERE sweep_id = $1 AND state = {RUN_QUEUED} AND memory_bytes > $2"
    )))
    .bind(sweep.get())
    .bind(i64::try_from(largest).unwrap_or(i64::MAX))
    .fetch_one(pool)
    .await?;
    Ok((runs > 0).then(|| MemoryShortfall {
        runs: u32::try_from(runs).unwrap_or(u32::MAX),
        needs_bytes: needs.unwrap_or(0).max(0) as u64,
        largest_device_bytes: largest,
    }))
}

/// What [`checkpoint_for_lease`] reads of a run: its lease, latest checkpoint (sha256,
/// step) and the lease's worker.
type LeaseCheckpoint = (Option<i64>, Option<String>, i64, Option<i64>);

/// The latest checkpoint of `run` (sha256, step), if `lease` holds the run and is
/// `worker`'s: PERMISSION_DENIED when the lease is another worker's.
pub async fn checkpoint_for_lease(
    pool: &AnyPool,
    run: RunId,
    lease: LeaseId,
    worker: WorkerId,
) -> Result<Option<(String, u64)>> {
    let row: Option<LeaseCheckpoint> = sqlx::query_as(
        "SELECT r.lease_id, r.checkpoint_sha256, r.checkpoint_step, a.worker_id FROM runs r LEFT JOIN attempts a ON a.id = r.lease_id WHERE r.id = $1",
    )
    .bind(run.get())
    .fetch_optional(pool)
    .await?;
    match row {
        Some((Some(holder), _, _, holder_worker))
            if holder == lease.get() && holder_worker != Some(worker.get()) =>
        {
            Err(CoordinatorError::Forbidden(format!(
                "lease {lease} of run {run} is not held by worker {worker}"
            )))
        }
        Some((Some(holder), sha, step, _)) if holder == lease.get() => {
            Ok(sha.map(|s| (s, step as u64)))
        }
        _ => Err(CoordinatorError::LeaseLost(format!(
            "lease {lease} does not hold run {run}"
        ))),
    }
}

/// Every worker's key, as stored (the sha256 of its secret, hex); workers registered
/// before keys existed have none and are left out.
pub async fn worker_keys(pool: &AnyPool) -> Result<Vec<(WorkerId, String)>> {
    let rows: Vec<(i64, String)> =
        sqlx::query_as("SELECT id, key_sha256 FROM workers WHERE key_sha256 IS NOT NULL")
            .fetch_all(pool)
            .await?;
    Ok(rows.into_iter().map(|(id, k)| (WorkerId(id), k)).collect())
}

/// The latest checkpoint of `run` (blob and step), for a client; NotFound, saying why,
/// when it has none.
pub async fn run_checkpoint(pool: &AnyPool, run: RunId) -> Result<(String, u64)> {
    let row: Option<(String, Option<String>, i64)> =
        sqlx::query_as("SELECT state, checkpoint_sha256, checkpoint_step FROM runs WHERE id = $1")
            .bind(run.get())
            .fetch_optional(pool)
            .await?;
    let (state, sha, step) =
        row.ok_or_else(|| CoordinatorError::NotFound(format!("no run {run}")))?;
    sha.map(|s| (s, step as u64)).ok_or_else(|| {
        CoordinatorError::NotFound(match state.as_str() {
            "queued" => format!("run {run} is queued: it has no checkpoint yet"),
            "running" => format!(
                "run {run} is running and has not written its first checkpoint (at its first evaluation) yet"
            ),
            other => format!("run {run} ({other}) ended before its first checkpoint"),
        })
    })
}

/// Name and builtin flag of a stored dataset.
pub async fn dataset(pool: &AnyPool, sha256: &str) -> Result<Option<(String, bool)>> {
    let row: Option<(String, i64)> =
        sqlx::query_as("SELECT name, builtin FROM datasets WHERE sha256 = $1")
            .bind(sha256)
            .fetch_optional(pool)
            .await?;
    Ok(row.map(|(name, builtin)| (name, builtin != 0)))
}

/// Bytes of the uploaded datasets that no sweep uses, but `except` (a sha256; "" for
/// none): what counts against the upload quota.
pub async fn unused_dataset_bytes(pool: &AnyPool, except: &str) -> Result<u64> {
    let bytes: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(bytes), 0) AS BIGINT) FROM datasets
          WHERE builtin = 0 AND sha256 <> $1
            AND NOT EXISTS (SELECT 1 FROM sweeps WHERE sweeps.dataset_sha256 = datasets.sha256)",
    )
    .bind(except)
    .fetch_one(pool)
    .await?;
    Ok(bytes.max(0) as u64)
}

/// Whether some sweep uses the dataset `sha256`.
pub async fn dataset_in_use(pool: &AnyPool, sha256: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT 1 FROM sweeps WHERE dataset_sha256 = $1 LIMIT 1")
            .bind(sha256)
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

/// The blobs the database refers to: uploaded datasets' and runs' checkpoints' sha256s.
pub async fn blob_refs(pool: &AnyPool) -> Result<(HashSet<String>, HashSet<String>)> {
    let datasets = sqlx::query_scalar("SELECT sha256 FROM datasets WHERE builtin = 0")
        .fetch_all(pool)
        .await?;
    let checkpoints = sqlx::query_scalar(
        "SELECT DISTINCT checkpoint_sha256 FROM runs WHERE checkpoint_sha256 IS NOT NULL",
    )
    .fetch_all(pool)
    .await?;
    Ok((
        datasets.into_iter().collect(),
        checkpoints.into_iter().collect(),
    ))
}

/// Whether some run's latest checkpoint is the blob `sha256`.
pub async fn checkpoint_in_use(pool: &AnyPool, sha256: &str) -> Result<bool> {
    Ok(
        sqlx::query_scalar::<_, i64>("SELECT 1 FROM runs WHERE checkpoint_sha256 = $1 LIMIT 1")
            .bind(sha256)
            .fetch_optional(pool)
            .await?
            .is_some(),
    )
}

/// Which swept hyperparameters mattered in sweep `id` ([`crate::sweep::importance`]); an
/// `Invalid` error says why there is nothing to measure yet.
pub async fn importance(pool: &AnyPool, id: SweepId) -> Result<ImportanceReport> {
    let mut c = pool.acquire().await?;
    let plan = StoredPlan::read(&mut c, id.get()).await?;
    let (_, trials) = trials(&mut c, id.get(), plan.metric).await?;
    let spec = &plan.spec;
    let imp = ped_anova(
        &Space::of(&spec.parameters),
        &trials,
        &spec.rungs(),
        spec.metric.goal,
    )
    .map_err(|why| CoordinatorError::Invalid(format!("importance of {}: {why}", spec.name)))?;
    Ok(ImportanceReport {
        sweep: spec.name.clone(),
        metric: plan.metric,
        budget: imp.budget.to_string(),
        results: imp.results as u32,
        top: imp.top as u32,
        params: imp
            .params
            .into_iter()
            .map(|p| HyperparamImportance {
                name: p.name,
                importance: p.share,
                divergence: p.divergence,
                top_values: p.top_values,
                spread: Some(p.spread),
            })
            .collect(),
    })
}
