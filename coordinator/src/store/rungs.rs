//! Early termination's store side: after a report is stored, the run's best metric so far
//! at each rung it reached is judged against the best so far of every run of the sweep
//! that reached that step ([`crate::sweep::early`] holds the rule; best so far, because a
//! noisy evaluation at the rung should not stop a run that was already doing well, and it
//! is the value tpe learns from at that budget). Runs inside the single writer's
//! transaction, so two runs reporting at once are judged one after the other, each seeing
//! the other's value.

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
        row.try_get::<Option<i64>, _>("early_min_iter")?,
        row.try_get::<Option<i64>, _>("early_eta")?,
    ) else {
        return Ok(Directive::Continue);
    };
    let et = EarlyTerminate {
        min_iter: min_iter as u64,
        eta: eta as u64,
    };
    let sweep_id: i64 = row.try_get("id")?;
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
    // The best of a set of values in the goal's direction, as SQL's aggregate names it.
    let best = match goal {
        Goal::Minimize => "MIN",
        Goal::Maximize => "MAX",
    };
    for (rung, e) in rungs {
        // The column is the metric's own name and `best` one of two literals, never input.
        let sql = format!(
            "SELECT e.run_id, {best}(e.{metric}) FROM evals e JOIN runs r ON r.id = e.run_id
             WHERE r.sweep_id = $1 AND e.step <= $2
               AND EXISTS (SELECT 1 FROM evals x WHERE x.run_id = e.run_id AND x.step = $3)
             GROUP BY e.run_id"
        );
        let recorded: Vec<(i64, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(sweep_id)
            .bind(e.step as i64)
            .bind(e.step as i64)
            .fetch_all(&mut *c)
            .await?;
        let value = recorded
            .iter()
            .find(|(r, _)| *r == run.get())
            .map(|(_, v)| *v)
            .unwrap_or(e.metric(metric) as f64);
        let recorded: Vec<f64> = recorded.into_iter().map(|(_, v)| v).collect();
        if let Verdict::Stop { cutoff, peers } = et.verdict(value, &recorded, goal) {
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
