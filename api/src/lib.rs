//! gptsweep's shared API layer: what the coordinator, the worker and the CLI say to each
//! other, as domain types apart from the generated wire types (Ballista's `from_proto` /
//! `to_proto` split).
//!
//! - [`ids`]: ID newtypes ([`SweepId`], [`RunId`], [`LeaseId`], [`WorkerId`]);
//! - [`state`]: run, sweep and attempt states, attempt outcomes and stop directives as enums;
//! - [`transitions`]: the run state machine, every transition in one table;
//! - [`metric`]: the ranking metric, its goal and the search method;
//! - [`records`]: sweeps, runs, evaluations, attempts, workers, leaderboard rows;
//! - [`progress`]: a running run's latest step between evaluations, its throughput and ETA;
//! - [`annotation`]: what a run's name and note may hold, checked at both ends;
//! - [`report_rules`]: what a reported evaluation may hold, checked before it is stored;
//! - [`kernel_entries`]: the records of the fleet's kernel cache, as both ends check them;
//! - [`panic`]: a panic's message, as a worker reports it and the coordinator logs it;
//! - [`transfer`]: the chunk size of blob streams, and an upload cut into messages;
//! - [`from_proto`] / [`to_proto`]: the only place the two shapes meet; a wire message
//!   missing a field the domain needs is an [`ApiError`] naming it, never a default.
//!
//! States, metrics and goals are strings only where they meet SQL and the terminal: their
//! one mapping is `as_str` / `FromStr` here ([`state::Named`]).

pub mod annotation;
pub mod error;
pub mod from_proto;
pub mod ids;
pub mod kernel_entries;
pub mod metric;
pub mod panic;
pub mod progress;
pub mod records;
pub mod report_rules;
pub mod state;
pub mod to_proto;
pub mod transfer;
pub mod transitions;

pub use error::ApiError;
pub use ids::{LeaseId, RunId, SweepId, WorkerId};
pub use metric::{Goal, Method, MetricName};
pub use progress::RunProgress;
pub use records::{
    Attempt, DeviceLoad, DisabledDevice, Evaluation, HyperparamImportance, ImportanceReport,
    Leaderboard, LeaderboardRow, LeasedRun, MemoryShortfall, RunCounts, RunCurves, RunDetail,
    Sample, Submitted, SweepStatus, SweepSummary, WorkerInfo,
};
pub use state::{AttemptState, Directive, Named, Outcome, RunState, SweepState};
