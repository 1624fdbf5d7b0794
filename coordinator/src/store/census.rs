//! What the store holds right now, counted for Prometheus' gauges ([`crate::metrics`]):
//! runs by state, evaluations, workers alive and the devices they have disabled. Read at
//! each scrape, so the figures are the database's own, exact whatever the coordinator
//! restarted through.

use std::collections::BTreeMap;

use sqlx::AnyPool;

use crate::error::Result;

/// The counts of one scrape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Census {
    /// Runs by state name (`queued`, `running`, ...).
    pub runs: BTreeMap<String, i64>,
    /// Evaluations stored.
    pub evaluations: i64,
    /// Workers that have not left and were heard from since the horizon.
    pub workers_alive: i64,
    /// Devices disabled on those workers.
    pub devices_disabled: i64,
}

/// Counts the store; workers last heard before `alive_since_ms` are not alive.
pub async fn census(pool: &AnyPool, alive_since_ms: i64) -> Result<Census> {
    let runs: Vec<(String, i64)> =
        sqlx::query_as("SELECT state, COUNT(*) FROM runs GROUP BY state")
            .fetch_all(pool)
            .await?;
    let evaluations: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM evals")
        .fetch_one(pool)
        .await?;
    let alive: Vec<String> = sqlx::query_scalar(
        "SELECT disabled_json FROM workers WHERE left_reason IS NULL AND last_seen >= $1",
    )
    .bind(alive_since_ms)
    .fetch_all(pool)
    .await?;
    let devices_disabled = alive
        .iter()
        .map(|json| {
            serde_json::from_str::<BTreeMap<String, serde_json::Value>>(json)
                .map_or(0, |m| m.len() as i64)
        })
        .sum();
    Ok(Census {
        runs: runs.into_iter().collect(),
        evaluations,
        workers_alive: alive.len() as i64,
        devices_disabled,
    })
}
