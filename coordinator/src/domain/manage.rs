//! A client's changes to a sweep it names: cancel, retry, extend and delete. Each wakes
//! the lease polls when it may have queued runs (or taken leases away), and a delete
//! removes the checkpoint files nothing else refers to once it committed.

use crate::error::{CoordinatorError, Result};
use crate::store::{Cancel, Delete, Deleted, Extend, Extended, Retry, reads};

use super::Coordinator;

/// Which ended runs a retry queues again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetryWhich {
    /// Failed runs.
    pub failed: bool,
    /// Stopped runs.
    pub stopped: bool,
    /// Cancelled runs.
    pub cancelled: bool,
}

impl Coordinator {
    /// Cancels the sweep `sweep`: its queued runs are cancelled and its running ones told
    /// to stop. Answers (cancelled queued, stopping running).
    pub async fn cancel(&self, sweep: &str) -> Result<(u32, u32)> {
        let sweep = reads::sweep_id(&self.store.pool, sweep).await?;
        self.store.write(Cancel { sweep }).await
    }

    /// Queues again the runs of `sweep` that ended as `which` says; answers how many.
    pub async fn retry(&self, sweep: &str, which: RetryWhich) -> Result<u32> {
        if !(which.failed || which.stopped || which.cancelled) {
            return Err(CoordinatorError::Invalid(
                "retry: say which runs to queue again: failed, stopped and/or cancelled"
                    .to_string(),
            ));
        }
        let sweep = reads::sweep_id(&self.store.pool, sweep).await?;
        let n = self
            .store
            .write(Retry {
                sweep,
                failed: which.failed,
                stopped: which.stopped,
                cancelled: which.cancelled,
            })
            .await?;
        if n > 0 {
            self.work.notify_waiters();
        }
        Ok(n)
    }

    /// Raises the run cap of `sweep` by `runs`, queuing what that plans.
    pub async fn extend(&self, sweep: &str, runs: u32) -> Result<Extended> {
        let sweep = reads::sweep_id(&self.store.pool, sweep).await?;
        let e = self.store.write(Extend { sweep, runs }).await?;
        self.work.notify_waiters();
        Ok(e)
    }

    /// Deletes `sweep` (`force`: even with runs running); answers what went and the number
    /// of checkpoint files removed.
    pub async fn delete(&self, sweep: &str, force: bool) -> Result<(Deleted, u64)> {
        let sweep = reads::sweep_id(&self.store.pool, sweep).await?;
        let deleted = self.store.write(Delete { sweep, force }).await?;
        // Committed: the checkpoint files can go, but one another run refers to stays. A
        // forgotten dataset's file goes at the next collection (see `crate::collect`).
        let mut checkpoints = 0;
        for sha in &deleted.checkpoints {
            if !reads::checkpoint_in_use(&self.store.pool, sha).await? {
                self.checkpoints.remove(sha);
                checkpoints += 1;
            }
        }
        // Workers still on its runs are told at their next call (their leases are gone).
        self.work.notify_waiters();
        Ok((deleted, checkpoints))
    }
}
