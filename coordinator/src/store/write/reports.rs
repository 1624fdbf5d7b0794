//! What a lease holder sends while it trains: evaluations (which may meet a rung of early
//! termination) and the latest checkpoint.

use sqlx::AnyConnection;

use gptsweep_api::{Directive, Evaluation, LeaseId, RunId};

use super::Write;
use super::leases::{check_lease, extend_lease, renew};
use crate::clock::now_ms;
use crate::error::Result;
use crate::store::rungs;

/// Stores evaluations (idempotent per step), renews the lease, and answers the directive:
/// stop when the run was cancelled or falls outside a rung's best.
#[derive(Debug, Clone)]
pub struct Report {
    /// The run.
    pub run: RunId,
    /// The lease that claims it.
    pub lease: LeaseId,
    /// New evaluations.
    pub evals: Vec<Evaluation>,
    /// How long the lease lasts from now, ms.
    pub lease_ms: i64,
}

impl Write for Report {
    type Output = Directive;

    async fn apply(self, c: &mut AnyConnection) -> Result<Directive> {
        let Report {
            run,
            lease,
            evals,
            lease_ms,
        } = self;
        let held = check_lease(c, run, lease).await?;
        let now = now_ms();
        for e in &evals {
            sqlx::query(
                "INSERT INTO evals (run_id, step, train_loss, val_loss, train_bpc, val_bpc, tokens_per_sec, train_secs, attempt_id, recorded_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT(run_id, step) DO NOTHING",
            )
            .bind(run.get())
            .bind(e.step as i64)
            .bind(e.train_loss as f64)
            .bind(e.val_loss as f64)
            .bind(e.train_bpc as f64)
            .bind(e.val_bpc as f64)
            .bind(e.tokens_per_sec)
            .bind(e.train_secs)
            .bind(lease.get())
            .bind(now)
            .execute(&mut *c)
            .await?;
        }
        if let Some(last) = evals.iter().max_by_key(|e| e.step) {
            let lowest = evals
                .iter()
                .map(|e| e.val_loss as f64)
                .fold(f64::INFINITY, f64::min);
            let best = evals
                .iter()
                .min_by(|a, b| a.val_loss.total_cmp(&b.val_loss));
            sqlx::query(
                "UPDATE runs SET
                   best_step = CASE WHEN best_val_loss IS NULL OR $1 < best_val_loss THEN $2 ELSE best_step END,
                   best_val_loss = (SELECT MIN(val_loss) FROM evals WHERE run_id = $3),
                   best_val_bpc = (SELECT MIN(val_bpc) FROM evals WHERE run_id = $3),
                   last_train_loss = $4, last_step = CASE WHEN last_step > $5 THEN last_step ELSE $6 END, tokens_per_sec = $7, train_secs = $8,
                   lease_expires_at = $10, last_train_bpc = $11
                 WHERE id = $9",
            )
            .bind(lowest)
            .bind(best.map(|e| e.step as i64))
            .bind(run.get())
            .bind(last.train_loss as f64)
            .bind(last.step as i64)
            .bind(last.step as i64)
            .bind(last.tokens_per_sec)
            .bind(last.train_secs)
            .bind(run.get())
            .bind(now + lease_ms)
            .bind(last.train_bpc as f64)
            .execute(&mut *c)
            .await?;
        } else {
            extend_lease(c, run, lease_ms).await?;
        }
        held.touch_worker(c, now).await?;
        if held.directive != Directive::Continue || !held.early {
            return Ok(held.directive);
        }
        rungs::judge(c, run, &evals).await
    }
}

/// Records a checkpoint blob as the run's latest if it is newer than the stored one;
/// answers the blob no longer referenced (the old one, or this one if stale).
#[derive(Debug, Clone)]
pub struct SetCheckpoint {
    /// The run.
    pub run: RunId,
    /// The lease that claims it.
    pub lease: LeaseId,
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
        renew(c, self.run, self.lease, self.lease_ms).await?;
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
