//! What a sweep's later decisions read back from the store: its spec and the corpus
//! facts recorded at submit ([`StoredPlan`]), and its runs as the trials the tpe model and
//! importance learn from ([`trials`]). Shared by proposals and `extend` (in the writer's
//! transaction) and by `importance` (on a read connection).

use std::collections::BTreeMap;

use sqlx::{AnyConnection, Row};

use gptsweep_api::{MetricName, RunState};
use gptsweep_core::tokenizer::gpt2::GPT2_VOCAB_SIZE;

use crate::error::{CoordinatorError, Result};
use crate::store::column;
use crate::sweep::tpe::{Trial, TrialStatus};
use crate::sweep::{CorpusShapes, Shape, SweepSpec};

/// What planning a stored sweep's later runs needs: its spec, metric, and the corpus
/// facts recorded at submit.
pub(crate) struct StoredPlan {
    /// The checked spec as submitted.
    pub spec: SweepSpec,
    /// The metric the sweep ranks by.
    pub metric: MetricName,
    /// The corpus under each tokenizer the sweep uses.
    pub shapes: CorpusShapes,
}

impl StoredPlan {
    /// Reads sweep `sweep`'s.
    pub async fn read(c: &mut AnyConnection, sweep: i64) -> Result<Self> {
        let row = sqlx::query(
            "SELECT spec_json, metric, vocab_size, shortest_split, gpt2_shortest_split FROM sweeps WHERE id = $1",
        )
        .bind(sweep)
        .fetch_one(&mut *c)
        .await?;
        let spec: SweepSpec =
            serde_json::from_str(row.try_get::<&str, _>("spec_json")?).map_err(|e| {
                CoordinatorError::Invalid(format!(
                    "stored spec of sweep {sweep} is unreadable: {e}"
                ))
            })?;
        let metric: MetricName = column::named(&row, "metric")?;
        let mut shapes = CorpusShapes::chars(
            row.try_get::<i64, _>("vocab_size")? as usize,
            row.try_get::<i64, _>("shortest_split")? as usize,
        );
        let gpt2_shortest = row.try_get::<i64, _>("gpt2_shortest_split")? as usize;
        if gpt2_shortest > 0 {
            shapes.gpt2 = Some(Shape {
                vocab_size: GPT2_VOCAB_SIZE,
                shortest_split: gpt2_shortest,
            });
        }
        Ok(Self {
            spec,
            metric,
            shapes,
        })
    }
}

/// The sweep's run count (the next run's index), and every run in plan order with its
/// metric curve (cancelled ones left out: they say nothing about their point).
pub(crate) async fn trials(
    c: &mut AnyConnection,
    sweep: i64,
    metric: MetricName,
) -> Result<(usize, Vec<Trial>)> {
    let runs: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, swept_json, state FROM runs WHERE sweep_id = $1 ORDER BY idx")
            .bind(sweep)
            .fetch_all(&mut *c)
            .await?;
    // The column is the metric's own name, from the enum's fixed names, never from input.
    let sql = format!(
        "SELECT e.run_id, e.{metric} FROM evals e JOIN runs r ON r.id = e.run_id WHERE r.sweep_id = $1 ORDER BY e.run_id, e.step"
    );
    let evals: Vec<(i64, f64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
        .bind(sweep)
        .fetch_all(&mut *c)
        .await?;
    let mut curves: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
    for (run, value) in evals {
        curves.entry(run).or_default().push(value);
    }
    let count = runs.len();
    let mut trials = Vec::with_capacity(count);
    for (id, swept, state) in runs {
        let status = match column::parse::<RunState>("runs.state", &state)? {
            RunState::Queued | RunState::Running => TrialStatus::Pending,
            RunState::Finished => TrialStatus::Finished,
            RunState::Stopped => TrialStatus::Stopped,
            RunState::Failed => TrialStatus::Failed,
            RunState::Cancelled => continue,
        };
        let swept = serde_json::from_str(&swept).map_err(|e| {
            CoordinatorError::Invalid(format!("stored parameters of run {id}: {e}"))
        })?;
        trials.push(Trial {
            swept,
            status,
            curve: curves.remove(&id).unwrap_or_default(),
        });
    }
    Ok((count, trials))
}
