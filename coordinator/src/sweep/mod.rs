//! Sweep files: the YAML a user writes ([`file`]), checked into a [`SweepSpec`]
//! ([`spec`]) with every problem located at its line and column ([`diagnostic`]), then
//! planned into concrete runs by grid or random search ([`plan`]); [`early`] decides
//! which runs stop at the rungs of early termination.

pub mod diagnostic;
pub mod early;
pub mod file;
pub mod param;
pub mod plan;
pub mod spec;

pub use diagnostic::{Diagnostic, SpecErrors};
pub use early::{EarlyTerminate, Verdict};
pub use plan::{PlannedRun, plan_runs};
pub use spec::{DatasetRef, Goal, Method, Metric, SweepSpec, parse_sweep};

#[cfg(test)]
mod tests;
