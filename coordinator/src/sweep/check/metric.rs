//! `metric:`: which loss ranks the runs, and in which direction.

use gptsweep_api::Named;

use super::Checker;
use crate::sweep::file::SweepFile;
use crate::sweep::metric::{Goal, Metric, MetricName};

/// The metric, `val_loss` minimised by default.
pub(super) fn check(c: &mut Checker, f: &SweepFile) -> Metric {
    let mut metric = Metric {
        name: MetricName::ValLoss,
        goal: Goal::Minimize,
    };
    if let Some(m) = &f.metric {
        let name = &m.value.name;
        match MetricName::parse(&name.value) {
            Ok(n) => metric.name = n,
            Err(_) => c.err(
                name.referenced,
                format!(
                    "metric.name: unknown metric {:?}; expected val_loss or train_loss",
                    name.value
                ),
            ),
        }
        if let Some(g) = &m.value.goal {
            match Goal::parse(&g.value) {
                Ok(goal) => metric.goal = goal,
                Err(_) => c.err(
                    g.referenced,
                    format!("metric.goal: {:?} must be minimize or maximize", g.value),
                ),
            }
        }
    }
    metric
}
