//! `gptsweep extend SWEEP --runs N`: N more runs for a random or tpe sweep, from every
//! result so far (W&B users ask for this as "resume a sweep"). A random sweep's new runs
//! continue its seeded sequence of draws (run `i` is drawn from (seed, i) whatever the
//! cap), and are queued now; a tpe sweep's cap is raised and each new run is proposed by
//! the model when a worker asks, as its other runs were. A finished sweep runs again.

use sqlx::{AnyConnection, Row};

use gptsweep_api::{Method, SweepId, SweepState};

use super::Write;
use super::sweeps::{queue_planned, refresh_statistics};
use crate::error::{CoordinatorError, Result};
use crate::store::column;
use crate::store::states_sql::SWEEP_RUNNING;
use crate::store::stored_sweep::StoredPlan;
use crate::sweep::random_run;
use crate::sweep::spec::MAX_RUNS;

/// Raises a sweep's cap by `runs`.
#[derive(Debug, Clone, Copy)]
pub struct Extend {
    /// The sweep.
    pub sweep: SweepId,
    /// Runs to add.
    pub runs: u32,
}

/// What `extend` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extended {
    /// The cap before.
    pub from: u32,
    /// The cap now.
    pub to: u32,
    /// Runs queued now (random search); a tpe sweep's are proposed as workers ask.
    pub queued: u32,
}

impl Write for Extend {
    type Output = Extended;

    async fn apply(self, c: &mut AnyConnection) -> Result<Extended> {
        let id = self.sweep.get();
        let row = sqlx::query(
            "SELECT s.name, s.method, s.state, s.run_cap, (SELECT COUNT(*) FROM runs r WHERE r.sweep_id = s.id) AS made FROM sweeps s WHERE s.id = $1",
        )
        .bind(id)
        .fetch_one(&mut *c)
        .await?;
        let name: String = row.try_get("name")?;
        let method: Method = column::named(&row, "method")?;
        let state: SweepState = column::named(&row, "state")?;
        let made = row.try_get::<i64, _>("made")? as usize;
        // Sweeps stored before caps were recorded made every run at submit.
        let cap = (row.try_get::<i64, _>("run_cap")?.max(0) as usize).max(made);
        let refuse = |why: String| Err(CoordinatorError::Invalid(format!("extend {name}: {why}")));
        if self.runs == 0 {
            return refuse("--runs must be at least 1".into());
        }
        match (method, state) {
            (Method::Grid, _) => {
                return refuse(
                    "a grid sweep has run every point of its grid; submit a sweep with more \
                     values, or a random or tpe sweep"
                        .into(),
                );
            }
            (_, SweepState::Cancelled) => {
                return refuse(
                    "the sweep was cancelled; `gptsweep retry --cancelled` queues its \
                     cancelled runs again"
                        .into(),
                );
            }
            _ => {}
        }
        let to = cap + self.runs as usize;
        if to > MAX_RUNS {
            return refuse(format!(
                "{cap} + {} runs is over the limit of {MAX_RUNS} runs a sweep",
                self.runs
            ));
        }
        let mut queued = 0;
        if method == Method::Random {
            let plan = StoredPlan::read(c, id).await?;
            for index in made..to {
                let run = random_run(&plan.spec, index, &plan.shapes)
                    .map_err(|why| CoordinatorError::Invalid(format!("extend {name}: {why}")))?;
                queue_planned(c, id, &run, &plan.shapes).await?;
                queued += 1;
            }
        }
        if queued > 0 {
            refresh_statistics(c).await?;
        }
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE sweeps SET run_cap = $1, state = {SWEEP_RUNNING}, finished_at = NULL WHERE id = $2"
        )))
        .bind(to as i64)
        .bind(id)
        .execute(&mut *c)
        .await?;
        Ok(Extended {
            from: cap as u32,
            to: to as u32,
            queued,
        })
    }
}
