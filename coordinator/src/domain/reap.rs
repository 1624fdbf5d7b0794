//! The lease reaper: every tick, leases not renewed in time are expired and their runs
//! requeued ([`Coordinator::reap`]), or failed once they used up their attempts. It must never blame a worker for the coordinator's own silence, so it grants
//! a grace (every running lease lasts one more lease timeout from now, as after a
//! restart) instead of expiring when
//! - a storage fault kept its writes, and the workers' renewals, from committing; or
//! - it ran late itself: the process was stopped (SIGSTOP, a debugger), its VM paused or
//!   migrated, or the machine stalled. Renewals sent meanwhile wait in sockets and queues
//!   that nobody read, and an expiry judged first would throw away the work of workers
//!   that are alive (a 12 s SIGSTOP with 5 s leases requeued both runs of a sweep). A
//!   tick is late when more time passed since the last one, on the monotonic clock or on
//!   the wall clock (which also counts a suspended VM), than a period and a quarter lease
//!   timeout.

use std::time::{Duration, Instant};

use super::Coordinator;
use crate::clock::now_ms;
use crate::error::{CoordinatorError, Result};
use crate::store::{ExpireLeases, GraceLeases};
use gptsweep_api::RunId;

/// How the reaper notices that time passed without it.
#[derive(Debug)]
struct Stall {
    mono: Instant,
    wall: i64,
    /// More than this between ticks is a stall.
    limit: Duration,
}

impl Stall {
    fn new(limit: Duration) -> Self {
        Self {
            mono: Instant::now(),
            wall: now_ms(),
            limit,
        }
    }

    /// Notes a tick at (`mono`, `wall`); answers the gap since the last one if it was a
    /// stall.
    fn tick_at(&mut self, mono: Instant, wall: i64) -> Option<Duration> {
        let gap = mono
            .saturating_duration_since(self.mono)
            .max(Duration::from_millis((wall - self.wall).max(0) as u64));
        self.mono = mono;
        self.wall = wall;
        (gap > self.limit).then_some(gap)
    }
}

impl Coordinator {
    /// Judges every running lease from now (a grace of one lease timeout: its worker could
    /// not renew it while no coordinator answered) and starts the lease reaper and the
    /// collection of unused datasets. Called as serving starts, so that a slow start (a
    /// busy database, many orphans to collect) does not use up the grace before any
    /// worker can be heard.
    pub(crate) async fn start_leases(&self) -> Result<()> {
        let graced = self.grace_leases().await?;
        if graced > 0 {
            tracing::info!(
                "{graced} running runs keep their leases for {:?} from now",
                self.config.lease_timeout
            );
        }
        self.spawn_reaper();
        self.spawn_collector();
        Ok(())
    }

    /// Gives every running lease one lease timeout from now; answers how many.
    async fn grace_leases(&self) -> Result<u64> {
        let lease_ms = self.lease_ms();
        self.store.write(GraceLeases { lease_ms }).await
    }

    /// Expires the leases not renewed in time: their runs are queued again, or failed
    /// once they used up their attempts. Answers those runs.
    pub async fn reap(&self) -> Result<Vec<RunId>> {
        let expired = self
            .store
            .write(ExpireLeases {
                max_attempts: self.config.max_attempts,
            })
            .await?;
        if !expired.is_empty() {
            self.metrics.leases_expired.inc_by(expired.len() as u64);
            tracing::warn!("leases expired, runs requeued: {expired:?}");
            self.work.notify_waiters();
        }
        Ok(expired)
    }

    /// Starts the reaper (see the module's doc).
    fn spawn_reaper(&self) {
        let c = self.clone();
        let lease = self.config.lease_timeout;
        let period = (lease / 10).clamp(Duration::from_millis(100), Duration::from_secs(2));
        let mut stopping = self.stopping.subscribe();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut stall = Stall::new(period + lease / 4);
            let mut recovering = false;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = stopping.wait_for(|s| *s) => return,
                }
                if let Some(gap) = stall.tick_at(Instant::now(), now_ms()) {
                    tracing::warn!(
                        "the coordinator did not run for {:.1} s (stopped, paused or stalled): \
                         running leases get {lease:?} from now before any expires",
                        gap.as_secs_f64()
                    );
                    recovering = true;
                }
                if recovering {
                    match c.grace_leases().await {
                        Ok(_) => recovering = false,
                        Err(CoordinatorError::WriterGone) => return,
                        Err(e) => tracing::error!("lease reaper: {e}"),
                    }
                    // Expiry is judged at the next tick, once the renewals that waited
                    // have been heard.
                    continue;
                }
                match c.reap().await {
                    Ok(_) => {}
                    Err(CoordinatorError::WriterGone) => return,
                    Err(e) => {
                        recovering = e.is_storage_fault();
                        tracing::error!("lease reaper: {e}");
                    }
                }
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gap_on_either_clock_past_the_limit_is_a_stall() {
        let t0 = Instant::now();
        let mut s = Stall {
            mono: t0,
            wall: 1_000_000,
            limit: Duration::from_secs(2),
        };
        assert_eq!(s.tick_at(t0 + Duration::from_millis(500), 1_000_500), None);
        // SIGSTOP: both clocks moved 12 s.
        assert_eq!(
            s.tick_at(t0 + Duration::from_millis(12_500), 1_012_500),
            Some(Duration::from_secs(12))
        );
        // A suspended VM: the monotonic clock stood still, the wall clock did not.
        assert_eq!(
            s.tick_at(t0 + Duration::from_millis(13_000), 1_060_000),
            Some(Duration::from_millis(47_500))
        );
        // A wall clock set back is no stall.
        assert_eq!(s.tick_at(t0 + Duration::from_millis(13_500), 900_000), None);
    }
}
