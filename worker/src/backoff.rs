//! Retrying calls to a coordinator that may be restarting or unreachable: exponential
//! backoff with full jitter, for as long as the error is transient.
//!
//! Full jitter (each wait drawn uniformly from zero to a ceiling that doubles from
//! [`BASE`] up to a cap) is what keeps a fleet from stampeding: a thousand workers that
//! lost the coordinator at the same instant would, with a fixed or merely doubling delay,
//! all come back in the same few milliseconds, again and again; drawn over the whole
//! window, they arrive spread over it (the "full jitter" of AWS's analysis of backoff).

use std::time::Duration;

use rand::Rng;
use tonic::{Code, Status};

use crate::error::{Result, WorkerError};

/// The first ceiling: the first retry waits up to this long.
pub const BASE: Duration = Duration::from_millis(100);

/// The longest wait between tries of a call made outside any lease.
pub const CAP: Duration = Duration::from_secs(5);

/// Whether a failed call may succeed if tried again.
pub fn transient(status: &Status) -> bool {
    match status.code() {
        Code::Unavailable
        | Code::Unknown
        | Code::DeadlineExceeded
        | Code::Aborted
        | Code::ResourceExhausted
        | Code::Cancelled => true,
        // tonic reports a connection the coordinator closed under a call as INTERNAL: among
        // them the GOAWAY of a graceful shutdown (HTTP/2 NO_ERROR) for calls it had not
        // taken, which gRPC means as UNAVAILABLE. The coordinator's own INTERNAL answers
        // come without a transport error, and are not retried.
        Code::Internal => from_transport(status),
        _ => false,
    }
}

/// Whether the failure was the connection's (a transport error in its chain of causes).
fn from_transport(status: &Status) -> bool {
    let mut cause = std::error::Error::source(status);
    while let Some(e) = cause {
        if e.is::<tonic::transport::Error>() {
            return true;
        }
        cause = e.source();
    }
    false
}

/// Exponential backoff with full jitter: the n-th wait is drawn uniformly from
/// `[0, min(cap, BASE * 2^n)]`.
#[derive(Debug, Clone)]
pub struct Backoff {
    ceiling: Duration,
    cap: Duration,
}

impl Backoff {
    /// Starts with a ceiling of [`BASE`], never waits longer than `cap`.
    pub fn new(cap: Duration) -> Self {
        Self {
            ceiling: BASE.min(cap),
            cap,
        }
    }

    /// The next wait, drawn with `rng`; the ceiling then doubles, up to the cap.
    pub fn next_delay(&mut self, rng: &mut impl Rng) -> Duration {
        let delay = full_jitter(self.ceiling, rng);
        self.ceiling = (self.ceiling * 2).min(self.cap);
        delay
    }

    /// Waits the next delay.
    pub async fn wait(&mut self) {
        let delay = self.next_delay(&mut rand::rng());
        tokio::time::sleep(delay).await;
    }
}

/// A wait drawn uniformly from `[0, ceiling]`.
pub fn full_jitter(ceiling: Duration, rng: &mut impl Rng) -> Duration {
    let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.random_range(0..=nanos))
}

/// Calls `f` until it succeeds or fails with a non-transient status.
pub async fn retry<T, F, Fut>(call: &'static str, f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    retry_within(call, CAP, f).await
}

/// [`retry`], never waiting longer than `cap` between tries: a call made under a lease
/// retries at least once a heartbeat interval, so that a coordinator back from a restart
/// hears the worker within the grace it gives its leases.
pub async fn retry_within<T, F, Fut>(call: &'static str, cap: Duration, f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    retry_with(cap, f, |s| {
        tracing::warn!(
            "{call}: coordinator unreachable ({}), retrying",
            s.message()
        )
    })
    .await
    .map_err(|status| WorkerError::Refused { call, status })
}

/// Calls `f` until it succeeds or fails with a non-transient status (answered as is),
/// telling `on_retry` of each transient failure before waiting with the backoff (never
/// longer than `cap`).
pub async fn retry_with<T, F, Fut>(
    cap: Duration,
    mut f: F,
    mut on_retry: impl FnMut(&Status),
) -> std::result::Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = std::result::Result<T, Status>>,
{
    let mut backoff = Backoff::new(cap);
    loop {
        match f().await {
            Err(s) if transient(&s) => {
                on_retry(&s);
                backoff.wait().await;
            }
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;
    use rand::rngs::StdRng;

    #[test]
    fn every_wait_stays_under_a_ceiling_that_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(5);
        let mut rng = StdRng::seed_from_u64(7);
        for _ in 0..200 {
            let mut backoff = Backoff::new(cap);
            let mut ceiling = BASE;
            for _ in 0..12 {
                let d = backoff.next_delay(&mut rng);
                assert!(d <= ceiling, "{d:?} over the ceiling {ceiling:?}");
                ceiling = (ceiling * 2).min(cap);
            }
        }
        // After enough failures the ceiling is the cap, never more.
        let mut backoff = Backoff::new(cap);
        for _ in 0..40 {
            backoff.next_delay(&mut rng);
        }
        assert_eq!(backoff.ceiling, cap);
    }

    #[test]
    fn waits_spread_over_the_whole_window() {
        // A thousand workers failing at once: their first waits cover [0, BASE] evenly,
        // not one instant (each tenth of the window gets 60-140 of them).
        let mut rng = StdRng::seed_from_u64(11);
        let mut buckets = [0u32; 10];
        for _ in 0..1000 {
            let d = Backoff::new(Duration::from_secs(5)).next_delay(&mut rng);
            let i = (d.as_secs_f64() / BASE.as_secs_f64() * 10.0) as usize;
            buckets[i.min(9)] += 1;
        }
        assert!(
            buckets.iter().all(|&n| (60..=140).contains(&n)),
            "{buckets:?}"
        );
        // And at the cap, the mean wait is half of it.
        let cap = Duration::from_secs(5);
        let mean = (0..2000)
            .map(|_| full_jitter(cap, &mut rng).as_secs_f64())
            .sum::<f64>()
            / 2000.0;
        assert!((2.3..2.7).contains(&mean), "{mean}");
    }

    #[test]
    fn a_refusal_is_final_and_an_outage_is_not() {
        assert!(transient(&Status::unavailable("restarting")));
        assert!(transient(&Status::cancelled("connection closed")));
        // The coordinator's own INTERNAL answer carries no transport error.
        assert!(!transient(&Status::internal("a bug")));
        assert!(!transient(&Status::failed_precondition("lease lost")));
    }

    #[test]
    fn a_cap_below_the_base_bounds_the_first_wait_too() {
        let cap = Duration::from_millis(10);
        let mut rng = StdRng::seed_from_u64(3);
        let mut backoff = Backoff::new(cap);
        for _ in 0..100 {
            assert!(backoff.next_delay(&mut rng) <= cap);
        }
    }
}
