//! `metric:`: which loss ranks the runs, and in which direction.

use super::Checker;
use crate::sweep::file::SweepFile;
use crate::sweep::metric::{Goal, Metric};

/// The metric, `val_loss` minimised by default.
pub(super) fn check(c: &mut Checker, f: &SweepFile) -> Metric {
    let mut metric = Metric {
        name: "val_loss".into(),
        goal: Goal::Minimize,
    };
    if let Some(m) = &f.metric {
        match m.value.name.value.as_str() {
            "val_loss" | "train_loss" => metric.name = m.value.name.value.clone(),
            other => c.err(
                m.value.name.referenced,
                format!("metric.name: unknown metric {other:?}; expected val_loss or train_loss"),
            ),
        }
        if let Some(g) = &m.value.goal {
            match g.value.as_str() {
                "minimize" => metric.goal = Goal::Minimize,
                "maximize" => metric.goal = Goal::Maximize,
                other => c.err(
                    g.referenced,
                    format!("metric.goal: {other:?} must be minimize or maximize"),
                ),
            }
        }
    }
    metric
}
