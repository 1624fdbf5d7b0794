//! Registering a worker (with its key), its leaving and its devices' disabling, and noting
//! that it is alive.

use std::collections::BTreeMap;

use sqlx::AnyConnection;

use gptsweep_api::transitions::Event;
use gptsweep_api::{LeaseId, Outcome, RunId, WorkerId};

use super::Write;
use super::finishing::hand_back;
use crate::clock::now_ms;
use crate::error::Result;
use crate::store::states_sql::RUN_RUNNING;

/// Registers a worker with its key; answers its id.
#[derive(Debug, Clone)]
pub struct RegisterWorker {
    /// Its name.
    pub name: String,
    /// Its device specs.
    pub devices: Vec<String>,
    /// Each device's memory for runs, bytes (devices of unknown memory absent).
    pub memory: BTreeMap<String, u64>,
    /// The sha256 (hex) of the key the worker is given (`crate::worker_keys`); the key
    /// itself is never stored.
    pub key_sha256: String,
}

impl Write for RegisterWorker {
    type Output = WorkerId;

    async fn apply(self, c: &mut AnyConnection) -> Result<WorkerId> {
        let now = now_ms();
        let id = sqlx::query_scalar("INSERT INTO workers (name, devices_json, registered_at, last_seen, device_memory_json, key_sha256) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id")
            .bind(&self.name)
            .bind(serde_json::to_string(&self.devices).expect("strings serialise"))
            .bind(now)
            .bind(now)
            .bind(serde_json::to_string(&self.memory).expect("numbers serialise"))
            .bind(&self.key_sha256)
            .fetch_one(&mut *c)
            .await?;
        Ok(WorkerId(id))
    }
}

/// A worker leaves: drained on a signal, idle, or with every device disabled. It no
/// longer shows as alive, and leases no more. A run it still holds is one it never saw
/// (leased as it cancelled its poll to leave at once): it is handed back, not counted.
#[derive(Debug, Clone)]
pub struct Deregister {
    /// The worker.
    pub worker: WorkerId,
    /// Why it leaves.
    pub reason: String,
}

impl Write for Deregister {
    type Output = ();

    async fn apply(self, c: &mut AnyConnection) -> Result<()> {
        sqlx::query("UPDATE workers SET left_reason = $1, last_seen = $2 WHERE id = $3")
            .bind(&self.reason)
            .bind(now_ms())
            .bind(self.worker.get())
            .execute(&mut *c)
            .await?;
        let held: Vec<(i64, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "SELECT r.id, r.lease_id FROM runs r JOIN attempts a ON a.id = r.lease_id
             WHERE r.state = {RUN_RUNNING} AND a.worker_id = $1"
        )))
        .bind(self.worker.get())
        .fetch_all(&mut *c)
        .await?;
        let now = now_ms();
        for (run, lease) in held {
            let reason = "the worker left before it started the run";
            hand_back(
                c,
                RunId(run),
                LeaseId(lease),
                Outcome::Preempted,
                reason,
                Event::Leave,
                now,
            )
            .await?;
        }
        Ok(())
    }
}

/// A device of a worker stops taking work; the reason is shown by `gptsweep workers`.
#[derive(Debug, Clone)]
pub struct DisableDevice {
    /// The worker.
    pub worker: WorkerId,
    /// Its device.
    pub device: String,
    /// Why.
    pub reason: String,
}

impl Write for DisableDevice {
    type Output = ();

    async fn apply(self, c: &mut AnyConnection) -> Result<()> {
        let json: Option<String> =
            sqlx::query_scalar("SELECT disabled_json FROM workers WHERE id = $1")
                .bind(self.worker.get())
                .fetch_optional(&mut *c)
                .await?;
        let Some(json) = json else { return Ok(()) };
        let mut disabled: BTreeMap<String, String> =
            serde_json::from_str(&json).unwrap_or_default();
        disabled.insert(self.device, self.reason);
        sqlx::query("UPDATE workers SET disabled_json = $1, last_seen = $2 WHERE id = $3")
            .bind(serde_json::to_string(&disabled).expect("strings serialise"))
            .bind(now_ms())
            .bind(self.worker.get())
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}

/// Notes that `worker` called just now.
pub(super) async fn touch(c: &mut AnyConnection, worker: WorkerId) -> Result<()> {
    sqlx::query("UPDATE workers SET last_seen = $1 WHERE id = $2")
        .bind(now_ms())
        .bind(worker.get())
        .execute(&mut *c)
        .await?;
    Ok(())
}
