//! What a leased run's worker reports: its evaluations as it trains (answered with
//! whether to go on: a sweep's early stopping speaks here), and how its attempt ended.

use gptsweep_api::report_rules::check_evaluations;
use gptsweep_api::{Directive, Evaluation, LeaseId, Outcome, RunId, Sample, WorkerId};

use crate::error::{CoordinatorError, Result};
use crate::store::{Finish, Report};

use super::Coordinator;

/// The most evaluations one report may carry.
const MAX_EVALS: usize = 10_000;

/// How an attempt ended, as its worker says.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
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
}

impl Coordinator {
    /// Stores `evals` of `worker`'s `lease` on `run` (renewing it); answers whether to go
    /// on.
    pub async fn report(
        &self,
        run: RunId,
        lease: LeaseId,
        worker: WorkerId,
        evals: Vec<Evaluation>,
    ) -> Result<Directive> {
        if evals.len() > MAX_EVALS {
            return Err(CoordinatorError::Invalid(format!(
                "at most {MAX_EVALS} evaluations per report"
            )));
        }
        check_evaluations(&evals)?;
        let n = evals.len() as u64;
        let d = self
            .store
            .write(Report {
                run,
                lease,
                worker,
                evals,
                lease_ms: self.lease_ms(),
            })
            .await?;
        self.metrics.reports.inc();
        self.metrics.reported_evaluations.inc_by(n);
        Ok(d)
    }

    /// Ends `worker`'s attempt as `ended` says: the run is finished, stopped, queued again
    /// or failed (once it used up its attempts).
    pub async fn finish(&self, worker: WorkerId, ended: Ended) -> Result<()> {
        if ended.samples.len() > 16 || ended.error.len() > 64 << 10 {
            return Err(CoordinatorError::Invalid(
                "at most 16 samples and a 64 KiB error per run".to_string(),
            ));
        }
        let outcome = ended.outcome;
        self.store
            .write(Finish {
                run: ended.run,
                lease: ended.lease,
                worker,
                outcome,
                error: ended.error,
                samples: ended.samples,
                summary_json: ended.summary_json,
                max_attempts: self.config.max_attempts,
            })
            .await?;
        self.metrics
            .attempts_ended
            .get_or_create(&crate::metrics::State {
                state: outcome.to_string(),
            })
            .inc();
        // A run handed back or failed may be queued again: wake the pollers. A finished or
        // stopped run frees nothing they could lease, and waking every idle worker's poll
        // on each one costs as many empty leases as there are idle workers.
        if !matches!(outcome, Outcome::Finished | Outcome::Stopped) {
            self.work.notify_waiters();
        }
        Ok(())
    }
}
