//! The write operations, each run by the writer inside its own savepoint.

use sqlx::{Row, SqliteConnection};

use super::records::{Directive, LeasedRun, Outcome, StoredSample};
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::sweep::{PlannedRun, SweepSpec};
use gptsweep_gpt::Eval;

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
    /// Planned runs, with their parameter counts.
    pub runs: Vec<(PlannedRun, u64)>,
}

pub async fn insert_dataset(
    c: &mut SqliteConnection,
    sha256: &str,
    name: &str,
    bytes: u64,
    builtin: bool,
) -> Result<()> {
    sqlx::query("INSERT INTO datasets (sha256, name, bytes, builtin, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING")
        .bind(sha256)
        .bind(name)
        .bind(bytes as i64)
        .bind(builtin)
        .bind(now_ms())
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn create_sweep(c: &mut SqliteConnection, s: &NewSweep) -> Result<i64> {
    let taken: Option<i64> = sqlx::query_scalar("SELECT id FROM sweeps WHERE name = ?")
        .bind(&s.spec.name)
        .fetch_optional(&mut *c)
        .await?;
    if let Some(id) = taken {
        return Err(CoordinatorError::AlreadyExists(format!(
            "{}: a sweep named {:?} already exists (id {id}); set another `name:` in the file",
            s.file_name, s.spec.name
        )));
    }
    let now = now_ms();
    let spec_json = serde_json::to_string(&s.spec).expect("spec serialises");
    let method = serde_json::to_value(s.spec.method)
        .expect("serialises")
        .as_str()
        .unwrap_or_default()
        .to_string();
    let goal = serde_json::to_value(s.spec.metric.goal)
        .expect("serialises")
        .as_str()
        .unwrap_or_default()
        .to_string();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO sweeps (name, file_name, yaml, spec_json, method, metric, goal, dataset_sha256, state, created_at, early_min_iter, early_eta)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?) RETURNING id",
    )
    .bind(&s.spec.name)
    .bind(&s.file_name)
    .bind(&s.yaml)
    .bind(spec_json)
    .bind(method)
    .bind(&s.spec.metric.name)
    .bind(goal)
    .bind(&s.dataset_sha256)
    .bind(now)
    .bind(s.spec.early_terminate.map(|e| e.min_iter as i64))
    .bind(s.spec.early_terminate.map(|e| e.eta as i64))
    .fetch_one(&mut *c)
    .await?;
    for (run, params) in &s.runs {
        sqlx::query(
            "INSERT INTO runs (sweep_id, idx, hyperparams_json, swept_json, state, num_params, created_at) VALUES (?, ?, ?, ?, 'queued', ?, ?)",
        )
        .bind(id)
        .bind(run.index as i64)
        .bind(serde_json::to_string(&run.hyperparams).expect("serialises"))
        .bind(serde_json::to_string(&run.swept).expect("serialises"))
        .bind(*params as i64)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    Ok(id)
}

pub async fn register_worker(
    c: &mut SqliteConnection,
    name: &str,
    devices: &[String],
) -> Result<i64> {
    let now = now_ms();
    Ok(sqlx::query_scalar("INSERT INTO workers (name, devices_json, registered_at, last_seen) VALUES (?, ?, ?, ?) RETURNING id")
        .bind(name)
        .bind(serde_json::to_string(devices).expect("serialises"))
        .bind(now)
        .bind(now)
        .fetch_one(&mut *c)
        .await?)
}

async fn touch_worker(c: &mut SqliteConnection, worker_id: i64) -> Result<()> {
    sqlx::query("UPDATE workers SET last_seen = ? WHERE id = ?")
        .bind(now_ms())
        .bind(worker_id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

pub async fn lease(
    c: &mut SqliteConnection,
    worker_id: i64,
    device: &str,
    lease_ms: i64,
) -> Result<Option<LeasedRun>> {
    let known: Option<i64> = sqlx::query_scalar("SELECT id FROM workers WHERE id = ?")
        .bind(worker_id)
        .fetch_optional(&mut *c)
        .await?;
    if known.is_none() {
        return Err(CoordinatorError::NotFound(format!(
            "worker {worker_id} is not registered; register again"
        )));
    }
    touch_worker(c, worker_id).await?;
    let row = sqlx::query(
        "SELECT r.id, r.hyperparams_json, r.attempts, r.checkpoint_step, s.name, s.spec_json, s.dataset_sha256, d.name AS dname, d.builtin
         FROM runs r JOIN sweeps s ON s.id = r.sweep_id JOIN datasets d ON d.sha256 = s.dataset_sha256
         WHERE r.state = 'queued' AND s.state = 'running'
         ORDER BY s.id, r.idx LIMIT 1",
    )
    .fetch_optional(&mut *c)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let run_id: i64 = row.get("id");
    let now = now_ms();
    let resume_step: i64 = row.get("checkpoint_step");
    let lease_id: i64 = sqlx::query_scalar(
        "INSERT INTO attempts (run_id, worker_id, device, state, started_at, resumed_from) VALUES (?, ?, ?, 'running', ?, ?) RETURNING id",
    )
        .bind(run_id)
        .bind(worker_id)
        .bind(device)
        .bind(now)
        .bind(resume_step)
        .fetch_one(&mut *c)
        .await?;
    let updated = sqlx::query("UPDATE runs SET state = 'running', attempts = attempts + 1, lease_id = ?, lease_expires_at = ? WHERE id = ? AND state = 'queued'")
        .bind(lease_id)
        .bind(now + lease_ms)
        .bind(run_id)
        .execute(&mut *c)
        .await?;
    debug_assert_eq!(updated.rows_affected(), 1);
    let spec: serde_json::Value =
        serde_json::from_str(row.get::<&str, _>("spec_json")).unwrap_or_default();
    Ok(Some(LeasedRun {
        run_id,
        lease_id,
        sweep: row.get("name"),
        hyperparams_json: row.get("hyperparams_json"),
        dataset_name: row.get("dname"),
        dataset_sha256: row.get("dataset_sha256"),
        dataset_builtin: row.get("builtin"),
        samples_json: spec
            .get("samples")
            .map(|s| s.to_string())
            .unwrap_or_default(),
        attempt: row.get::<i64, _>("attempts") as u32 + 1,
        resume_step: resume_step as u64,
    }))
}

/// Checks that `lease_id` still holds `run_id`, renews it, and answers the directive and
/// whether the run's sweep uses early termination (read here, with the run, so that a
/// report to a sweep without it costs no further query).
async fn renew(
    c: &mut SqliteConnection,
    run_id: i64,
    lease_id: i64,
    lease_ms: i64,
) -> Result<(Directive, bool)> {
    let row = sqlx::query("SELECT r.lease_id, r.state, r.stop_requested, r.stop_reason, a.worker_id, s.early_min_iter IS NOT NULL AS early FROM runs r JOIN sweeps s ON s.id = r.sweep_id LEFT JOIN attempts a ON a.id = r.lease_id WHERE r.id = ?")
        .bind(run_id)
        .fetch_optional(&mut *c)
        .await?
        .ok_or_else(|| CoordinatorError::NotFound(format!("run {run_id} does not exist")))?;
    let holder: Option<i64> = row.get("lease_id");
    let state: String = row.get("state");
    if holder != Some(lease_id) || state != "running" {
        return Err(CoordinatorError::LeaseLost(format!(
            "lease {lease_id} no longer holds run {run_id} (the run is {state}); drop it"
        )));
    }
    sqlx::query("UPDATE runs SET lease_expires_at = ? WHERE id = ?")
        .bind(now_ms() + lease_ms)
        .bind(run_id)
        .execute(&mut *c)
        .await?;
    if let Some(w) = row.get::<Option<i64>, _>("worker_id") {
        touch_worker(c, w).await?;
    }
    let directive = if row.get::<bool, _>("stop_requested") {
        Directive::Stop(row.get("stop_reason"))
    } else {
        Directive::Continue
    };
    Ok((directive, row.get("early")))
}

pub async fn report(
    c: &mut SqliteConnection,
    run_id: i64,
    lease_id: i64,
    evals: &[Eval],
    lease_ms: i64,
) -> Result<Directive> {
    let (directive, early) = renew(c, run_id, lease_id, lease_ms).await?;
    let now = now_ms();
    for e in evals {
        sqlx::query(
            "INSERT INTO evals (run_id, step, train_loss, val_loss, tokens_per_sec, train_secs, attempt_id, recorded_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(run_id, step) DO NOTHING",
        )
        .bind(run_id)
        .bind(e.step as i64)
        .bind(e.train_loss as f64)
        .bind(e.val_loss as f64)
        .bind(e.tokens_per_sec)
        .bind(e.train_secs)
        .bind(lease_id)
        .bind(now)
        .execute(&mut *c)
        .await?;
    }
    if let Some(last) = evals.iter().max_by_key(|e| e.step) {
        sqlx::query(
            "UPDATE runs SET
               best_step = CASE WHEN best_val_loss IS NULL OR ? < best_val_loss THEN ? ELSE best_step END,
               best_val_loss = (SELECT MIN(val_loss) FROM evals WHERE run_id = ?),
               last_train_loss = ?, last_step = MAX(last_step, ?), tokens_per_sec = ?, train_secs = ?
             WHERE id = ?",
        )
        .bind(evals.iter().map(|e| e.val_loss as f64).fold(f64::INFINITY, f64::min))
        .bind(evals.iter().min_by(|a, b| a.val_loss.total_cmp(&b.val_loss)).map(|e| e.step as i64))
        .bind(run_id)
        .bind(last.train_loss as f64)
        .bind(last.step as i64)
        .bind(last.tokens_per_sec)
        .bind(last.train_secs)
        .bind(run_id)
        .execute(&mut *c)
        .await?;
    }
    if directive != Directive::Continue || !early {
        return Ok(directive);
    }
    super::rungs::judge(c, run_id, evals).await
}

/// Records `sha256` as the run's latest checkpoint if it is newer than the stored one;
/// answers the blob that is no longer referenced (the old one, or this one if stale).
pub async fn set_checkpoint(
    c: &mut SqliteConnection,
    run_id: i64,
    lease_id: i64,
    sha256: &str,
    step: u64,
    lease_ms: i64,
) -> Result<Option<String>> {
    renew(c, run_id, lease_id, lease_ms).await?;
    let (old_sha, old_step): (Option<String>, i64) =
        sqlx::query_as("SELECT checkpoint_sha256, checkpoint_step FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_one(&mut *c)
            .await?;
    if (step as i64) < old_step {
        return Ok(Some(sha256.to_string()).filter(|s| old_sha.as_deref() != Some(s)));
    }
    sqlx::query("UPDATE runs SET checkpoint_sha256 = ?, checkpoint_step = ? WHERE id = ?")
        .bind(sha256)
        .bind(step as i64)
        .bind(run_id)
        .execute(&mut *c)
        .await?;
    Ok(old_sha.filter(|s| s != sha256))
}

pub async fn heartbeat(
    c: &mut SqliteConnection,
    run_id: i64,
    lease_id: i64,
    lease_ms: i64,
) -> Result<Directive> {
    Ok(renew(c, run_id, lease_id, lease_ms).await?.0)
}

async fn close_sweep_if_done(c: &mut SqliteConnection, run_id: i64) -> Result<()> {
    sqlx::query(
        "UPDATE sweeps SET state = 'finished', finished_at = ?
         WHERE id = (SELECT sweep_id FROM runs WHERE id = ?) AND state = 'running'
           AND NOT EXISTS (SELECT 1 FROM runs WHERE sweep_id = sweeps.id AND state IN ('queued', 'running'))",
    )
    .bind(now_ms())
    .bind(run_id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

// The attempt's identity, its outcome and the policy: all needed, none derivable.
#[allow(clippy::too_many_arguments)]
pub async fn finish(
    c: &mut SqliteConnection,
    run_id: i64,
    lease_id: i64,
    outcome: Outcome,
    error: &str,
    samples: &[StoredSample],
    summary_json: &str,
    max_attempts: u32,
) -> Result<()> {
    let holder: Option<Option<i64>> =
        sqlx::query_scalar("SELECT lease_id FROM runs WHERE id = ? AND state = 'running'")
            .bind(run_id)
            .fetch_optional(&mut *c)
            .await?;
    if holder != Some(Some(lease_id)) {
        return Err(CoordinatorError::LeaseLost(format!(
            "lease {lease_id} no longer holds run {run_id}; its result is dropped"
        )));
    }
    let (run_state, attempt_state) = match outcome {
        Outcome::Finished => ("finished", "finished"),
        Outcome::Stopped => ("stopped", "stopped"),
        Outcome::Failed => ("failed", "failed"),
    };
    let now = now_ms();
    for (i, s) in samples.iter().enumerate() {
        sqlx::query("INSERT INTO samples (run_id, idx, prompt, seed, text) VALUES (?, ?, ?, ?, ?) ON CONFLICT(run_id, idx) DO UPDATE SET text = excluded.text")
            .bind(run_id)
            .bind(i as i64)
            .bind(&s.prompt)
            .bind(s.seed as i64)
            .bind(&s.text)
            .execute(&mut *c)
            .await?;
    }
    if outcome == Outcome::Failed {
        sqlx::query("UPDATE attempts SET state = 'failed', reason = ?, ended_at = ? WHERE id = ?")
            .bind(error)
            .bind(now)
            .bind(lease_id)
            .execute(&mut *c)
            .await?;
        sqlx::query("UPDATE runs SET error = ? WHERE id = ?")
            .bind(error)
            .bind(run_id)
            .execute(&mut *c)
            .await?;
        return requeue_or_fail(c, run_id, max_attempts).await;
    }
    let stop_reason: String = if outcome == Outcome::Stopped && error.is_empty() {
        sqlx::query_scalar("SELECT stop_reason FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_one(&mut *c)
            .await?
    } else {
        String::new()
    };
    let error = if stop_reason.is_empty() {
        error
    } else {
        stop_reason.as_str()
    };
    sqlx::query("UPDATE runs SET state = ?, lease_id = NULL, lease_expires_at = NULL, error = ?, summary_json = ?, finished_at = ? WHERE id = ?")
        .bind(run_state)
        .bind(error)
        .bind(if summary_json.is_empty() { None } else { Some(summary_json) })
        .bind(now)
        .bind(run_id)
        .execute(&mut *c)
        .await?;
    sqlx::query("UPDATE attempts SET state = ?, reason = ?, ended_at = ? WHERE id = ?")
        .bind(attempt_state)
        .bind(error)
        .bind(now)
        .bind(lease_id)
        .execute(&mut *c)
        .await?;
    close_sweep_if_done(c, run_id).await
}

/// After an attempt ended badly (expired or failed): queue the run again, or, once it has
/// had `max_attempts` attempts, fail it with every attempt's reason. A run asked to stop stops.
async fn requeue_or_fail(c: &mut SqliteConnection, run_id: i64, max_attempts: u32) -> Result<()> {
    let (attempts, stop): (i64, bool) =
        sqlx::query_as("SELECT attempts, stop_requested FROM runs WHERE id = ?")
            .bind(run_id)
            .fetch_one(&mut *c)
            .await?;
    let now = now_ms();
    if stop {
        sqlx::query("UPDATE runs SET state = 'stopped', lease_id = NULL, lease_expires_at = NULL, finished_at = ? WHERE id = ?").bind(now).bind(run_id).execute(&mut *c).await?;
    } else if attempts >= max_attempts as i64 {
        let mut reasons: Vec<String> = sqlx::query_scalar(
            "SELECT reason FROM attempts WHERE run_id = ? ORDER BY id DESC LIMIT ?",
        )
        .bind(run_id)
        .bind(attempts)
        .fetch_all(&mut *c)
        .await?;
        reasons.reverse();
        let listed: Vec<String> = reasons
            .iter()
            .enumerate()
            .map(|(i, r)| format!("attempt {}: {r}", i + 1))
            .collect();
        let error = format!(
            "failed {attempts} of {max_attempts} allowed attempts; {}",
            listed.join("; ")
        );
        sqlx::query("UPDATE runs SET state = 'failed', error = ?, lease_id = NULL, lease_expires_at = NULL, finished_at = ? WHERE id = ?")
            .bind(error)
            .bind(now)
            .bind(run_id)
            .execute(&mut *c)
            .await?;
    } else {
        sqlx::query("UPDATE runs SET state = 'queued', lease_id = NULL, lease_expires_at = NULL WHERE id = ?").bind(run_id).execute(&mut *c).await?;
    }
    close_sweep_if_done(c, run_id).await
}

pub async fn expire_leases(c: &mut SqliteConnection, max_attempts: u32) -> Result<Vec<i64>> {
    let now = now_ms();
    let expired: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT id, lease_id FROM runs WHERE state = 'running' AND lease_expires_at < ?",
    )
    .bind(now)
    .fetch_all(&mut *c)
    .await?;
    for (run_id, lease_id) in &expired {
        sqlx::query("UPDATE attempts SET state = 'expired', reason = 'lease expired: the worker went quiet', ended_at = ? WHERE id = ?")
            .bind(now)
            .bind(lease_id)
            .execute(&mut *c)
            .await?;
        requeue_or_fail(c, *run_id, max_attempts).await?;
    }
    Ok(expired.into_iter().map(|(r, _)| r).collect())
}

pub async fn cancel(c: &mut SqliteConnection, sweep_id: i64) -> Result<(u32, u32)> {
    let now = now_ms();
    let queued = sqlx::query("UPDATE runs SET state = 'cancelled', finished_at = ? WHERE sweep_id = ? AND state = 'queued'").bind(now).bind(sweep_id).execute(&mut *c).await?;
    let running =
        sqlx::query("UPDATE runs SET stop_reason = CASE WHEN stop_requested = 1 THEN stop_reason ELSE 'the sweep was cancelled' END, stop_requested = 1 WHERE sweep_id = ? AND state = 'running'")
            .bind(sweep_id)
            .execute(&mut *c)
            .await?;
    sqlx::query(
        "UPDATE sweeps SET state = 'cancelled', finished_at = ? WHERE id = ? AND state = 'running'",
    )
    .bind(now)
    .bind(sweep_id)
    .execute(&mut *c)
    .await?;
    Ok((
        queued.rows_affected() as u32,
        running.rows_affected() as u32,
    ))
}

pub async fn retry(
    c: &mut SqliteConnection,
    sweep_id: i64,
    failed: bool,
    stopped: bool,
) -> Result<u32> {
    let mut states = Vec::new();
    if failed {
        states.push("'failed'");
    }
    if stopped {
        states.push("'stopped'");
        states.push("'cancelled'");
    }
    if states.is_empty() {
        return Ok(0);
    }
    let sql = format!(
        "UPDATE runs SET state = 'queued', stop_requested = 0, stop_reason = '', attempts = 0, error = '', finished_at = NULL WHERE sweep_id = ? AND state IN ({})",
        states.join(", ")
    );
    // `states` holds only the fixed literals pushed above.
    let n = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(sweep_id)
        .execute(&mut *c)
        .await?
        .rows_affected() as u32;
    if n > 0 {
        sqlx::query("UPDATE sweeps SET state = 'running', finished_at = NULL WHERE id = ?")
            .bind(sweep_id)
            .execute(&mut *c)
            .await?;
    }
    Ok(n)
}
