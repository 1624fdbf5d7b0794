//! Leasing runs to workers: the long poll that hands a queued run to a worker's device,
//! and the renewals (heartbeats) that keep it. A storage fault met while serving a lease's
//! holder renews the lease before it is answered ([`Coordinator::keep_lease`]): the worker
//! is alive, and the fault is the coordinator's.

use std::time::Duration;

use gptsweep_api::progress::check_progress;
use gptsweep_api::{Directive, LeaseId, LeasedRun, RunId, WorkerId};

use crate::error::{CoordinatorError, Result};
use crate::store::{Heartbeat, Lease};

use super::Coordinator;

/// Longest a lease poll is held open.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// What a worker asks to lease.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaseAsk {
    /// Its device, by which runs are matched to memory.
    pub device: String,
    /// Only runs whose memory estimate fits the device.
    pub fit_memory: bool,
    /// How long to wait for a run when none is queued (at most [`MAX_WAIT`]).
    pub wait: Duration,
}

impl Coordinator {
    /// Leases a queued run to `worker`'s device, waiting up to `ask.wait` for one; `None`
    /// when none came. Refused ([`CoordinatorError::ShuttingDown`]) once the coordinator
    /// stops serving.
    pub async fn lease(&self, worker: WorkerId, ask: LeaseAsk) -> Result<Option<LeasedRun>> {
        let deadline = tokio::time::Instant::now() + ask.wait.min(MAX_WAIT);
        let mut stopping = self.stopping.subscribe();
        loop {
            let notified = self.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let leased = self
                .store
                .write(Lease {
                    worker,
                    device: ask.device.clone(),
                    lease_ms: self.lease_ms(),
                    fit_memory: ask.fit_memory,
                })
                .await?;
            if let Some(run) = leased {
                self.metrics.leases.inc();
                return Ok(Some(run));
            }
            tokio::select! {
                _ = &mut notified => continue,
                _ = tokio::time::sleep_until(deadline) => return Ok(None),
                _ = stopping.wait_for(|s| *s) => return Err(CoordinatorError::ShuttingDown),
            }
        }
    }

    /// Renews `worker`'s `lease` on `run`, noting its `progress` (step, tokens per second)
    /// if given; answers whether to go on.
    pub async fn heartbeat(
        &self,
        run: RunId,
        lease: LeaseId,
        worker: WorkerId,
        progress: Option<(u64, f64)>,
    ) -> Result<Directive> {
        if let Some((_, rate)) = progress {
            check_progress(rate)?;
        }
        self.store
            .write(Heartbeat {
                run,
                lease,
                worker,
                lease_ms: self.lease_ms(),
                progress,
            })
            .await
    }

    /// The error to answer for `e`, a storage fault met while serving `worker`, the holder
    /// of `lease` on `run` (`what` failed): the worker is alive and keeps its run, so its
    /// lease is renewed as by a heartbeat, and `e` is answered (it says to retry). A lease
    /// already lost is said instead.
    pub(crate) async fn keep_lease(
        &self,
        what: &str,
        run: RunId,
        lease: LeaseId,
        worker: WorkerId,
        e: CoordinatorError,
    ) -> CoordinatorError {
        tracing::error!(run = %run, "{what}: {e}");
        match self.heartbeat(run, lease, worker, None).await {
            Err(lost @ CoordinatorError::LeaseLost(_)) => lost,
            _ => e,
        }
    }
}
