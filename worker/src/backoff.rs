//! Retrying calls to a coordinator that may be restarting or unreachable: exponential
//! backoff with jitter, up to a cap, for as long as the error is transient.

use std::time::Duration;

use tonic::{Code, Status};

use crate::error::{Result, WorkerError};

/// Whether a failed call may succeed if tried again.
pub fn transient(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable
            | Code::Unknown
            | Code::DeadlineExceeded
            | Code::Aborted
            | Code::ResourceExhausted
            | Code::Cancelled
    )
}

/// Exponential backoff from 100 ms to `cap`, with jitter.
#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
    cap: Duration,
}

impl Backoff {
    /// Starts at 100 ms, never waits longer than `cap`.
    pub fn new(cap: Duration) -> Self {
        Self {
            next: Duration::from_millis(100),
            cap,
        }
    }

    /// Waits the current delay, then doubles it.
    pub async fn wait(&mut self) {
        let jitter = (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0)
            % 100) as u64;
        tokio::time::sleep(self.next + Duration::from_millis(jitter)).await;
        self.next = (self.next * 2).min(self.cap);
    }
}

/// Calls `f` until it succeeds or fails with a non-transient status.
pub async fn retry<T, F, Fut>(call: &'static str, mut f: F) -> Result<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    let mut backoff = Backoff::new(Duration::from_secs(5));
    loop {
        match f().await {
            Ok(v) => return Ok(v),
            Err(s) if transient(&s) => {
                tracing::warn!(
                    "{call}: coordinator unreachable ({}), retrying",
                    s.message()
                );
                backoff.wait().await;
            }
            Err(status) => return Err(WorkerError::Refused { call, status }),
        }
    }
}
