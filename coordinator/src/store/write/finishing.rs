//! The end of an attempt and what follows: the run finishes, stops, is handed back
//! (preempted, or the worker's environment failed: queued again, not counted), or (after
//! a failure or an expired lease) is queued again or failed for good; a sweep whose runs
//! have all ended (and, for tpe, all been made) is closed.

use std::collections::HashMap;

use sqlx::AnyConnection;

use gptsweep_api::transitions::{self, Event, Guard};
use gptsweep_api::{LeaseId, Named, Outcome, RunId, RunState, Sample, WorkerId};

use super::Write;
use super::group::{Params, alone, distinct, each_chunk};
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::store::states_sql::{
    RUN_FAILED, RUN_OPEN, RUN_QUEUED, RUN_RUNNING, RUN_STOPPED, SWEEP_FINISHED, SWEEP_RUNNING,
};

/// Ends an attempt with the worker's outcome; only the lease holder may (the lease still
/// holding the run, and its worker calling).
#[derive(Debug, Clone)]
pub struct Finish {
    /// The run.
    pub run: RunId,
    /// The lease that claims it.
    pub lease: LeaseId,
    /// The worker calling: the lease must be its own.
    pub worker: WorkerId,
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
        alone(self, c).await
    }

    /// A group of finishes in a few statements: one holder check, one insert of every
    /// sample, and for the runs that end (finished or stopped) one update of the runs, one
    /// of the attempts and a close check a sweep. A failure or a hand-back (rare, with more
    /// to decide) is applied on its own.
    async fn apply_many(finishes: Vec<Finish>, c: &mut AnyConnection) -> Result<Vec<Result<()>>> {
        let mut answers = Vec::with_capacity(finishes.len());
        for group in distinct(finishes, |f| f.run) {
            answers.extend(finish_group(group, c).await?);
        }
        Ok(answers)
    }
}

/// What a held run's row tells the end of its attempt: its sweep and the reason it was
/// asked to stop, if it was.
struct HeldRun {
    sweep: i64,
    stop_reason: String,
}

/// Ends the attempts of `finishes` (distinct runs); a finish whose lease no longer holds
/// its run, or is another worker's, is refused alone.
async fn finish_group(finishes: Vec<Finish>, c: &mut AnyConnection) -> Result<Vec<Result<()>>> {
    let held = holders(c, &finishes).await?;
    let live: Vec<(&Finish, &HeldRun)> = finishes
        .iter()
        .zip(&held)
        .filter_map(|(f, h)| Some((f, h.as_ref().ok()?)))
        .collect();
    insert_samples(c, &live).await?;
    let now = now_ms();
    let mut ended: Vec<(&Finish, String)> = Vec::new();
    let mut sweeps: Vec<i64> = Vec::new();
    for &(f, h) in &live {
        if !f.outcome.attempt_state().counts_against_run() {
            // Handed back: the worker is stopping or its environment failed. The attempt is
            // recorded but not counted, and the run is queued again at once.
            let event = Event::Finish(f.outcome);
            hand_back(c, f.run, f.lease, f.outcome, &f.error, event, now).await?;
        } else if f.outcome == Outcome::Failed {
            end_attempts(c, &[(f.lease, f.outcome, &f.error)], now).await?;
            sqlx::query("UPDATE runs SET error = $1 WHERE id = $2")
                .bind(&f.error)
                .bind(f.run.get())
                .execute(&mut *c)
                .await?;
            requeue_or_fail(c, f.run, Event::Finish(f.outcome), f.max_attempts).await?;
        } else {
            let reason = if f.outcome == Outcome::Stopped && f.error.is_empty() {
                h.stop_reason.clone()
            } else {
                f.error.clone()
            };
            ended.push((f, reason));
            sweeps.push(h.sweep);
        }
    }
    end_runs(c, &ended, now).await?;
    let attempts: Vec<(LeaseId, Outcome, &str)> = ended
        .iter()
        .map(|(f, reason)| (f.lease, f.outcome, reason.as_str()))
        .collect();
    end_attempts(c, &attempts, now).await?;
    sweeps.sort_unstable();
    sweeps.dedup();
    for sweep in sweeps {
        close_if_done(c, sweep).await?;
    }
    Ok(held.into_iter().map(|h| h.map(|_| ())).collect())
}

/// A running run's row as [`holders`] reads it: its lease, that lease's worker, its
/// sweep and the reason it was asked to stop.
type HolderRow = (Option<i64>, Option<i64>, i64, String);

/// Checks each finish's lease against its run (distinct runs), in one query: the run's
/// [`HeldRun`] where the lease holds it and is the finish's worker's, else the refusal.
async fn holders(c: &mut AnyConnection, finishes: &[Finish]) -> Result<Vec<Result<HeldRun>>> {
    let sql = format!(
        "SELECT r.id, r.lease_id, a.worker_id, r.sweep_id, r.stop_reason FROM runs r LEFT JOIN attempts a ON a.id = r.lease_id WHERE r.state = {RUN_RUNNING} AND r.id IN ({})",
        Params::of(c).list(1, finishes.len())
    );
    let mut query =
        sqlx::query_as::<_, (i64, Option<i64>, Option<i64>, i64, String)>(sqlx::AssertSqlSafe(sql));
    for f in finishes {
        query = query.bind(f.run.get());
    }
    let rows: HashMap<i64, HolderRow> = query
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|(id, lease, worker, sweep, stop)| (id, (lease, worker, sweep, stop)))
        .collect();
    Ok(finishes
        .iter()
        .map(|f| match rows.get(&f.run.get()) {
            Some((Some(lease), worker, _, _))
                if *lease == f.lease.get() && *worker != Some(f.worker.get()) =>
            {
                Err(CoordinatorError::Forbidden(format!(
                    "lease {} of run {} is not held by worker {}",
                    f.lease, f.run, f.worker
                )))
            }
            Some((Some(lease), _, sweep, stop)) if *lease == f.lease.get() => Ok(HeldRun {
                sweep: *sweep,
                stop_reason: stop.clone(),
            }),
            _ => Err(CoordinatorError::LeaseLost(format!(
                "lease {} no longer holds run {}; its result is dropped",
                f.lease, f.run
            ))),
        })
        .collect())
}

/// Stores the samples of every finish of `live` (a sample already stored at an index is
/// replaced: a run resumed after a lost finish samples again).
async fn insert_samples(c: &mut AnyConnection, live: &[(&Finish, &HeldRun)]) -> Result<()> {
    let samples: Vec<(RunId, usize, &Sample)> = live
        .iter()
        .flat_map(|(f, _)| f.samples.iter().enumerate().map(|(i, s)| (f.run, i, s)))
        .collect();
    each_chunk(
        c,
        &samples,
        5,
        |rows| {
            format!(
                "INSERT INTO samples (run_id, idx, prompt, seed, text) VALUES {rows} ON CONFLICT(run_id, idx) DO UPDATE SET text = excluded.text"
            )
        },
        |query, (run, i, s)| {
            query
                .bind(run.get())
                .bind(*i as i64)
                .bind(&s.prompt)
                .bind(s.seed as i64)
                .bind(&s.text)
        },
    )
    .await
}

/// Ends the runs of `ended` (each with its reason) in the state of their outcome, with
/// their summaries, at `now`: their leases let go.
async fn end_runs(c: &mut AnyConnection, ended: &[(&Finish, String)], now: i64) -> Result<()> {
    each_chunk(
        c,
        ended,
        5,
        |rows| {
            format!(
                "UPDATE runs SET state = v.column2, lease_id = NULL, lease_expires_at = NULL, error = v.column3, summary_json = v.column4, finished_at = v.column5
                 FROM (VALUES {rows}) AS v WHERE runs.id = v.column1"
            )
        },
        |query, (f, reason)| {
            query
                .bind(f.run.get())
                .bind(f.outcome.run_state().map(|s| s.as_str()))
                .bind(reason.as_str())
                .bind(Some(f.summary_json.as_str()).filter(|s| !s.is_empty()))
                .bind(now)
        },
    )
    .await
}

/// Ends the attempt `lease` of `run` as handed back on `event` (`outcome`: preempted or a
/// worker fault, with `reason`), not counted against the run, and queues the run again.
pub(super) async fn hand_back(
    c: &mut AnyConnection,
    run: RunId,
    lease: LeaseId,
    outcome: Outcome,
    reason: &str,
    event: Event,
    now: i64,
) -> Result<()> {
    end_attempts(c, &[(lease, outcome, reason)], now).await?;
    sqlx::query("UPDATE runs SET attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END WHERE id = $1")
        .bind(run.get())
        .execute(&mut *c)
        .await?;
    requeue_or_fail(c, run, event, u32::MAX).await
}

/// Records how each attempt (a lease) ended, and why, at `now`.
async fn end_attempts(
    c: &mut AnyConnection,
    attempts: &[(LeaseId, Outcome, &str)],
    now: i64,
) -> Result<()> {
    each_chunk(
        c,
        attempts,
        4,
        |rows| {
            format!(
                "UPDATE attempts SET state = v.column2, reason = v.column3, ended_at = v.column4
                 FROM (VALUES {rows}) AS v WHERE attempts.id = v.column1"
            )
        },
        |query, (lease, outcome, reason)| {
            query
                .bind(lease.get())
                .bind(outcome.attempt_state().as_str())
                .bind(*reason)
                .bind(now)
        },
    )
    .await
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
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE sweeps SET state = {SWEEP_FINISHED}, finished_at = $1
         WHERE id = $2 AND state = {SWEEP_RUNNING}
           AND CASE WHEN EXISTS (SELECT 1 FROM runs WHERE sweep_id = sweeps.id AND state IN ({RUN_OPEN})) THEN FALSE
                    ELSE (SELECT COUNT(*) FROM runs WHERE sweep_id = sweeps.id) >= sweeps.run_cap END"
    )))
    .bind(now_ms())
    .bind(sweep)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// After an attempt ended badly (expired or failed) or was handed back (`event`), the
/// run's transition as the table has it ([`transitions::after`]): queued again, or, once it
/// has had `max_attempts` attempts, failed with every attempt's reason; a run asked to stop
/// stops.
pub(super) async fn requeue_or_fail(
    c: &mut AnyConnection,
    run: RunId,
    event: Event,
    max_attempts: u32,
) -> Result<()> {
    let (attempts, stop): (i64, i64) =
        sqlx::query_as("SELECT attempts, stop_requested FROM runs WHERE id = $1")
            .bind(run.get())
            .fetch_one(&mut *c)
            .await?;
    let guard = if stop != 0 {
        Guard::StopAsked
    } else if attempts >= max_attempts as i64 {
        Guard::AttemptsSpent
    } else {
        Guard::AttemptsLeft
    };
    let now = now_ms();
    let to = transitions::after(Some(RunState::Running), event, guard).map(|t| t.to);
    if to == Some(RunState::Stopped) {
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE runs SET state = {RUN_STOPPED}, lease_id = NULL, lease_expires_at = NULL, finished_at = $1 WHERE id = $2")))
            .bind(now)
            .bind(run.get())
            .execute(&mut *c)
            .await?;
    } else if to == Some(RunState::Failed) {
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
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE runs SET state = {RUN_FAILED}, error = $1, lease_id = NULL, lease_expires_at = NULL, finished_at = $2 WHERE id = $3")))
            .bind(error)
            .bind(now)
            .bind(run.get())
            .execute(&mut *c)
            .await?;
    } else if to == Some(RunState::Queued) {
        sqlx::query(sqlx::AssertSqlSafe(format!("UPDATE runs SET state = {RUN_QUEUED}, lease_id = NULL, lease_expires_at = NULL WHERE id = $1")))
            .bind(run.get())
            .execute(&mut *c)
            .await?;
    } else {
        return Err(CoordinatorError::Storage(format!(
            "run {run}: the state machine has no transition of a running run on {event:?} when {guard:?}"
        )));
    }
    close_sweep_if_done(c, run).await
}
