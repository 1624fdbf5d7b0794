//! `gptsweep importance SWEEP`: which swept hyperparameters mattered, by PED-ANOVA (the
//! coordinator computes it: `gptsweep_coordinator::sweep::importance`). A table, most
//! important first, with the values the best runs took; `--output json` gives the shares,
//! the raw divergences and the best runs' values.

use gptsweep_api::{ImportanceReport, Named};
use gptsweep_proto::pb;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::table;

/// Flags of `gptsweep importance`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
}

/// Width of the bar of a share of 100%.
const BAR: usize = 30;

struct ImportanceDoc(ImportanceReport);

impl Document for ImportanceDoc {
    fn text(&self) -> String {
        let r = &self.0;
        let rows: Vec<Vec<String>> = r
            .params
            .iter()
            .map(|p| {
                vec![
                    p.name.clone(),
                    format!("{:5.1}%", 100.0 * p.importance),
                    p.spread
                        .map(|s| format!("± {:.1}%", 100.0 * s))
                        .unwrap_or_default(),
                    "#".repeat((p.importance * BAR as f64).round() as usize),
                    best_values(&p.top_values),
                ]
            })
            .collect();
        format!(
            "{}: what mattered to {} (PED-ANOVA: the best {} of {} against all, at {}; \
             ± over bootstrap resamples of the runs)\n{}",
            r.sweep,
            r.metric.as_str(),
            r.top,
            table::plural(r.results as u64, "run"),
            r.budget,
            table::render(
                &["PARAMETER", "IMPORTANCE", "SPREAD", "", "BEST RUNS"],
                &rows
            )
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }
}

/// The best runs' values in brief: a number range, or each value with its count.
fn best_values(values: &[Value]) -> String {
    let numbers: Vec<f64> = values.iter().filter_map(Value::as_f64).collect();
    let all_numbers = numbers.len() == values.len();
    let mut distinct: Vec<(&Value, usize)> = Vec::new();
    for v in values {
        match distinct.iter_mut().find(|(d, _)| *d == v) {
            Some((_, n)) => *n += 1,
            None => distinct.push((v, 1)),
        }
    }
    if all_numbers && distinct.len() > 3 {
        let lo = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        return format!(
            "{} .. {}",
            table::value(&Value::from(lo)),
            table::value(&Value::from(hi))
        );
    }
    distinct.sort_by_key(|d| std::cmp::Reverse(d.1));
    distinct
        .iter()
        .map(|(v, n)| format!("{} x{n}", table::value(v)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs `gptsweep importance`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let reply = ctx
        .client
        .importance(pb::SweepRef {
            sweep: args.sweep.clone(),
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    ctx.print(&ImportanceDoc(ImportanceReport::try_from(&reply)?))
}
