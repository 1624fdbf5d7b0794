//! The step an attempt resumed from, recorded when the coordinator has handed its worker
//! the checkpoint, not when it offered one. A lease offers the run's latest checkpoint
//! step; the worker then fetches it, and if the fetch fails (the checkpoints folder was
//! removed, the blob cannot be read) it trains from scratch. Recording the offer made
//! `show` say `resumed from step 1500` of a run that started over at step 0; recording
//! the delivery says what the worker was given.

use sqlx::AnyConnection;

use gptsweep_api::{LeaseId, RunId};

use super::Write;
use crate::error::Result;

/// Records that the attempt `lease` of `run` was handed the checkpoint of `step`.
#[derive(Debug, Clone)]
pub struct ResumedFrom {
    /// The run.
    pub run: RunId,
    /// Its attempt (a lease is an attempt's id).
    pub lease: LeaseId,
    /// The checkpoint's step.
    pub step: u64,
}

impl Write for ResumedFrom {
    type Output = ();

    async fn apply(self, c: &mut AnyConnection) -> Result<()> {
        sqlx::query("UPDATE attempts SET resumed_from = $1 WHERE id = $2 AND run_id = $3")
            .bind(i64::try_from(self.step).unwrap_or(i64::MAX))
            .bind(self.lease.get())
            .bind(self.run.get())
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}
