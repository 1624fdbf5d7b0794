//! Early termination's store side: after a report is stored, the run's metric at each rung
//! it reached is judged against every value the sweep has at that step ([`crate::sweep::early`]
//! holds the rule). Runs inside the single writer's transaction, so two runs reporting at
//! once are judged one after the other, each seeing the other's value.

use sqlx::{AnyConnection, Row};

use gptsweep_api::{Directive, Evaluation, Goal, MetricName, RunId};

use super::column;
use crate::error::Result;
use crate::sweep::{EarlyTerminate, Verdict};

/// Judges the run at every rung among `evals` (already stored); the first rung it fails
/// asks it to stop, with the reason kept on the run for `show` and the attempt.
pub async fn judge(c: &mut AnyConnection, run: RunId, evals: &[Evaluation]) -> Result<Directive> {
    let row = sqlx::query(
        "SELECT s.id, s.early_min_iter, s.early_eta, s.metric, s.goal, r.hyperparams_json
         FROM runs r JOIN sweeps s ON s.id = r.sweep_id WHERE r.id = $1",
    )
    .bind(run.get())
    .fetch_one(&mut *c)
    .await?;
    let (Some(min_iter), Some(eta)) = (
        row.get::<Option<i64>, _>("early_min_iter"),
        row.get::<Option<i64>, _>("early_eta"),
    ) else {
        return Ok(Directive::Continue);
    };
    let et = EarlyTerminate {
        min_iter: min_iter as u64,
        eta: eta as u64,
    };
    let sweep_id: i64 = row.get("id");
    let metric: MetricName = column::named(&row, "metric")?;
    let goal: Goal = column::named(&row, "goal")?;
    let hp = column::object(&row, "hyperparams_json")?;
    let int = |key: &str| hp.get(key).and_then(serde_json::Value::as_u64).unwrap_or(0);
    let (max_iters, every) = (int("max_iters"), int("eval_interval"));
    let mut rungs: Vec<(u64, &Evaluation)> = evals
        .iter()
        .filter_map(|e| Some((et.rung_at(e.step, every, max_iters)?, e)))
        .collect();
    rungs.sort_by_key(|(_, e)| e.step);
    for (rung, e) in rungs {
        let value = e.metric(metric);
        // The column is the metric's own name, from the enum's fixed names, never from input.
        let sql = format!(
            "SELECT e.{metric} FROM runs r JOIN evals e ON e.run_id = r.id AND e.step = $1 WHERE r.sweep_id = $2"
        );
        let recorded: Vec<f64> = sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
            .bind(e.step as i64)
            .bind(sweep_id)
            .fetch_all(&mut *c)
            .await?;
        if let Verdict::Stop { cutoff, peers } = et.verdict(value as f64, &recorded, goal) {
            let reason = format!(
                "early-terminated at evaluation {rung} (step {}): {metric} {value:.4} is outside the best 1/{} of the {peers} runs there (cutoff {cutoff:.4})",
                e.step, et.eta
            );
            sqlx::query("UPDATE runs SET stop_requested = 1, stop_reason = $1 WHERE id = $2")
                .bind(&reason)
                .bind(run.get())
                .execute(&mut *c)
                .await?;
            return Ok(Directive::Stop(reason));
        }
    }
    Ok(Directive::Continue)
}
