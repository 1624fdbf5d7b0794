//! The end of an attempt and what follows: the run finishes, stops, is handed back
//! (preempted, or the worker's environment failed: queued again, not counted), or (after
//! a failure or an expired lease) is queued again or failed for good; a sweep whose runs
//! have all ended (and, for tpe, all been made) is closed.

use sqlx::AnyConnection;

use gptsweep_api::{LeaseId, Named, Outcome, RunId, Sample};

use super::Write;
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};

/// Ends an attempt with the worker's outcome; only the lease holder may.
#[derive(Debug, Clone)]
pub struct Finish {
    /// The run.
    pub run: RunId,
    /// The lease that claims it.
    pub lease: LeaseId,
    /// How it ended.
    pub outcome: Outcome,
    /// Why it failed (or stopped, if the worker says).
    pub error: String,
    /// The samples of a finished run.
    pub samples: Vec<Sample>,
    /// The trainer's summary as JSON, if any.
    pub summary_json: String,
    /// Attempts a run gets before a failure fails it for good.
    pub max_attempts: u32,
}

impl Write for Finish {
    type Output = ();

    async fn apply(self, c: &mut AnyConnection) -> Result<()> {
        let Finish {
            run,
            lease,
            outcome,
            error,
            samples,
            summary_json,
            max_attempts,
        } = self;
        // The holder, with what the end of a held run needs: one round trip, not three.
        let held: Option<(Option<i64>, i64, String)> = sqlx::query_as(
            "SELECT lease_id, sweep_id, stop_reason FROM runs WHERE id = $1 AND state = 'running'",
        )
        .bind(run.get())
        .fetch_optional(&mut *c)
        .await?;
        let Some((Some(holder), sweep, stop_reason)) = held else {
            return Err(lease_lost(lease, run));
        };
        if holder != lease.get() {
            return Err(lease_lost(lease, run));
        }
        let now = now_ms();
        for (i, s) in samples.iter().enumerate() {
            sqlx::query("INSERT INTO samples (run_id, idx, prompt, seed, text) VALUES ($1, $2, $3, $4, $5) ON CONFLICT(run_id, idx) DO UPDATE SET text = excluded.text")
                .bind(run.get())
                .bind(i as i64)
                .bind(&s.prompt)
                .bind(s.seed as i64)
                .bind(&s.text)
                .execute(&mut *c)
                .await?;
        }
        if outcome.run_state().is_none() {
            // Handed back: the worker is stopping or its environment failed. The attempt is
            // recorded but not counted, and the run is queued again at once.
            end_attempt(c, lease, outcome, &error, now).await?;
            sqlx::query("UPDATE runs SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $1")
                .bind(run.get())
                .execute(&mut *c)
                .await?;
            return requeue_or_fail(c, run, u32::MAX).await;
        }
        if outcome == Outcome::Failed {
            end_attempt(c, lease, outcome, &error, now).await?;
            sqlx::query("UPDATE runs SET error = $1 WHERE id = $2")
                .bind(&error)
                .bind(run.get())
                .execute(&mut *c)
                .await?;
            return requeue_or_fail(c, run, max_attempts).await;
        }
        let reason = if outcome == Outcome::Stopped && error.is_empty() {
            stop_reason
        } else {
            error
        };
        sqlx::query("UPDATE runs SET state = $1, lease_id = NULL, lease_expires_at = NULL, error = $2, summary_json = $3, finished_at = $4 WHERE id = $5")
            .bind(outcome.run_state().map(|s| s.as_str()))
            .bind(&reason)
            .bind(if summary_json.is_empty() { None } else { Some(summary_json) })
            .bind(now)
            .bind(run.get())
            .execute(&mut *c)
            .await?;
        end_attempt(c, lease, outcome, &reason, now).await?;
        close_if_done(c, sweep).await
    }
}

/// The refusal of a finish whose lease no longer holds its run.
fn lease_lost(lease: LeaseId, run: RunId) -> CoordinatorError {
    CoordinatorError::LeaseLost(format!(
        "lease {lease} no longer holds run {run}; its result is dropped"
    ))
}

/// Records how the attempt `lease` ended, and why, at `now`.
async fn end_attempt(
    c: &mut AnyConnection,
    lease: LeaseId,
    outcome: Outcome,
    reason: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE attempts SET state = $1, reason = $2, ended_at = $3 WHERE id = $4")
        .bind(outcome.attempt_state().as_str())
        .bind(reason)
        .bind(now)
        .bind(lease.get())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Closes the run's sweep once it is done ([`close_if_done`]).
async fn close_sweep_if_done(c: &mut AnyConnection, run: RunId) -> Result<()> {
    let sweep: i64 = sqlx::query_scalar("SELECT sweep_id FROM runs WHERE id = $1")
        .bind(run.get())
        .fetch_one(&mut *c)
        .await?;
    close_if_done(c, sweep).await
}

/// Closes a sweep as finished once it has made all its runs (`run_cap`: a tpe sweep makes
/// them as workers ask) and none of them is queued or running. The runs are counted only
/// once none is live (`CASE` fixes the order): PostgreSQL's planner counted them first, on
/// every finish of a 10,000-run sweep (5 ms each).
pub(super) async fn close_if_done(c: &mut AnyConnection, sweep: i64) -> Result<()> {
    sqlx::query(
        "UPDATE sweeps SET state = 'finished', finished_at = $1
         WHERE id = $2 AND state = 'running'
           AND CASE WHEN EXISTS (SELECT 1 FROM runs WHERE sweep_id = sweeps.id AND state IN ('queued', 'running')) THEN FALSE
                    ELSE (SELECT COUNT(*) FROM runs WHERE sweep_id = sweeps.id) >= sweeps.run_cap END",
    )
    .bind(now_ms())
    .bind(sweep)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// After an attempt ended badly (expired or failed): queue the run again, or, once it has
/// had `max_attempts` attempts, fail it with every attempt's reason. A run asked to stop
/// stops.
pub(super) async fn requeue_or_fail(
    c: &mut AnyConnection,
    run: RunId,
    max_attempts: u32,
) -> Result<()> {
    let (attempts, stop): (i64, i64) =
        sqlx::query_as("SELECT attempts, stop_requested FROM runs WHERE id = $1")
            .bind(run.get())
            .fetch_one(&mut *c)
            .await?;
    let now = now_ms();
    if stop != 0 {
        sqlx::query("UPDATE runs SET state = 'stopped', lease_id = NULL, lease_expires_at = NULL, finished_at = $1 WHERE id = $2")
            .bind(now)
            .bind(run.get())
            .execute(&mut *c)
            .await?;
    } else if attempts >= max_attempts as i64 {
        let mut reasons: Vec<String> = sqlx::query_scalar(
            "SELECT reason FROM attempts WHERE run_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(run.get())
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
        sqlx::query("UPDATE runs SET state = 'failed', error = $1, lease_id = NULL, lease_expires_at = NULL, finished_at = $2 WHERE id = $3")
            .bind(error)
            .bind(now)
            .bind(run.get())
            .execute(&mut *c)
            .await?;
    } else {
        sqlx::query("UPDATE runs SET state = 'queued', lease_id = NULL, lease_expires_at = NULL WHERE id = $1")
            .bind(run.get())
            .execute(&mut *c)
            .await?;
    }
    close_sweep_if_done(c, run).await
}
