//! Whether the store accepts writes, as the writer last found out by writing: every batch
//! it commits says yes, every batch it cannot (a full disk, a database that went away)
//! says no. The reaper writes every couple of seconds, so the verdict is never older than
//! that while the coordinator serves. Each change is logged once (not once a batch), and
//! anything that must tell the outside world (health checks, the exit message) watches it.

use std::time::{Duration, Instant};

use tokio::sync::watch;

/// The writer's latest verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Writable {
    /// The last batch committed.
    Yes,
    /// Writes fail: since when (monotonic), and the latest reason.
    No {
        /// When the first failure of this spell came.
        since: Instant,
        /// The database's own words, for logs and health checks.
        reason: String,
    },
}

impl Writable {
    /// Whether writes are being committed.
    pub fn is_yes(&self) -> bool {
        matches!(self, Writable::Yes)
    }
}

/// The writer's side: sets the verdict and logs each change.
#[derive(Debug)]
pub(super) struct Health {
    tx: watch::Sender<Writable>,
    /// Batches refused in the current spell of failures.
    refused: u64,
}

impl Health {
    /// Starts writable.
    pub(super) fn new() -> Self {
        Self {
            tx: watch::channel(Writable::Yes).0,
            refused: 0,
        }
    }

    /// A receiver of the verdict.
    pub(super) fn watch(&self) -> watch::Receiver<Writable> {
        self.tx.subscribe()
    }

    /// A batch committed: writable again, said once.
    pub(super) fn committed(&mut self) {
        if let Writable::No { since, .. } = &*self.tx.borrow() {
            tracing::warn!(
                "store: writes commit again, after {:.1} s in which {} batches were refused",
                since.elapsed().as_secs_f64(),
                self.refused
            );
        }
        self.refused = 0;
        self.tx.send_if_modified(|w| {
            let changed = !w.is_yes();
            *w = Writable::Yes;
            changed
        });
    }

    /// A batch was refused for `reason`: not writable, said once a spell.
    pub(super) fn refused(&mut self, reason: &str) {
        self.refused += 1;
        self.tx.send_if_modified(|w| match w {
            Writable::Yes => {
                tracing::error!(
                    "store: writes fail and are refused until the database takes them again: {reason}"
                );
                *w = Writable::No {
                    since: Instant::now(),
                    reason: reason.to_string(),
                };
                true
            }
            Writable::No { reason: old, .. } => {
                old.clear();
                old.push_str(reason);
                false
            }
        });
    }
}

/// How long the writer waits before trying the database again after `failures` failures
/// in a row: 100 ms, doubling, at most 5 s.
pub(super) fn backoff(failures: u32) -> Duration {
    let ms = 100u64.saturating_mul(1 << failures.saturating_sub(1).min(6));
    Duration::from_millis(ms.min(5_000))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spell_of_failures_is_one_change_and_recovery_another() {
        let mut h = Health::new();
        let mut rx = h.watch();
        assert!(rx.borrow_and_update().is_yes());
        h.refused("disk full");
        assert!(rx.has_changed().unwrap());
        assert!(!rx.borrow_and_update().is_yes());
        h.refused("still full");
        assert!(
            !rx.has_changed().unwrap(),
            "a second failure changes nothing"
        );
        match &*rx.borrow() {
            Writable::No { reason, .. } => assert_eq!(reason, "still full"),
            w => panic!("{w:?}"),
        }
        h.committed();
        assert!(rx.has_changed().unwrap());
        assert!(rx.borrow_and_update().is_yes());
        h.committed();
        assert!(!rx.has_changed().unwrap());
    }

    #[test]
    fn backoff_doubles_from_100_ms_to_5_s() {
        assert_eq!(backoff(1), Duration::from_millis(100));
        assert_eq!(backoff(2), Duration::from_millis(200));
        assert_eq!(backoff(4), Duration::from_millis(800));
        assert_eq!(backoff(30), Duration::from_secs(5));
    }
}
