//! States as enums: a run's, a sweep's and an attempt's, how an attempt ended, and what a
//! worker is told after a report. Their names, as stored in SQL and printed, are mapped
//! here once ([`Named`]); nothing else compares them as strings.

use serde::{Deserialize, Serialize};

/// An enum with one fixed name per variant: the form SQL stores and the terminal prints.
/// The names are strum's (`IntoStaticStr`, `VariantArray`, `Display`, all `snake_case`,
/// as serde's); an enum adds only what it is ([`Named::WHAT`], through [`impl_named`]).
pub trait Named:
    Sized + Copy + 'static + strum::VariantArray + Into<&'static str> + std::fmt::Display
{
    /// Every variant, in declaration order.
    const ALL: &'static [Self] = Self::VARIANTS;
    /// What the enum is, for messages ("run state").
    const WHAT: &'static str;
    /// The variant's name.
    fn as_str(self) -> &'static str {
        self.into()
    }
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

/// Makes a strum-named enum [`Named`] as `what`, and parsed by [`Named::parse`] (its
/// error lists the names, where strum's `EnumString` says only "Matching variant not
/// found").
macro_rules! impl_named {
    ($name:ident, $what:literal) => {
        impl $crate::state::Named for $name {
            const WHAT: &'static str = $what;
        }

        impl std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                <Self as $crate::state::Named>::parse(s)
            }
        }
    };
}
pub(crate) use impl_named;

/// Where a run is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum RunState {
    /// Waiting for a worker.
    Queued,
    /// Leased to a worker.
    Running,
    /// Trained to the end.
    Finished,
    /// Failed its allowed attempts.
    Failed,
    /// Stopped while running (cancelled or early-terminated).
    Stopped,
    /// Cancelled before it ran.
    Cancelled,
}
impl_named!(RunState, "run state");

impl RunState {
    /// Whether the run still has work ahead (queued or running).
    pub fn is_open(self) -> bool {
        matches!(self, Self::Queued | Self::Running)
    }
}

/// Where a sweep is in its life.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum SweepState {
    /// Some runs are queued or running.
    Running,
    /// Every run has ended.
    Finished,
    /// Cancelled by a user.
    Cancelled,
}
impl_named!(SweepState, "sweep state");

/// How an attempt (a lease) stands or ended.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum AttemptState {
    /// The worker is training.
    Running,
    /// Trained to the end.
    Finished,
    /// Stopped on the coordinator's word.
    Stopped,
    /// Training failed.
    Failed,
    /// The worker went quiet and the lease ran out.
    Expired,
    /// The worker stopped on a signal and handed the run back (not counted).
    Preempted,
    /// The worker's device, memory or disk failed (not counted).
    WorkerFault,
}
impl_named!(AttemptState, "attempt state");

impl AttemptState {
    /// Whether an attempt that ended so counts against the run's allowed attempts.
    pub fn counts_against_run(self) -> bool {
        !matches!(self, Self::Preempted | Self::WorkerFault)
    }
}

/// How an attempt ended, as the worker says.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    Serialize,
    Deserialize,
    strum::IntoStaticStr,
    strum::VariantArray,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Outcome {
    /// Trained to max_iters.
    Finished,
    /// Stopped on the coordinator's word.
    Stopped,
    /// Training failed: the run's fault, counted against its attempts.
    Failed,
    /// The worker is stopping (a signal): the run is queued again at once.
    Preempted,
    /// The worker's environment failed (device, memory, disk): queued again.
    WorkerFault,
}
impl_named!(Outcome, "outcome");

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

    use crate::metric::{Goal, Method, MetricName};

    /// `T`'s names, after checking that each parses back, prints and serialises (both
    /// ways) as itself.
    fn round_trips<T>() -> Vec<&'static str>
    where
        T: Named + std::fmt::Debug + PartialEq + Serialize + serde::de::DeserializeOwned,
    {
        T::ALL
            .iter()
            .map(|v| {
                assert_eq!(T::parse(v.as_str()).unwrap(), *v);
                assert_eq!(v.to_string(), v.as_str(), "printed as named");
                let json = serde_json::Value::String(v.as_str().into());
                assert_eq!(
                    serde_json::to_value(v).unwrap(),
                    json,
                    "serde and SQL agree"
                );
                assert_eq!(serde_json::from_value::<T>(json).unwrap(), *v);
                v.as_str()
            })
            .collect()
    }

    #[test]
    fn every_name_round_trips_and_is_the_one_sql_and_json_have_always_held() {
        assert_eq!(
            round_trips::<RunState>(),
            [
                "queued",
                "running",
                "finished",
                "failed",
                "stopped",
                "cancelled"
            ]
        );
        assert_eq!(
            round_trips::<SweepState>(),
            ["running", "finished", "cancelled"]
        );
        assert_eq!(
            round_trips::<AttemptState>(),
            [
                "running",
                "finished",
                "stopped",
                "failed",
                "expired",
                "preempted",
                "worker_fault"
            ]
        );
        assert_eq!(
            round_trips::<Outcome>(),
            ["finished", "stopped", "failed", "preempted", "worker_fault"]
        );
        assert_eq!(
            round_trips::<MetricName>(),
            ["val_loss", "train_loss", "val_bpc", "train_bpc"]
        );
        assert_eq!(round_trips::<Goal>(), ["minimize", "maximize"]);
        assert_eq!(round_trips::<Method>(), ["grid", "random", "tpe"]);
    }

    #[test]
    fn a_metric_or_method_unknown_is_refused_listing_the_known_ones() {
        assert_eq!(
            "loss".parse::<MetricName>().unwrap_err(),
            "metric \"loss\" is unknown; expected val_loss, train_loss, val_bpc, train_bpc"
        );
        assert_eq!(
            Method::parse("bayes").unwrap_err(),
            "method \"bayes\" is unknown; expected grid, random, tpe"
        );
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
