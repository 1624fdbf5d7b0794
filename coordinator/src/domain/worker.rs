//! A worker's membership: registering (a fresh id and key, the lease timing it keeps),
//! disabling one of its devices, and leaving. A worker calls only for its own id
//! ([`own_id`]).

use std::collections::BTreeMap;
use std::time::Duration;

use gptsweep_api::WorkerId;

use crate::error::{CoordinatorError, Result};
use crate::store::{Deregister, DisableDevice, RegisterWorker};
use crate::worker_keys::MintedKey;

use super::Coordinator;

/// A device a registering worker offers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferedDevice {
    /// As the worker names it (`cpu`, `cuda:0`).
    pub spec: String,
    /// Its memory in bytes; 0 when unknown.
    pub memory_bytes: u64,
}

/// What a registered worker is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    /// Its id.
    pub worker: WorkerId,
    /// Its key, shown once: the coordinator keeps only its sha256.
    pub key: String,
    /// How long a lease lasts without a renewal.
    pub lease_timeout: Duration,
    /// How often to renew one.
    pub heartbeat_interval: Duration,
}

/// Refuses a call by `caller` about another worker's `id` (`what` the worker would do).
pub fn own_id(caller: WorkerId, id: i64, what: &str) -> Result<()> {
    if caller.get() == id {
        return Ok(());
    }
    Err(CoordinatorError::Forbidden(format!(
        "worker {caller} cannot {what} for worker {id}: a worker calls only for its own id"
    )))
}

impl Coordinator {
    /// Registers the worker `name` with its `devices`, minting its key.
    pub async fn register(&self, name: String, devices: Vec<OfferedDevice>) -> Result<Registered> {
        if name.len() > 200 || devices.is_empty() || devices.len() > 64 {
            return Err(CoordinatorError::Invalid(
                "a worker needs a name under 200 characters and 1 to 64 devices".to_string(),
            ));
        }
        let key = MintedKey::new();
        let memory: BTreeMap<String, u64> = devices
            .iter()
            .filter(|d| d.memory_bytes > 0)
            .map(|d| (d.spec.clone(), d.memory_bytes))
            .collect();
        let id = self
            .store
            .write(RegisterWorker {
                name,
                devices: devices.into_iter().map(|d| d.spec).collect(),
                memory,
                key_sha256: key.sha256.clone(),
            })
            .await?;
        self.worker_keys.insert(id, &key.sha256)?;
        let lease = self.config.lease_timeout;
        Ok(Registered {
            worker: id,
            key: key.secret,
            lease_timeout: lease,
            heartbeat_interval: lease / 4,
        })
    }

    /// Takes the device `device` of `worker` out of service, for `reason`.
    pub async fn disable_device(
        &self,
        worker: WorkerId,
        device: String,
        reason: String,
    ) -> Result<()> {
        if device.len() > 200 || reason.len() > 64 << 10 {
            return Err(CoordinatorError::Invalid(
                "a device name under 200 characters and a reason under 64 KiB".to_string(),
            ));
        }
        tracing::warn!(worker = worker.get(), device = %device, "device disabled: {reason}");
        self.store
            .write(DisableDevice {
                worker,
                device,
                reason,
            })
            .await
    }

    /// Notes that `worker` left, for `reason`.
    pub async fn deregister(&self, worker: WorkerId, reason: String) -> Result<()> {
        if reason.len() > 64 << 10 {
            return Err(CoordinatorError::Invalid(
                "a reason under 64 KiB".to_string(),
            ));
        }
        tracing::info!(worker = worker.get(), "worker left: {reason}");
        self.store.write(Deregister { worker, reason }).await
    }
}
