//! How a worker is asked to stop. The first SIGTERM or SIGINT drains it: no new work, each
//! running run stops at its next step boundary, checkpoints there, hands its lease back and
//! the worker leaves. A second one aborts: the worker exits at once and its leases expire
//! on the coordinator as if it had died.

use std::sync::{Arc, Mutex};

use tokio::sync::watch;

/// How far a stop has gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StopLevel {
    /// Work as usual.
    Run,
    /// Take no new work; hand running runs back at their next step.
    Drain,
    /// Exit now.
    Abort,
}

/// The sending side: the signal handler (or `local`, or a test) raises the level; a
/// drain that is not a signal's may say why ([`StopHandle::drain_because`]).
#[derive(Debug, Clone)]
pub struct StopHandle(watch::Sender<StopLevel>, Arc<Mutex<Option<String>>>);

/// The receiving side: the worker's loops watch it.
pub type StopSignal = watch::Receiver<StopLevel>;

/// A fresh pair at [`StopLevel::Run`].
pub fn channel() -> (StopHandle, StopSignal) {
    let (tx, rx) = watch::channel(StopLevel::Run);
    (StopHandle(tx, Arc::default()), rx)
}

impl StopHandle {
    /// Raises the level to `level` (never lowers it).
    pub fn raise(&self, level: StopLevel) {
        self.0.send_if_modified(|now| {
            let raised = level > *now;
            if raised {
                *now = level;
            }
            raised
        });
    }

    /// Drains, saying why (what `gptsweep workers` shows the worker left for) instead of
    /// a signal.
    pub fn drain_because(&self, reason: &str) {
        *self.1.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.to_string());
        self.raise(StopLevel::Drain);
    }

    /// Why the worker was drained, when [`StopHandle::drain_because`] said.
    pub fn reason(&self) -> Option<String> {
        self.1.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A new receiver, at the current level.
    pub fn subscribe(&self) -> StopSignal {
        self.0.subscribe()
    }

    /// One more signal: the first drains, any later one aborts. Answers the new level.
    pub fn escalate(&self) -> StopLevel {
        let next = match *self.0.borrow() {
            StopLevel::Run => StopLevel::Drain,
            _ => StopLevel::Abort,
        };
        self.raise(next);
        next
    }
}

/// Waits until `signal` reaches at least `level` (forever if its sender is gone first).
pub async fn reached(signal: &mut StopSignal, level: StopLevel) {
    if signal.wait_for(|now| *now >= level).await.is_err() {
        std::future::pending::<()>().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_signal_drains_and_the_second_aborts() {
        let (handle, signal) = channel();
        assert_eq!(*signal.borrow(), StopLevel::Run);
        assert_eq!(handle.escalate(), StopLevel::Drain);
        assert_eq!(handle.escalate(), StopLevel::Abort);
        handle.raise(StopLevel::Drain);
        assert_eq!(
            *signal.borrow(),
            StopLevel::Abort,
            "a level is never lowered"
        );
    }
}
