//! States as enums: a run's, a sweep's and an attempt's, how an attempt ended, and what a
//! worker is told after a report. Their names, as stored in SQL and printed, are mapped
//! here once ([`Named`]); nothing else compares them as strings.

use serde::{Deserialize, Serialize};

/// An enum with one fixed name per variant: the form SQL stores and the terminal prints.
pub trait Named: Sized + Copy + 'static {
    /// Every variant, in declaration order.
    const ALL: &'static [Self];
    /// What the enum is, for messages ("run state").
    const WHAT: &'static str;
    /// The variant's name.
    fn as_str(self) -> &'static str;
    /// The variant named `name`; an error that lists the names otherwise.
    fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|v| v.as_str() == name)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                format!(
                    "{} {name:?} is unknown; expected {}",
                    Self::WHAT,
                    names.join(", ")
                )
            })
    }
}

/// Declares a [`Named`] enum whose serde form is the same names.
macro_rules! named {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal,)* }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant,)*
        }

        impl Named for $name {
            const ALL: &'static [Self] = &[$(Self::$variant),*];
            const WHAT: &'static str = $what;
            fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text,)*
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <Self as Named>::parse(s)
            }
        }
    };
}
pub(crate) use named;

named!(
    /// Where a run is in its life.
    RunState, "run state" {
        /// Waiting for a worker.
        Queued = "queued",
        /// Leased to a worker.
        Running = "running",
        /// Trained to the end.
        Finished = "finished",
        /// Failed its allowed attempts.
        Failed = "failed",
        /// Stopped while running (cancelled or early-terminated).
        Stopped = "stopped",
        /// Cancelled before it ran.
        Cancelled = "cancelled",
    }
);

impl RunState {
    /// Whether the run still has work ahead (queued or running).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

named!(
    /// Where a sweep is in its life.
    SweepState, "sweep state" {
        /// Some runs are queued or running.
        Running = "running",
        /// Every run has ended.
        Finished = "finished",
        /// Cancelled by a user.
        Cancelled = "cancelled",
    }
);

named!(
    /// How an attempt (a lease) stands or ended.
    AttemptState, "attempt state" {
        /// The worker is training.
        Running = "running",
        /// Trained to the end.
        Finished = "finished",
        /// Stopped on the coordinator's word.
        Stopped = "stopped",
        /// Training failed.
        Failed = "failed",
        /// The worker went quiet and the lease ran out.
        Expired = "expired",
        /// The worker stopped on a signal and handed the run back (not counted).
        Preempted = "preempted",
        /// The worker's device, memory or disk failed (not counted).
        WorkerFault = "worker_fault",
    }
);

impl AttemptState {
    /// Whether an attempt that ended so counts against the run's allowed attempts.
    pub fn counts_against_run(self) -> bool {
        !matches!(self, Self::Preempted | Self::WorkerFault)
    }
}

named!(
    /// How an attempt ended, as the worker says.
    Outcome, "outcome" {
        /// Trained to max_iters.
        Finished = "finished",
        /// Stopped on the coordinator's word.
        Stopped = "stopped",
        /// Training failed: the run's fault, counted against its attempts.
        Failed = "failed",
        /// The worker is stopping (a signal): the run is queued again at once.
        Preempted = "preempted",
        /// The worker's environment failed (device, memory, disk): queued again.
        WorkerFault = "worker_fault",
    }
);

impl Outcome {
    /// The state the run takes when its attempt ends so; `None` when the run is handed
    /// back to the queue (a failure may be retried instead, see the store).
    pub fn run_state(self) -> Option<RunState> {
        match self {
            Self::Finished => Some(RunState::Finished),
            Self::Stopped => Some(RunState::Stopped),
            Self::Failed => Some(RunState::Failed),
            Self::Preempted | Self::WorkerFault => None,
        }
    }

    /// The state the attempt is recorded with.
    pub fn attempt_state(self) -> AttemptState {
        match self {
            Self::Finished => AttemptState::Finished,
            Self::Stopped => AttemptState::Stopped,
            Self::Failed => AttemptState::Failed,
            Self::Preempted => AttemptState::Preempted,
            Self::WorkerFault => AttemptState::WorkerFault,
        }
    }
}

/// What a worker should do with a run after a report or heartbeat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    /// Keep training.
    Continue,
    /// Stop now, for the given reason.
    Stop(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trips<T: Named + std::fmt::Debug + PartialEq + Serialize>() {
        for v in T::ALL {
            assert_eq!(T::parse(v.as_str()).unwrap(), *v);
            assert_eq!(
                serde_json::to_value(v).unwrap(),
                serde_json::Value::String(v.as_str().into()),
                "serde and SQL names agree"
            );
        }
    }

    #[test]
    fn every_state_name_round_trips_and_matches_its_serde_form() {
        round_trips::<RunState>();
        round_trips::<SweepState>();
        round_trips::<AttemptState>();
        round_trips::<Outcome>();
    }

    #[test]
    fn an_unknown_name_is_refused_listing_the_known_ones() {
        let err = "done".parse::<RunState>().unwrap_err();
        assert_eq!(
            err,
            "run state \"done\" is unknown; expected queued, running, finished, failed, stopped, cancelled"
        );
    }
}
