//! The worker process: register with the coordinator, then one loop per device that
//! long-polls for a run, trains it, and asks again. Survives coordinator outages by
//! retrying with backoff, and re-registers if the coordinator forgot it.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use gptsweep_api::LeasedRun;
use gptsweep_gpt::DeviceSpec;
use gptsweep_proto::client::{self, Stamp, Workers};
use gptsweep_proto::pb;
use gptsweep_proto::tls::PemCertificates;

use crate::backoff::{Backoff, retry, transient};
use crate::dataset_cache::DatasetCache;
use crate::error::{Result, WorkerError};
use crate::execute::{RunContext, execute};

/// Settings of a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Coordinator URL, e.g. `http://head:50051`.
    pub coordinator: String,
    /// Bearer token for the Workers service, if the coordinator wants one.
    pub token: Option<String>,
    /// The CA to trust for an `https://` coordinator; the system's roots when `None`.
    pub tls_ca: Option<PemCertificates>,
    /// Name shown in `gptsweep workers`.
    pub name: String,
    /// Devices to drive, one run at a time each.
    pub devices: Vec<DeviceSpec>,
    /// Where fetched datasets are cached.
    pub cache_dir: PathBuf,
    /// How long one lease poll waits for work.
    pub poll: Duration,
}

struct Shared {
    client: Workers,
    name: String,
    devices: Vec<DeviceSpec>,
    worker_id: AtomicI64,
}

async fn register(shared: &Shared) -> Result<pb::RegisterReply> {
    let req = pb::RegisterRequest {
        name: shared.name.clone(),
        devices: shared
            .devices
            .iter()
            .map(|d| pb::Device {
                spec: d.to_string(),
                name: d.to_string(),
            })
            .collect(),
    };
    let reply = retry("Register", || {
        let mut c = shared.client.clone();
        let req = req.clone();
        async move { c.register(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    shared.worker_id.store(reply.worker_id, Ordering::SeqCst);
    tracing::info!(worker = reply.worker_id, devices = ?shared.devices, "registered");
    Ok(reply)
}

async fn device_loop(
    shared: Arc<Shared>,
    ctx: RunContext,
    device: DeviceSpec,
    poll: Duration,
) -> Result<()> {
    let mut backoff = Backoff::new(Duration::from_secs(5));
    loop {
        let req = pb::LeaseRequest {
            worker_id: shared.worker_id.load(Ordering::SeqCst),
            device: device.to_string(),
            wait_ms: poll.as_millis() as u64,
        };
        match shared.client.clone().lease(req).await {
            Ok(reply) => {
                backoff = Backoff::new(Duration::from_secs(5));
                if let Some(run) = reply.into_inner().run {
                    let run = LeasedRun::from(run);
                    let run_id = run.run;
                    match execute(&ctx, run, device).await {
                        Ok(()) => tracing::info!(run = %run_id, "run reported"),
                        Err(WorkerError::LeaseLost(why)) => {
                            tracing::warn!(run = %run_id, "lease lost: {why}")
                        }
                        Err(e @ WorkerError::Refused { .. }) => return Err(e),
                        Err(e) => tracing::error!(run = %run_id, "{e}"),
                    }
                }
            }
            Err(s) if s.code() == tonic::Code::NotFound => {
                tracing::warn!("the coordinator does not know this worker; registering again");
                register(&shared).await?;
            }
            Err(s) if transient(&s) => {
                tracing::warn!("coordinator unreachable ({}); retrying", s.message());
                backoff.wait().await;
            }
            Err(status) => {
                return Err(WorkerError::Refused {
                    call: "Lease",
                    status,
                });
            }
        }
    }
}

/// Runs a worker until a device loop fails for good or `shutdown` resolves.
pub async fn run(
    config: WorkerConfig,
    shutdown: impl std::future::Future<Output = ()>,
) -> Result<()> {
    let channel = client::channel(&config.coordinator, config.tls_ca.as_ref())
        .map_err(WorkerError::Config)?;
    let stamp = Stamp::new(config.token.as_deref()).map_err(WorkerError::Config)?;
    let shared = Arc::new(Shared {
        client: client::workers(channel, stamp),
        name: config.name.clone(),
        devices: config.devices.clone(),
        worker_id: AtomicI64::new(0),
    });
    // The device loops live in a JoinSet so that shutdown ends them too (dropping the set
    // aborts them); detached, they would poll on after `run` returned.
    let mut loops = tokio::task::JoinSet::new();
    let work = async {
        let reply = register(&shared).await?;
        let ctx = RunContext {
            client: shared.client.clone(),
            cache: DatasetCache::new(config.cache_dir.clone()),
            heartbeat: Duration::from_millis(reply.heartbeat_interval_ms.max(100)),
        };
        for d in &config.devices {
            loops.spawn(device_loop(shared.clone(), ctx.clone(), *d, config.poll));
        }
        while let Some(r) = loops.join_next().await {
            r.unwrap_or_else(|e| Err(WorkerError::Config(format!("device loop panicked: {e}"))))?;
        }
        Ok(())
    };
    tokio::select! {
        r = work => r,
        _ = shutdown => Ok(()),
    }
}
