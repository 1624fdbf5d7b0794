//! `metric:`: which loss ranks the runs, and in which direction. Losses per token do not
//! compare across tokenizers, so a sweep whose runs differ in tokenizer must rank by bits
//! per character.

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
                    "metric.name: unknown metric {:?}; expected {}",
                    name.value,
                    MetricName::ALL
                        .iter()
                        .map(|m| m.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ),
        }
        if let Some(g) = &m.value.goal {
            match Goal::parse(&g.value) {
                Ok(Goal::Maximize) => c.err(
                    g.referenced,
                    format!(
                        "metric.goal: maximize on {}, a loss (lower is better); every metric \
                         here is a loss, so leave goal out or write minimize",
                        metric.name
                    ),
                ),
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

/// Refuses a per-token metric when the tokenizer is swept: a BPE token holds about four
/// characters, so its loss per token is higher for the same model quality.
pub(super) fn check_comparable(c: &mut Checker, f: &SweepFile, metric: &Metric) {
    let per_token = matches!(metric.name, MetricName::ValLoss | MetricName::TrainLoss);
    let swept = f
        .parameters
        .as_ref()
        .and_then(|p| p.value.get("tokenizer"))
        .filter(|p| p.value.values.as_ref().is_some_and(|v| v.value.len() > 1));
    if let (true, Some(p)) = (per_token, swept) {
        let loc = f
            .metric
            .as_ref()
            .map(|m| m.value.name.referenced)
            .unwrap_or(p.referenced);
        let better = if metric.name == MetricName::ValLoss {
            "val_bpc"
        } else {
            "train_bpc"
        };
        c.err(
            loc,
            format!(
                "metric.name: {} is a loss per token, which does not compare across the swept \
                 tokenizers (parameters.tokenizer, line {}); rank by {better} (bits per character)",
                metric.name,
                p.referenced.line()
            ),
        );
    }
}
