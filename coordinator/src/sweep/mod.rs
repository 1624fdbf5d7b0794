//! Sweep files: the YAML a user writes ([`file`]), checked section by section ([`check`])
//! into a [`SweepSpec`] ([`spec`], with the method and metric of [`metric`]) with every
//! problem located at its line and column ([`diagnostic`]), then planned into concrete runs
//! by grid or random search ([`plan`], on the corpus as [`shape`] measures it), or one at a time by the tree-structured Parzen
//! estimator ([`tpe`]); [`early`] decides which runs stop at the rungs of early
//! termination; [`importance`] measures which swept hyperparameters mattered.

pub mod check;
pub mod diagnostic;
pub mod early;
pub mod file;
pub mod importance;
pub mod metric;
pub mod param;
pub mod plan;
pub mod shape;
pub mod spec;
pub mod tpe;

pub use check::parse_sweep;
pub use diagnostic::{Diagnostic, SpecErrors};
pub use early::{EarlyTerminate, Verdict};
pub use metric::{Goal, Method, Metric};
pub use plan::{PlannedRun, plan_next, plan_runs, random_run};
pub use shape::{CorpusShapes, Shape};
pub use spec::{DatasetRef, SweepSpec};

#[cfg(test)]
mod tests;
