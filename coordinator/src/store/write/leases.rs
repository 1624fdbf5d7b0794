//! Leases once handed out ([`super::handout`]): checked and renewed by every report and
//! heartbeat of their holder, and expired (the run requeued) when the holder goes quiet.
//! A lease is its worker's alone: the check refuses a call about it from any other worker
//! (PERMISSION_DENIED), and reads the run's `max_iters`, which bounds the steps reported.

use std::collections::HashMap;

use serde::Deserialize;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use gptsweep_api::transitions::Event;
use gptsweep_api::{Directive, Evaluation, LeaseId, RunId, RunState, WorkerId};

use super::Write;
use super::finishing::requeue_or_fail;
use super::group::Params;
use super::workers::touch;
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::store::column;
use crate::store::states_sql::{ATTEMPT_EXPIRED, RUN_RUNNING};

/// What checking a lease found: the directive for the holder, whether the run's sweep
/// uses early termination, the holder's worker with when it was last seen, and the run's
/// `max_iters` (all read with the run, so that a report costs no further query for them).
pub(super) struct Held {
    pub directive: Directive,
    pub early: bool,
    worker: Option<(WorkerId, i64)>,
    max_iters: u64,
}

/// The one field of a run's stored hyperparameters that a lease check reads: serde skips
/// the others without building them (a fleet's reports pass this check tens of thousands
/// of times a second).
#[derive(Deserialize)]
struct StepBound {
    max_iters: u64,
}

/// How stale a worker's `last_seen` may get before a report or heartbeat rewrites it: one
/// write a second per worker, not one per report (a fleet reports many times a second, and
/// liveness is judged in tens of seconds).
const SEEN_REFRESH_MS: i64 = 1_000;

/// Whether a worker last seen at `last_seen` (as read) should be noted alive at `now`.
pub(super) fn is_stale(last_seen: i64, now: i64) -> bool {
    now - last_seen >= SEEN_REFRESH_MS
}

/// Notes `worker` alive at `now` if its `last_seen` (as read) is stale.
async fn touch_if_stale(
    c: &mut AnyConnection,
    worker: WorkerId,
    last_seen: i64,
    now: i64,
) -> Result<()> {
    if is_stale(last_seen, now) {
        touch(c, worker).await?;
    }
    Ok(())
}

impl Held {
    /// Notes the holder's worker alive, if its `last_seen` is stale.
    pub(super) async fn touch_worker(&self, c: &mut AnyConnection, now: i64) -> Result<()> {
        match self.worker {
            Some((w, seen)) => touch_if_stale(c, w, seen, now).await,
            None => Ok(()),
        }
    }

    /// Checks that every step of `evals` is within the run's `max_iters` (the steps' other
    /// rules are the API layer's, checked before the write).
    pub(super) fn check_steps(&self, evals: &[Evaluation]) -> Result<()> {
        match evals
            .iter()
            .enumerate()
            .find(|(_, e)| e.step > self.max_iters)
        {
            Some((i, e)) => Err(CoordinatorError::Invalid(format!(
                "evals[{i}].step = {}: must be <= {}, the run's max_iters",
                e.step, self.max_iters
            ))),
            None => Ok(()),
        }
    }

    /// Checks that a heartbeat's progress `step` is within the run's `max_iters`.
    pub(super) fn check_progress_step(&self, step: u64) -> Result<()> {
        if step > self.max_iters {
            return Err(CoordinatorError::Invalid(format!(
                "step = {step}: must be <= {}, the run's max_iters",
                self.max_iters
            )));
        }
        Ok(())
    }

    /// Checks that a checkpoint's `step` is within the run's `max_iters`.
    pub(super) fn check_checkpoint_step(&self, step: u64) -> Result<()> {
        if step > self.max_iters {
            return Err(CoordinatorError::Invalid(format!(
                "checkpoint step = {step}: must be <= {}, the run's max_iters",
                self.max_iters
            )));
        }
        Ok(())
    }

    /// The holder's worker, if its `last_seen` is stale at `now` (for [`touch_all`]).
    pub(super) fn stale_worker(&self, now: i64) -> Option<WorkerId> {
        self.worker
            .filter(|&(_, seen)| is_stale(seen, now))
            .map(|(w, _)| w)
    }
}

/// Notes `workers` alive at `now`, in one statement.
pub(super) async fn touch_all(c: &mut AnyConnection, workers: &[WorkerId], now: i64) -> Result<()> {
    if workers.is_empty() {
        return Ok(());
    }
    let params = Params::of(c);
    let sql = format!(
        "UPDATE workers SET last_seen = {} WHERE id IN ({})",
        params.list(1, 1),
        params.list(2, workers.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(now);
    for w in workers {
        query = query.bind(w.get());
    }
    query.execute(&mut *c).await?;
    Ok(())
}

/// What a lease check reads of a run: its holder and state, the stop asked of it, the
/// holder's worker with when it was last seen, whether its sweep terminates early, and its
/// hyperparameters (for `max_iters`); completed by a condition on `r.id`.
const HELD_SELECT: &str = "SELECT r.id, r.lease_id, r.state, r.stop_requested, r.stop_reason, a.worker_id, w.last_seen, CASE WHEN s.early_min_iter IS NULL THEN 0 ELSE 1 END AS early, r.hyperparams_json FROM runs r JOIN sweeps s ON s.id = r.sweep_id LEFT JOIN attempts a ON a.id = r.lease_id LEFT JOIN workers w ON w.id = a.worker_id WHERE ";

/// A worker's claim on a run: the run, the lease it names, and the worker calling.
#[derive(Debug, Clone, Copy)]
pub(super) struct Claim {
    pub run: RunId,
    pub lease: LeaseId,
    pub worker: WorkerId,
}

/// Checks that `claim`'s lease still holds its run and is its worker's; the caller
/// extends the lease ([`extend_lease`], or in its own update of the run) and touches the
/// worker.
pub(super) async fn check_lease(c: &mut AnyConnection, claim: Claim) -> Result<Held> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!("{HELD_SELECT}r.id = $1")))
        .bind(claim.run.get())
        .fetch_optional(&mut *c)
        .await?;
    held(row.as_ref(), claim)
}

/// [`check_lease`] for many claims in one query (each run at most once): one answer a
/// claim, in order, so that a claim refused (a lost lease, another worker's) is refused
/// alone; the outer error is the database's.
pub(super) async fn check_leases(
    c: &mut AnyConnection,
    claims: &[Claim],
) -> Result<Vec<Result<Held>>> {
    let ids = Params::of(c).list(1, claims.len());
    let sql = format!("{HELD_SELECT}r.id IN ({ids})");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for claim in claims {
        query = query.bind(claim.run.get());
    }
    let rows: HashMap<i64, AnyRow> = query
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|row| Ok((row.try_get::<i64, _>("id")?, row)))
        .collect::<Result<_>>()?;
    Ok(claims
        .iter()
        .map(|&claim| held(rows.get(&claim.run.get()), claim))
        .collect())
}

/// Judges `claim` from its run's [`HELD_SELECT`] row: another worker's lease is
/// forbidden, a lease that no longer holds the run is lost.
fn held(row: Option<&AnyRow>, claim: Claim) -> Result<Held> {
    let Claim { run, lease, worker } = claim;
    let row = row.ok_or_else(|| CoordinatorError::NotFound(format!("run {run} does not exist")))?;
    let holder: Option<i64> = row.try_get("lease_id")?;
    let holder_worker: Option<i64> = row.try_get("worker_id")?;
    if holder == Some(lease.get()) && holder_worker != Some(worker.get()) {
        return Err(CoordinatorError::Forbidden(format!(
            "lease {lease} of run {run} is not held by worker {worker}"
        )));
    }
    let state: RunState = column::named(row, "state")?;
    if holder != Some(lease.get()) || state != RunState::Running {
        return Err(CoordinatorError::LeaseLost(format!(
            "lease {lease} no longer holds run {run} (the run is {state}); drop it"
        )));
    }
    let seen = row.try_get::<Option<i64>, _>("last_seen")?.unwrap_or(0);
    let worker = holder_worker.map(|w| (WorkerId(w), seen));
    let hyperparams: &str = row.try_get("hyperparams_json")?;
    let bound: StepBound = serde_json::from_str(hyperparams).map_err(|e| {
        CoordinatorError::Store(sqlx::Error::Decode(
            format!("column hyperparams_json of run {run}: no max_iters: {e}").into(),
        ))
    })?;
    let directive = if row.try_get::<i64, _>("stop_requested")? != 0 {
        Directive::Stop(row.try_get("stop_reason")?)
    } else {
        Directive::Continue
    };
    Ok(Held {
        directive,
        early: row.try_get::<i64, _>("early")? != 0,
        worker,
        max_iters: bound.max_iters,
    })
}

/// Extends `run`'s lease to `lease_ms` from now.
pub(super) async fn extend_lease(c: &mut AnyConnection, run: RunId, lease_ms: i64) -> Result<()> {
    sqlx::query("UPDATE runs SET lease_expires_at = $1 WHERE id = $2")
        .bind(now_ms() + lease_ms)
        .bind(run.get())
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Checks that `claim`'s lease still holds its run and is its worker's, renews it for
/// `lease_ms` and notes the worker alive.
pub(super) async fn renew(c: &mut AnyConnection, claim: Claim, lease_ms: i64) -> Result<Held> {
    let held = check_lease(c, claim).await?;
    extend_lease(c, claim.run, lease_ms).await?;
    held.touch_worker(c, now_ms()).await?;
    Ok(held)
}

/// Renews a lease between evaluations, keeping the run's live progress when the heartbeat
/// carries it (in the statement that renews the lease: no write of its own); answers the
/// directive. Only the lease's worker may, and its step must be within `max_iters`.
#[derive(Debug, Clone, Copy)]
pub struct Heartbeat {
    /// The run.
    pub run: RunId,
    /// The lease that claims it.
    pub lease: LeaseId,
    /// The worker calling: the lease must be its own.
    pub worker: WorkerId,
    /// How long the lease lasts from now, ms.
    pub lease_ms: i64,
    /// The latest step and the throughput over the last seconds (checked finite and
    /// >= 0 by the caller), when the worker sent them.
    pub progress: Option<(u64, f64)>,
}

impl Write for Heartbeat {
    type Output = Directive;

    async fn apply(self, c: &mut AnyConnection) -> Result<Directive> {
        let claim = Claim {
            run: self.run,
            lease: self.lease,
            worker: self.worker,
        };
        let Some((step, tokens_per_sec)) = self.progress else {
            return Ok(renew(c, claim, self.lease_ms).await?.directive);
        };
        let held = check_lease(c, claim).await?;
        held.check_progress_step(step)?;
        let now = now_ms();
        sqlx::query(
            "UPDATE runs SET lease_expires_at = $1, progress_step = $2, progress_tokens_per_sec = $3, progress_at = $4, progress_lease = $5 WHERE id = $6",
        )
        .bind(now + self.lease_ms)
        .bind(step as i64)
        .bind(tokens_per_sec)
        .bind(now)
        .bind(self.lease.get())
        .bind(self.run.get())
        .execute(&mut *c)
        .await?;
        held.touch_worker(c, now).await?;
        Ok(held.directive)
    }
}

/// Ends every lease past its expiry (the attempt `expired`) and requeues or fails its run;
/// answers the runs.
#[derive(Debug, Clone, Copy)]
pub struct ExpireLeases {
    /// Attempts a run gets before it is failed.
    pub max_attempts: u32,
}

impl Write for ExpireLeases {
    type Output = Vec<RunId>;

    async fn apply(self, c: &mut AnyConnection) -> Result<Vec<RunId>> {
        let now = now_ms();
        let expired: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT id, lease_id FROM runs WHERE state = {RUN_RUNNING} AND lease_expires_at < $1"
        )))
        .bind(now)
        .fetch_all(&mut *c)
        .await?;
        for (run_id, lease_id) in &expired {
            sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE attempts SET state = {ATTEMPT_EXPIRED}, reason = 'lease expired: the worker went quiet', ended_at = $1 WHERE id = $2")))
                .bind(now)
                .bind(lease_id)
                .execute(&mut *c)
                .await?;
            requeue_or_fail(c, RunId(*run_id), Event::Expire, self.max_attempts).await?;
        }
        Ok(expired.into_iter().map(|(r, _)| RunId(r)).collect())
    }
}

/// Judges leases from now: every running run's lease is made to last at least `lease_ms`
/// more. Run when the coordinator opens its state, so that a worker that trained through
/// an outage longer than the lease timeout keeps its run; answers how many were extended.
#[derive(Debug, Clone, Copy)]
pub struct GraceLeases {
    /// The grace, ms: one lease timeout.
    pub lease_ms: i64,
}

impl Write for GraceLeases {
    type Output = u64;

    async fn apply(self, c: &mut AnyConnection) -> Result<u64> {
        let until = now_ms() + self.lease_ms;
        let extended = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE runs SET lease_expires_at = $1 WHERE state = {RUN_RUNNING} AND (lease_expires_at IS NULL OR lease_expires_at < $2)"
        )))
        .bind(until)
        .bind(until)
        .execute(&mut *c)
        .await?;
        Ok(extended.rows_affected())
    }
}
