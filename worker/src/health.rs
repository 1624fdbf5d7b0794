//! A device's health as its runs end: failures in a row, and the switch that stops it
//! taking work (`--max-consecutive-failures`). Shared by the device's run slots
//! (`--runs-per-device`), so packed runs count towards one verdict.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use gptsweep_api::{Outcome, RunId};

/// Failures in a row of one device, and whether it has been disabled.
#[derive(Debug)]
pub struct DeviceHealth {
    /// Failures in a row that disable the device.
    max: u32,
    state: Mutex<InARow>,
    disabled: AtomicBool,
}

#[derive(Debug, Default)]
struct InARow {
    failures: u32,
    /// The run whose own failure was counted last: it counts once however often it fails.
    last_failed: Option<RunId>,
}

impl DeviceHealth {
    /// A healthy device disabled after `max` failures in a row (at least 1).
    pub fn new(max: u32) -> Self {
        Self {
            max: max.max(1),
            state: Mutex::default(),
            disabled: AtomicBool::new(false),
        }
    }

    /// Whether the device stopped taking work.
    pub fn is_disabled(&self) -> bool {
        self.disabled.load(Ordering::SeqCst)
    }

    /// Records how `run` ended. A finished or stopped run resets the count; a worker fault
    /// counts each time; a run's own failure counts once per run in a row (one diverging run
    /// cannot disable a good device). Answers how many failures are now in a row, and
    /// whether this record is the one that disabled the device.
    pub fn record(&self, run: RunId, outcome: Outcome) -> (u32, bool) {
        let mut s = self.state.lock().expect("not poisoned");
        match outcome {
            Outcome::Finished | Outcome::Stopped => *s = InARow::default(),
            Outcome::Preempted => {}
            Outcome::Failed | Outcome::WorkerFault => {
                let again = outcome == Outcome::Failed && s.last_failed == Some(run);
                if !again {
                    s.failures += 1;
                }
                s.last_failed = Some(run);
            }
        }
        let over = s.failures >= self.max;
        let newly = over && !self.disabled.swap(true, Ordering::SeqCst);
        (s.failures, newly)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn worker_faults_count_each_time_and_a_runs_own_failure_once() {
        let h = DeviceHealth::new(3);
        assert_eq!(h.record(RunId(1), Outcome::Failed), (1, false));
        assert_eq!(
            h.record(RunId(1), Outcome::Failed),
            (1, false),
            "same run again"
        );
        assert_eq!(h.record(RunId(2), Outcome::Finished), (0, false), "reset");
        assert_eq!(h.record(RunId(3), Outcome::WorkerFault), (1, false));
        assert_eq!(h.record(RunId(3), Outcome::WorkerFault), (2, false));
        assert!(!h.is_disabled());
        assert_eq!(h.record(RunId(3), Outcome::WorkerFault), (3, true));
        assert!(h.is_disabled());
        assert_eq!(
            h.record(RunId(4), Outcome::Failed),
            (4, false),
            "disabled once"
        );
    }
}
