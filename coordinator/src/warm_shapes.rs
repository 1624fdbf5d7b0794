//! Which run shapes are warm in which kernel scope, so that workers can compile ahead of
//! need (`gptsweep worker --warm-ahead`): while its devices train, a worker asks for the
//! shapes of queued runs, in the order they will be leased, that no worker of its scope
//! has trained yet ([`cold_shapes`]), warms each in a child process (a step or two of a
//! queued run of it: its kernels compile and tune) and says so (`ShapeWarm`) once it has
//! uploaded what it compiled. A shape ([`gptsweep_core::shape_key`]) is what decides which
//! kernels a run compiles; a worker says a run's shape is warm after the run too.
//!
//! The marks are a hint, never a promise: the kernel cache dropping records past its
//! bound forgets them all ([`crate::store::PutKernelRecords`]), and a run of a shape
//! marked warm still compiles whatever it lacks.

use std::collections::HashSet;

use sqlx::{AnyPool, Row};

use gptsweep_core::{Hyperparams, MAX_SHAPE_CHARS, shape_key};
use gptsweep_proto::pb;

use crate::error::{CoordinatorError, Result};
use crate::store::states_sql::{RUN_QUEUED, SWEEP_RUNNING};

/// Most shapes one `ColdShapes` call answers.
pub const MAX_COLD_SHAPES: usize = 8;

/// Queued runs looked at, in lease order, for one `ColdShapes` call: the next ones leased
/// are the ones worth warming, and the call stays cheap with a long queue.
const SCAN: i64 = 500;

/// The shapes of queued runs of running sweeps, in lease order (oldest sweep first, then
/// plan order), that are not warm in `scope`: at most `limit` (1 to [`MAX_COLD_SHAPES`]),
/// each with its first queued run.
pub async fn cold_shapes(pool: &AnyPool, scope: &str, limit: usize) -> Result<Vec<pb::ColdShape>> {
    let limit = limit.clamp(1, MAX_COLD_SHAPES);
    let warm: HashSet<String> =
        sqlx::query_scalar("SELECT shape FROM warm_shapes WHERE scope = $1")
            .bind(scope)
            .fetch_all(pool)
            .await?
            .into_iter()
            .collect();
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT r.id, r.hyperparams_json, s.name, s.samples_json, s.dataset_sha256, d.name AS dname, d.builtin
         FROM runs r JOIN sweeps s ON s.id = r.sweep_id JOIN datasets d ON d.sha256 = s.dataset_sha256
         WHERE r.state = {RUN_QUEUED} AND s.state = {SWEEP_RUNNING}
         ORDER BY r.sweep_id, r.idx LIMIT $1"
    )))
    .bind(SCAN)
    .fetch_all(pool)
    .await?;
    let mut seen = HashSet::new();
    let mut cold = Vec::new();
    for row in rows {
        let hyperparams_json: String = row.try_get("hyperparams_json")?;
        let dataset_sha256: String = row.try_get("dataset_sha256")?;
        let Ok(hp) = serde_json::from_str::<Hyperparams>(&hyperparams_json) else {
            continue;
        };
        let shape = shape_key(&hp, &dataset_sha256);
        if warm.contains(&shape) || !seen.insert(shape.clone()) {
            continue;
        }
        cold.push(pb::ColdShape {
            shape,
            run: Some(pb::RunSpec {
                run_id: row.try_get("id")?,
                lease_id: 0,
                sweep: row.try_get("name")?,
                hyperparams_json,
                dataset_name: row.try_get("dname")?,
                dataset_sha256,
                dataset_builtin: row.try_get::<i64, _>("builtin")? != 0,
                samples_json: row.try_get("samples_json")?,
                attempt: 0,
                resume_step: 0,
            }),
        });
        if cold.len() == limit {
            break;
        }
    }
    Ok(cold)
}

/// Refuses a shape that is not one a worker could have sent (INVALID_ARGUMENT).
pub fn check_shape(shape: &str) -> Result<()> {
    if shape.is_empty()
        || shape.chars().count() > MAX_SHAPE_CHARS
        || shape.chars().any(char::is_control)
    {
        return Err(CoordinatorError::Invalid(format!(
            "a run shape is one printable line of 1 to {MAX_SHAPE_CHARS} characters"
        )));
    }
    Ok(())
}
