//! Sweep files: the YAML a user writes ([`file`]), checked section by section ([`check`])
//! into a [`SweepSpec`] ([`spec`], with the method and metric of [`metric`]) with every
//! problem located at its line and column ([`diagnostic`]), then planned into concrete runs
//! by grid or random search ([`plan`], on the corpus as [`shape`] measures it), or one at a time by the tree-structured Parzen
//! estimator ([`tpe`]); [`early`] decides which runs stop at the rungs of early
//! termination; [`cost`] and [`estimate`] price a plan before it runs, on a corpus
//! [`measure`]d here or at the coordinator; [`importance`] measures which swept hyperparameters mattered.

pub mod check;
pub mod cost;
pub mod diagnostic;
pub mod early;
pub mod estimate;
pub mod file;
pub mod importance;
pub mod measure;
pub mod metric;
pub mod param;
pub mod plan;
pub mod precision;
pub mod shape;
pub mod spec;
pub mod tpe;

pub use check::check_and_plan;
pub use check::{name_problem, parse_sweep};
pub use diagnostic::{Diagnostic, SpecErrors};
pub use early::{EarlyTerminate, Verdict};
pub use estimate::Estimate;
pub use metric::{Goal, Method, Metric};
pub use plan::{Plan, PlannedRun, plan_next, plan_runs, plan_sweep, random_run};
pub use shape::{CorpusShapes, Shape};
pub use spec::{DatasetRef, SweepSpec};

#[cfg(test)]
mod tests;
