//! Registering a worker and noting that it is alive.

use sqlx::SqliteConnection;

use gptsweep_api::WorkerId;

use super::Write;
use crate::clock::now_ms;
use crate::error::Result;

/// Registers a worker; answers its id.
#[derive(Debug, Clone)]
pub struct RegisterWorker {
    /// Its name.
    pub name: String,
    /// Its device specs.
    pub devices: Vec<String>,
    /// Each device's memory for runs, bytes (devices of unknown memory absent).
    pub memory: std::collections::BTreeMap<String, u64>,
}

impl Write for RegisterWorker {
    type Output = WorkerId;

    async fn apply(self, c: &mut SqliteConnection) -> Result<WorkerId> {
        let now = now_ms();
        let id = sqlx::query_scalar("INSERT INTO workers (name, devices_json, registered_at, last_seen, device_memory_json) VALUES (?, ?, ?, ?, ?) RETURNING id")
            .bind(&self.name)
            .bind(serde_json::to_string(&self.devices).expect("strings serialise"))
            .bind(now)
            .bind(now)
            .bind(serde_json::to_string(&self.memory).expect("numbers serialise"))
            .fetch_one(&mut *c)
            .await?;
        Ok(WorkerId(id))
    }
}

/// A worker leaves: drained on a signal, idle, or with every device disabled. It no
/// longer shows as alive; runs it still holds expire as usual.
#[derive(Debug, Clone)]
pub struct Deregister {
    /// The worker.
    pub worker: WorkerId,
    /// Why it leaves.
    pub reason: String,
}

impl Write for Deregister {
    type Output = ();

    async fn apply(self, c: &mut SqliteConnection) -> Result<()> {
        sqlx::query("UPDATE workers SET left_reason = ?, last_seen = ? WHERE id = ?")
            .bind(&self.reason)
            .bind(now_ms())
            .bind(self.worker.get())
            .execute(&mut *c)
            .await?;
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

    async fn apply(self, c: &mut SqliteConnection) -> Result<()> {
        sqlx::query("UPDATE workers SET disabled_json = json_set(disabled_json, '$.' || json_quote(?), ?), last_seen = ? WHERE id = ?")
            .bind(&self.device)
            .bind(&self.reason)
            .bind(now_ms())
            .bind(self.worker.get())
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}

/// Notes that `worker` called just now.
pub(super) async fn touch(c: &mut SqliteConnection, worker: WorkerId) -> Result<()> {
    sqlx::query("UPDATE workers SET last_seen = ? WHERE id = ?")
        .bind(now_ms())
        .bind(worker.get())
        .execute(&mut *c)
        .await?;
    Ok(())
}
