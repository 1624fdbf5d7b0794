//! Handing out runs: a queued run leased to one worker's device. A fleet's requests for
//! work queue together, so a group of them is served in a few statements: the workers, the
//! memory their devices hold, the first queued runs, one insert of the attempts and one
//! update of the runs. A tpe sweep's runs after the first are made here, when a worker
//! asks for work; while one can still grow, requests are served one by one (each may
//! propose a run from every result so far).

use std::collections::{BTreeMap, HashMap};

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use gptsweep_api::{LeaseId, LeasedRun, RunId, WorkerId};

use super::Write;
use super::group::{Params, alone, distinct};
use super::leases::{is_stale, touch_all};
use super::propose::propose;
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::store::states_sql::{ATTEMPT_RUNNING, RUN_QUEUED, RUN_RUNNING, SWEEP_RUNNING};

/// Leases the next queued run (oldest sweep first, then plan order) to a worker's device;
/// `None` when nothing is queued. When the oldest running sweep with work is a tpe sweep
/// with no queued run that fits but fewer runs than its cap, its next run is proposed
/// first, from every result so far, and leased if it fits the device (else it stays
/// queued for a device where it fits).
#[derive(Debug, Clone)]
pub struct Lease {
    /// The worker asking.
    pub worker: WorkerId,
    /// Its free device.
    pub device: String,
    /// How long the lease lasts unless renewed, ms.
    pub lease_ms: i64,
    /// Only a run whose training-memory estimate fits what the device's runs leave free
    /// (a device of unknown memory takes one run at a time).
    pub fit_memory: bool,
}

impl Write for Lease {
    type Output = Option<LeasedRun>;

    async fn apply(self, c: &mut AnyConnection) -> Result<Option<LeasedRun>> {
        alone(self, c).await
    }

    /// Requests of distinct devices are served together (two of one device are not: the
    /// first's run changes what the second's device has room for).
    async fn apply_many(
        leases: Vec<Lease>,
        c: &mut AnyConnection,
    ) -> Result<Vec<Result<Option<LeasedRun>>>> {
        let growing = growing_tpe(c).await?.is_some();
        let parts = if growing {
            leases.into_iter().map(|l| vec![l]).collect()
        } else {
            distinct(leases, |l| (l.worker, l.device.clone()))
        };
        let mut answers = Vec::new();
        for part in parts {
            answers.extend(lease_part(part, growing, c).await?);
        }
        Ok(answers)
    }
}

/// The oldest running tpe sweep that has made fewer runs than its cap, if any.
async fn growing_tpe(c: &mut AnyConnection) -> Result<Option<i64>> {
    Ok(sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT s.id FROM sweeps s WHERE s.state = {SWEEP_RUNNING} AND s.method = 'tpe'
           AND s.run_cap > (SELECT COUNT(*) FROM runs r WHERE r.sweep_id = s.id)
         ORDER BY s.id LIMIT 1"
    )))
    .fetch_optional(&mut *c)
    .await?)
}

/// Serves `leases` (distinct devices): an unknown worker is refused, a device without
/// room gets `None`, and the rest take the first queued runs that fit them, in order.
/// With `growing`, a tpe sweep may propose a run first (then `leases` is one request).
async fn lease_part(
    leases: Vec<Lease>,
    growing: bool,
    c: &mut AnyConnection,
) -> Result<Vec<Result<Option<LeasedRun>>>> {
    let now = now_ms();
    let known = workers(c, &leases).await?;
    let mut stale: Vec<WorkerId> = known
        .iter()
        .filter(|(_, (_, seen))| is_stale(*seen, now))
        .map(|(&w, _)| WorkerId(w))
        .collect();
    stale.sort_unstable_by_key(|w| w.get());
    touch_all(c, &stale, now).await?;
    let used = memory_used(c, &leases).await?;
    let mut answers: Vec<Result<Option<LeasedRun>>> = Vec::with_capacity(leases.len());
    // The requests that may take a run, with the most memory each may take.
    let mut wanting: Vec<(usize, i64)> = Vec::new();
    for (i, l) in leases.iter().enumerate() {
        let Some((memory_json, _)) = known.get(&l.worker.get()) else {
            answers.push(Err(CoordinatorError::NotFound(format!(
                "worker {} is not registered; register again",
                l.worker
            ))));
            continue;
        };
        let (used, running) = used
            .get(&(l.worker.get(), l.device.clone()))
            .copied()
            .unwrap_or((0, 0));
        match room(l, memory_json, used, running) {
            Some(r) if r < 0 => {}
            room => wanting.push((i, room.unwrap_or(i64::MAX))),
        }
        answers.push(Ok(None));
    }
    while !wanting.is_empty() {
        let most = wanting.iter().map(|&(_, r)| r).max().unwrap_or(i64::MAX);
        let mut queued = next_queued(c, most, wanting.len()).await?;
        if growing && let Some(sweep) = growing_tpe(c).await? {
            let first = match queued.first() {
                Some(r) => Some(r.try_get::<i64, _>("sweep_id")?),
                None => None,
            };
            if first.is_none_or(|s| sweep < s) {
                propose(c, sweep).await?;
                queued = next_queued(c, most, wanting.len()).await?;
            }
        }
        let every_fitting_run = queued.len() < wanting.len();
        let memory: Vec<i64> = queued
            .iter()
            .map(|r| r.try_get::<i64, _>("memory_bytes"))
            .collect::<std::result::Result<_, _>>()?;
        let mut taken = vec![false; queued.len()];
        let mut leased: Vec<(usize, &AnyRow)> = Vec::new();
        let mut waiting = Vec::new();
        for (i, room) in wanting {
            let fits = (0..queued.len()).find(|&q| !taken[q] && memory[q] <= room);
            match fits {
                Some(q) => {
                    taken[q] = true;
                    leased.push((i, &queued[q]));
                }
                // None among every run that fits the largest room: none at all.
                None if every_fitting_run => {}
                // Runs beyond those read may fit: read again, these taken out.
                None => waiting.push((i, room)),
            }
        }
        for (i, run) in start_attempts(c, &leases, &leased, now).await? {
            answers[i] = Ok(Some(run));
        }
        wanting = waiting;
    }
    Ok(answers)
}

/// The known workers among `leases`' (those that have not left): each one's device memory (JSON) and when it was
/// last seen.
async fn workers(c: &mut AnyConnection, leases: &[Lease]) -> Result<HashMap<i64, (String, i64)>> {
    let sql = format!(
        "SELECT id, device_memory_json, last_seen FROM workers WHERE left_reason IS NULL AND id IN ({})",
        Params::of(c).list(1, leases.len())
    );
    let mut query = sqlx::query_as::<_, (i64, String, Option<i64>)>(sqlx::AssertSqlSafe(sql));
    for l in leases {
        query = query.bind(l.worker.get());
    }
    Ok(query
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|(id, memory, seen)| (id, (memory, seen.unwrap_or(0))))
        .collect())
}

/// For the devices of `leases` that must fit their runs' memory: the estimates of the runs
/// running on each (bytes) and how many there are, by (worker, device).
async fn memory_used(
    c: &mut AnyConnection,
    leases: &[Lease],
) -> Result<HashMap<(i64, String), (i64, i64)>> {
    let fitting: Vec<i64> = leases
        .iter()
        .filter(|l| l.fit_memory)
        .map(|l| l.worker.get())
        .collect();
    if fitting.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT a.worker_id, a.device, CAST(COALESCE(SUM(r.memory_bytes), 0) AS BIGINT), COUNT(*)
         FROM runs r JOIN attempts a ON a.id = r.lease_id
         WHERE r.state = {RUN_RUNNING} AND a.worker_id IN ({}) GROUP BY a.worker_id, a.device",
        Params::of(c).list(1, fitting.len())
    );
    let mut query = sqlx::query_as::<_, (i64, String, i64, i64)>(sqlx::AssertSqlSafe(sql));
    for w in fitting {
        query = query.bind(w);
    }
    Ok(query
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|(w, device, used, running)| ((w, device), (used, running)))
        .collect())
}

/// The most `lease`'s device may still take, bytes: when leases must fit its memory, its
/// memory (from the worker's `memory_json`) less the estimates `used` of the `running`
/// runs on it; otherwise its memory, when known, since a run larger than the whole device
/// could only fail there (out of memory, or an abort of the worker). `None` when anything
/// goes, negative when nothing does.
fn room(lease: &Lease, memory_json: &str, used: i64, running: i64) -> Option<i64> {
    let memory = serde_json::from_str::<BTreeMap<String, u64>>(memory_json)
        .ok()
        .and_then(|m| m.get(&lease.device).copied())
        .filter(|&m| m > 0)
        .map(|m| i64::try_from(m).unwrap_or(i64::MAX));
    if !lease.fit_memory {
        return memory;
    }
    Some(match memory {
        Some(m) => m - used,
        // Unknown memory: one run at a time.
        None if running == 0 => i64::MAX,
        None => -1,
    })
}

/// The first `n` queued runs to lease (oldest running sweep first, then plan order) among
/// those whose memory estimate is at most `room` bytes. Ordered by the columns of the
/// index runs_queued (sweep_id, idx of queued runs only), so they are read off the index;
/// ordering by s.id (the same value) made SQLite sort every queued run on every lease:
/// 18 ms a lease with 10,000 queued.
async fn next_queued(c: &mut AnyConnection, room: i64, n: usize) -> Result<Vec<AnyRow>> {
    Ok(sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.sweep_id, r.hyperparams_json, r.attempts, r.checkpoint_step, r.memory_bytes, s.name, s.samples_json, s.dataset_sha256, d.name AS dname, d.builtin
         FROM runs r JOIN sweeps s ON s.id = r.sweep_id JOIN datasets d ON d.sha256 = s.dataset_sha256
         WHERE r.state = {RUN_QUEUED} AND s.state = {SWEEP_RUNNING} AND r.memory_bytes <= $1
         ORDER BY r.sweep_id, r.idx LIMIT $2"
    )))
    .bind(room)
    .bind(n as i64)
    .fetch_all(&mut *c)
    .await?)
}

/// Starts an attempt for each of `leased` (a request's index in `leases`, the queued run
/// it takes): one insert of the attempts, one update of the runs. Answers each request's
/// leased run. An attempt's `resumed_from` stays 0 until its worker is handed the
/// checkpoint offered here ([`super::ResumedFrom`]).
async fn start_attempts(
    c: &mut AnyConnection,
    leases: &[Lease],
    leased: &[(usize, &AnyRow)],
    now: i64,
) -> Result<Vec<(usize, LeasedRun)>> {
    if leased.is_empty() {
        return Ok(Vec::new());
    }
    let params = Params::of(c);
    let sql = format!(
        "INSERT INTO attempts (run_id, worker_id, device, started_at, state)
         SELECT v.*, {ATTEMPT_RUNNING} FROM (VALUES {}) AS v RETURNING id, run_id",
        params.rows(leased.len(), 4)
    );
    let mut query = sqlx::query_as::<_, (i64, i64)>(sqlx::AssertSqlSafe(sql));
    for &(i, row) in leased {
        query = query
            .bind(row.try_get::<i64, _>("id")?)
            .bind(leases[i].worker.get())
            .bind(&leases[i].device)
            .bind(now);
    }
    let attempts: HashMap<i64, i64> = query
        .fetch_all(&mut *c)
        .await?
        .into_iter()
        .map(|(a, r)| (r, a))
        .collect();
    let sql = format!(
        "UPDATE runs SET state = {RUN_RUNNING}, attempts = runs.attempts + 1, lease_id = v.column2, lease_expires_at = v.column3
         FROM (VALUES {}) AS v WHERE runs.id = v.column1 AND runs.state = {RUN_QUEUED}",
        params.rows(leased.len(), 3)
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for &(i, row) in leased {
        let run: i64 = row.try_get("id")?;
        query = query
            .bind(run)
            .bind(attempts.get(&run).copied())
            .bind(now + leases[i].lease_ms);
    }
    let updated = query.execute(&mut *c).await?;
    debug_assert_eq!(updated.rows_affected(), leased.len() as u64);
    let mut runs = Vec::with_capacity(leased.len());
    for &(i, row) in leased {
        let run: i64 = row.try_get("id")?;
        let lease = attempts.get(&run).copied().ok_or_else(|| {
            CoordinatorError::Storage(format!("no attempt was recorded for run {run}"))
        })?;
        runs.push((
            i,
            LeasedRun {
                run: RunId(run),
                lease: LeaseId(lease),
                sweep: row.try_get("name")?,
                hyperparams_json: row.try_get("hyperparams_json")?,
                dataset_name: row.try_get("dname")?,
                dataset_sha256: row.try_get("dataset_sha256")?,
                dataset_builtin: row.try_get::<i64, _>("builtin")? != 0,
                samples_json: row.try_get("samples_json")?,
                attempt: row.try_get::<i64, _>("attempts")? as u32 + 1,
                resume_step: row.try_get::<i64, _>("checkpoint_step")? as u64,
            },
        ));
    }
    Ok(runs)
}
