//! Read queries: sweeps with progress, leaderboards, one run in full, workers. They run on
//! the pool beside the writer (WAL), never blocking it.

use sqlx::{Row, SqlitePool};

use super::records::{
    AttemptInfo, RunCounts, RunDetail, RunInfo, StoredSample, SweepInfo, WorkerRecord,
};
use crate::error::{CoordinatorError, Result};
use crate::sweep::SweepSpec;
use gptsweep_gpt::Eval;

/// Resolves a sweep given by name or numeric id.
pub async fn sweep_id(pool: &SqlitePool, sweep: &str) -> Result<i64> {
    let by_name: Option<i64> = sqlx::query_scalar("SELECT id FROM sweeps WHERE name = ?")
        .bind(sweep)
        .fetch_optional(pool)
        .await?;
    if let Some(id) = by_name {
        return Ok(id);
    }
    if let Ok(id) = sweep.parse::<i64>() {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM sweeps WHERE id = ?")
            .bind(id)
            .fetch_optional(pool)
            .await?;
        if let Some(id) = found {
            return Ok(id);
        }
    }
    Err(CoordinatorError::NotFound(format!(
        "no sweep named or numbered {sweep:?}; `gptsweep sweeps` lists them"
    )))
}

/// The stored spec of a sweep.
pub async fn sweep_spec(pool: &SqlitePool, id: i64) -> Result<SweepSpec> {
    let json: String = sqlx::query_scalar("SELECT spec_json FROM sweeps WHERE id = ?")
        .bind(id)
        .fetch_one(pool)
        .await?;
    serde_json::from_str(&json).map_err(|e| {
        CoordinatorError::Invalid(format!("stored spec of sweep {id} is unreadable: {e}"))
    })
}

fn metric_column(metric: &str) -> &'static str {
    if metric == "train_loss" {
        "last_train_loss"
    } else {
        "best_val_loss"
    }
}

/// One sweep with its counts and best run.
pub async fn sweep_info(pool: &SqlitePool, id: i64) -> Result<SweepInfo> {
    let row = sqlx::query(
        "SELECT s.id, s.name, s.state, s.method, s.metric, s.goal, s.spec_json, s.created_at, d.name AS dname
         FROM sweeps s JOIN datasets d ON d.sha256 = s.dataset_sha256 WHERE s.id = ?",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let mut runs = RunCounts::default();
    let counts: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM runs WHERE sweep_id = ? GROUP BY state")
            .bind(id)
            .fetch_all(pool)
            .await?;
    for (state, n) in counts {
        let n = n as u32;
        match state.as_str() {
            "queued" => runs.queued = n,
            "running" => runs.running = n,
            "finished" => runs.finished = n,
            "failed" => runs.failed = n,
            "stopped" => runs.stopped = n,
            _ => runs.cancelled = n,
        }
    }
    let metric: String = row.get("metric");
    let goal: String = row.get("goal");
    let col = metric_column(&metric);
    let order = if goal == "maximize" { "DESC" } else { "ASC" };
    let best: Option<(i64, f64)> = // `col` and `order` are chosen from fixed literals above, never from input.
    sqlx::query_as(sqlx::AssertSqlSafe(format!("SELECT id, {col} FROM runs WHERE sweep_id = ? AND {col} IS NOT NULL ORDER BY {col} {order}, id LIMIT 1")))
        .bind(id)
        .fetch_optional(pool)
        .await?;
    let spec: SweepSpec = serde_json::from_str(row.get::<&str, _>("spec_json"))
        .map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
    let evals_stored: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM evals e JOIN runs r ON r.id = e.run_id WHERE r.sweep_id = ?",
    )
    .bind(id)
    .fetch_one(pool)
    .await?;
    let hps: Vec<String> = sqlx::query_scalar(
        "SELECT hyperparams_json FROM runs WHERE sweep_id = ? AND state != 'cancelled'",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let evals_expected: u64 = hps
        .iter()
        .filter_map(|h| serde_json::from_str::<gptsweep_gpt::Hyperparams>(h).ok())
        .map(|h| h.expected_evals() as u64)
        .sum();
    Ok(SweepInfo {
        id,
        name: row.get("name"),
        state: row.get("state"),
        method: row.get("method"),
        metric,
        goal,
        dataset: row.get("dname"),
        runs,
        best: best.map(|b| b.1),
        best_run: best.map(|b| b.0),
        created_at_ms: row.get("created_at"),
        swept: spec.parameters.keys().cloned().collect(),
        evals_stored: evals_stored as u64,
        evals_expected,
    })
}

/// Every sweep, newest first.
pub async fn list_sweeps(pool: &SqlitePool) -> Result<Vec<SweepInfo>> {
    let ids: Vec<i64> = sqlx::query_scalar("SELECT id FROM sweeps ORDER BY id DESC")
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        out.push(sweep_info(pool, id).await?);
    }
    Ok(out)
}

async fn samples_of(pool: &SqlitePool, run_id: i64, limit: u32) -> Result<Vec<StoredSample>> {
    let rows: Vec<(String, i64, String)> = sqlx::query_as(
        "SELECT prompt, seed, text FROM samples WHERE run_id = ? ORDER BY idx LIMIT ?",
    )
    .bind(run_id)
    .bind(limit as i64)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(prompt, seed, text)| StoredSample {
            prompt,
            seed: seed as u64,
            text,
        })
        .collect())
}

/// The sweep's runs ranked by its metric (runs without a value last), at most `limit`
/// (0 = all), each with up to `samples` samples.
pub async fn top(
    pool: &SqlitePool,
    sweep_id: i64,
    limit: u32,
    samples: u32,
) -> Result<(SweepInfo, Vec<RunInfo>)> {
    let info = sweep_info(pool, sweep_id).await?;
    let col = metric_column(&info.metric);
    let order = if info.goal == "maximize" {
        "DESC"
    } else {
        "ASC"
    };
    let sql = format!(
        "SELECT id, state, swept_json, best_val_loss, best_step, last_train_loss, last_step, num_params, tokens_per_sec, train_secs
         FROM runs WHERE sweep_id = ? ORDER BY {col} IS NULL, {col} {order}, id LIMIT ?"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(sweep_id)
        .bind(if limit == 0 { -1 } else { limit as i64 })
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (i, r) in rows.into_iter().enumerate() {
        let run_id: i64 = r.get("id");
        out.push(RunInfo {
            rank: i as u32 + 1,
            run_id,
            state: r.get("state"),
            swept: serde_json::from_str(r.get::<&str, _>("swept_json")).unwrap_or_default(),
            best_val_loss: r.get("best_val_loss"),
            best_step: r.get::<Option<i64>, _>("best_step").map(|s| s as u64),
            last_train_loss: r.get("last_train_loss"),
            steps: r.get::<i64, _>("last_step") as u64,
            num_params: r.get::<i64, _>("num_params") as u64,
            tokens_per_sec: r.get("tokens_per_sec"),
            train_secs: r.get("train_secs"),
            samples: if samples > 0 {
                samples_of(pool, run_id, samples).await?
            } else {
                Vec::new()
            },
        });
    }
    Ok((info, out))
}

/// Everything about one run.
pub async fn run_detail(pool: &SqlitePool, run_id: i64) -> Result<RunDetail> {
    let r = sqlx::query(
        "SELECT r.id, s.name, r.state, r.hyperparams_json, r.swept_json, r.error, r.num_params FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE r.id = ?",
    )
    .bind(run_id)
    .fetch_optional(pool)
    .await?
    .ok_or_else(|| CoordinatorError::NotFound(format!("no run {run_id}")))?;
    let evals: Vec<(i64, f64, f64, f64, f64)> =
        sqlx::query_as("SELECT step, train_loss, val_loss, tokens_per_sec, train_secs FROM evals WHERE run_id = ? ORDER BY step").bind(run_id).fetch_all(pool).await?;
    let attempts = sqlx::query(
        "SELECT a.id, w.name, w.id AS wid, a.device, a.state, a.reason, a.started_at, a.ended_at, a.resumed_from FROM attempts a JOIN workers w ON w.id = a.worker_id WHERE a.run_id = ? ORDER BY a.id",
    )
    .bind(run_id)
    .fetch_all(pool)
    .await?;
    Ok(RunDetail {
        run_id,
        sweep: r.get("name"),
        state: r.get("state"),
        hyperparams: serde_json::from_str(r.get::<&str, _>("hyperparams_json")).unwrap_or_default(),
        swept: serde_json::from_str(r.get::<&str, _>("swept_json")).unwrap_or_default(),
        evals: evals
            .into_iter()
            .map(|(step, tl, vl, tps, secs)| Eval {
                step: step as usize,
                train_loss: tl as f32,
                val_loss: vl as f32,
                tokens_per_sec: tps,
                train_secs: secs,
            })
            .collect(),
        samples: samples_of(pool, run_id, u32::MAX).await?,
        attempts: attempts
            .into_iter()
            .map(|a| AttemptInfo {
                lease_id: a.get("id"),
                worker: format!("{}#{}", a.get::<String, _>("name"), a.get::<i64, _>("wid")),
                device: a.get("device"),
                state: a.get("state"),
                reason: a.get("reason"),
                started_at_ms: a.get("started_at"),
                ended_at_ms: a.get("ended_at"),
                resumed_from: a.get::<i64, _>("resumed_from") as u64,
            })
            .collect(),
        error: r.get("error"),
        num_params: r.get::<i64, _>("num_params") as u64,
    })
}

/// Every worker with the runs it holds.
pub async fn workers(pool: &SqlitePool) -> Result<Vec<WorkerRecord>> {
    let rows = sqlx::query("SELECT id, name, devices_json, last_seen FROM workers ORDER BY id")
        .fetch_all(pool)
        .await?;
    let mut out = Vec::with_capacity(rows.len());
    for w in rows {
        let id: i64 = w.get("id");
        let running: Vec<i64> = sqlx::query_scalar("SELECT r.id FROM runs r JOIN attempts a ON a.id = r.lease_id WHERE a.worker_id = ? AND r.state = 'running' ORDER BY r.id")
            .bind(id)
            .fetch_all(pool)
            .await?;
        out.push(WorkerRecord {
            id,
            name: w.get("name"),
            devices: serde_json::from_str(w.get::<&str, _>("devices_json")).unwrap_or_default(),
            last_seen_ms: w.get("last_seen"),
            running,
        });
    }
    Ok(out)
}

/// The latest checkpoint of `run_id` (sha256, step), if `lease_id` holds the run.
pub async fn checkpoint_for_lease(
    pool: &SqlitePool,
    run_id: i64,
    lease_id: i64,
) -> Result<Option<(String, u64)>> {
    let row: Option<(Option<i64>, Option<String>, i64)> = sqlx::query_as(
        "SELECT lease_id, checkpoint_sha256, checkpoint_step FROM runs WHERE id = ?",
    )
    .bind(run_id)
    .fetch_optional(pool)
    .await?;
    match row {
        Some((Some(holder), sha, step)) if holder == lease_id => Ok(sha.map(|s| (s, step as u64))),
        _ => Err(CoordinatorError::LeaseLost(format!(
            "lease {lease_id} does not hold run {run_id}"
        ))),
    }
}

/// Size and builtin flag of a stored dataset.
pub async fn dataset(pool: &SqlitePool, sha256: &str) -> Result<Option<(String, bool)>> {
    Ok(
        sqlx::query_as("SELECT name, builtin FROM datasets WHERE sha256 = ?")
            .bind(sha256)
            .fetch_optional(pool)
            .await?,
    )
}
