//! What a lease holder sends while it trains: evaluations (which may meet a rung of early
//! termination) and the latest checkpoint. Only the lease's worker may send them, at steps
//! within the run's `max_iters`.

use sqlx::AnyConnection;

use gptsweep_api::{Directive, Evaluation, LeaseId, RunId, WorkerId};

use super::Write;
use super::group::{alone, distinct, each_chunk};
use super::leases::{Claim, Held, check_lease, check_leases, extend_lease, touch_all};
use crate::clock::now_ms;
use crate::error::Result;
use crate::store::rungs;

/// Stores evaluations (idempotent per step), renews the lease, and answers the directive:
/// stop when the run was cancelled or falls outside a rung's best. Refused, storing
/// nothing, unless the lease is the worker's and every step is within the run's
/// `max_iters` (the evaluations' own values are checked before, by
/// `gptsweep_api::report_rules`).
#[derive(Debug, Clone)]
pub struct Report {
    /// The run.
    pub run: RunId,
    /// The lease that claims it.
    pub lease: LeaseId,
    /// The worker calling: the lease must be its own.
    pub worker: WorkerId,
    /// New evaluations.
    pub evals: Vec<Evaluation>,
    /// How long the lease lasts from now, ms.
    pub lease_ms: i64,
}

impl Write for Report {
    type Output = Directive;

    async fn apply(self, c: &mut AnyConnection) -> Result<Directive> {
        alone(self, c).await
    }

    /// A group of reports in a few statements whatever its size: one lease check, one
    /// insert of every evaluation, one update of every run, one touch of every stale
    /// worker (then the rungs of early-terminating runs, judged one run after another).
    /// A fleet's reports queue together; one at a time they cost the writer 3 to 4 round
    /// trips each (BENCHMARKS.md, "1,000 workers").
    async fn apply_many(
        reports: Vec<Report>,
        c: &mut AnyConnection,
    ) -> Result<Vec<Result<Directive>>> {
        let mut answers = Vec::with_capacity(reports.len());
        for group in distinct(reports, |r| r.run) {
            answers.extend(apply_group(group, c).await?);
        }
        Ok(answers)
    }
}

/// Applies reports of distinct runs as one: a report whose lease no longer holds, is
/// another worker's, or names a step past the run's `max_iters` is answered with that
/// error and changes nothing; the others are stored together.
async fn apply_group(
    reports: Vec<Report>,
    c: &mut AnyConnection,
) -> Result<Vec<Result<Directive>>> {
    let claims: Vec<Claim> = reports
        .iter()
        .map(|r| Claim {
            run: r.run,
            lease: r.lease,
            worker: r.worker,
        })
        .collect();
    let held: Vec<Result<Held>> = check_leases(c, &claims)
        .await?
        .into_iter()
        .zip(&reports)
        .map(|(h, r)| h.and_then(|h| h.check_steps(&r.evals).map(|()| h)))
        .collect();
    let now = now_ms();
    let live: Vec<(&Report, &Held)> = reports
        .iter()
        .zip(&held)
        .filter_map(|(r, h)| Some((r, h.as_ref().ok()?)))
        .collect();
    insert_evals(c, &live, now).await?;
    update_runs(c, &live, now).await?;
    for (r, _) in live.iter().filter(|(r, _)| r.evals.is_empty()) {
        extend_lease(c, r.run, r.lease_ms).await?;
    }
    let mut stale: Vec<WorkerId> = live
        .iter()
        .filter_map(|(_, h)| h.stale_worker(now))
        .collect();
    stale.sort_unstable_by_key(|w| w.get());
    stale.dedup();
    touch_all(c, &stale, now).await?;
    let mut answers = Vec::with_capacity(reports.len());
    for (r, h) in reports.iter().zip(held) {
        answers.push(match h {
            Err(e) => Err(e),
            Ok(h) if h.directive != Directive::Continue || !h.early => Ok(h.directive),
            Ok(_) => Ok(rungs::judge(c, r.run, &r.evals).await?),
        });
    }
    Ok(answers)
}

/// Stores every evaluation of `live`, keeping the one already stored for a step.
async fn insert_evals(c: &mut AnyConnection, live: &[(&Report, &Held)], now: i64) -> Result<()> {
    let evals: Vec<(&Report, &Evaluation)> = live
        .iter()
        .flat_map(|(r, _)| r.evals.iter().map(move |e| (*r, e)))
        .collect();
    each_chunk(
        c,
        &evals,
        10,
        |rows| {
            format!(
                "INSERT INTO evals (run_id, step, train_loss, val_loss, train_bpc, val_bpc, tokens_per_sec, train_secs, attempt_id, recorded_at)
                 VALUES {rows} ON CONFLICT(run_id, step) DO NOTHING"
            )
        },
        |query, (r, e)| {
            query
                .bind(r.run.get())
                .bind(e.step as i64)
                .bind(e.train_loss as f64)
                .bind(e.val_loss as f64)
                .bind(e.train_bpc as f64)
                .bind(e.val_bpc as f64)
                .bind(e.tokens_per_sec)
                .bind(e.train_secs)
                .bind(r.lease.get())
                .bind(now)
        },
    )
    .await
}

/// Updates the running stats of every run of `live` that reported evaluations (best and
/// latest values, step and speed) and extends its lease, in one statement a chunk.
async fn update_runs(c: &mut AnyConnection, live: &[(&Report, &Held)], now: i64) -> Result<()> {
    let with_evals: Vec<&Report> = live
        .iter()
        .map(|(r, _)| *r)
        .filter(|r| !r.evals.is_empty())
        .collect();
    // v: run id, lowest val_loss reported, its step, then the latest evaluation's
    // train_loss, step, tokens/s, train seconds, and the lease's new expiry, train_bpc.
    each_chunk(
        c,
        &with_evals,
        9,
        |rows| {
            format!(
                "UPDATE runs SET
                   best_step = CASE WHEN runs.best_val_loss IS NULL OR v.column2 < runs.best_val_loss THEN v.column3 ELSE runs.best_step END,
                   best_val_loss = (SELECT MIN(val_loss) FROM evals WHERE run_id = runs.id),
                   best_val_bpc = (SELECT MIN(val_bpc) FROM evals WHERE run_id = runs.id),
                   last_train_loss = v.column4,
                   last_step = CASE WHEN runs.last_step > v.column5 THEN runs.last_step ELSE v.column5 END,
                   tokens_per_sec = v.column6, train_secs = v.column7,
                   lease_expires_at = v.column8, last_train_bpc = v.column9
                 FROM (VALUES {rows}) AS v WHERE runs.id = v.column1"
            )
        },
        |query, r| {
            let last = r
                .evals
                .iter()
                .max_by_key(|e| e.step)
                .expect("filtered above");
            let best = r
                .evals
                .iter()
                .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss))
                .expect("filtered above");
            query
                .bind(r.run.get())
                .bind(best.val_loss as f64)
                .bind(best.step as i64)
                .bind(last.train_loss as f64)
                .bind(last.step as i64)
                .bind(last.tokens_per_sec)
                .bind(last.train_secs)
                .bind(now + r.lease_ms)
                .bind(last.train_bpc as f64)
        },
    )
    .await
}

/// Records a checkpoint blob as the run's latest if it is newer than the stored one;
/// answers the blob no longer referenced (the old one, or this one if stale). Refused
/// unless the lease is the worker's and the step within the run's `max_iters`.
#[derive(Debug, Clone)]
pub struct SetCheckpoint {
    /// The run.
    pub run: RunId,
    /// The lease that claims it.
    pub lease: LeaseId,
    /// The worker calling: the lease must be its own.
    pub worker: WorkerId,
    /// The blob.
    pub sha256: String,
    /// Completed steps it holds.
    pub step: u64,
    /// How long the lease lasts from now, ms.
    pub lease_ms: i64,
}

impl Write for SetCheckpoint {
    type Output = Option<String>;

    async fn apply(self, c: &mut AnyConnection) -> Result<Option<String>> {
        let claim = Claim {
            run: self.run,
            lease: self.lease,
            worker: self.worker,
        };
        let held = check_lease(c, claim).await?;
        held.check_checkpoint_step(self.step)?;
        extend_lease(c, self.run, self.lease_ms).await?;
        held.touch_worker(c, now_ms()).await?;
        let (old_sha, old_step): (Option<String>, i64) =
            sqlx::query_as("SELECT checkpoint_sha256, checkpoint_step FROM runs WHERE id = $1")
                .bind(self.run.get())
                .fetch_one(&mut *c)
                .await?;
        if (self.step as i64) < old_step {
            return Ok(Some(self.sha256).filter(|s| old_sha.as_deref() != Some(s)));
        }
        sqlx::query("UPDATE runs SET checkpoint_sha256 = $1, checkpoint_step = $2 WHERE id = $3")
            .bind(&self.sha256)
            .bind(self.step as i64)
            .bind(self.run.get())
            .execute(&mut *c)
            .await?;
        Ok(old_sha.filter(|s| *s != self.sha256))
    }
}
