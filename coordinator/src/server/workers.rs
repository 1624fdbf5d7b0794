//! The Workers service: register, long-poll leases, reports, heartbeats, finish, datasets.

use std::pin::Pin;
use std::time::Duration;

use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use gptsweep_proto::pb;

use gptsweep_api::{LeaseId, Outcome, RunId, WorkerId, from_proto, to_proto};

use super::{CHUNK, Coordinator};
use crate::CoordinatorError;
use crate::checkpoints::MAX_CHECKPOINT_BYTES;
use crate::store::{
    Deregister, DisableDevice, Finish, Heartbeat, Lease, RegisterWorker, Report, ResumedFrom,
    SetCheckpoint, reads,
};

/// Longest a lease poll is held open.
const MAX_WAIT: Duration = Duration::from_secs(30);

pub struct WorkersService(pub Coordinator);

impl WorkersService {
    fn lease_ms(&self) -> i64 {
        self.0.config.lease_timeout.as_millis() as i64
    }

    /// Answers a storage fault met while serving the holder of `lease`: the worker is
    /// alive and keeps its run, so its lease is renewed as by a heartbeat, and it is told
    /// to try again (UNAVAILABLE). A lease already lost is said instead.
    async fn storage_fault(
        &self,
        what: &str,
        run: RunId,
        lease: LeaseId,
        e: CoordinatorError,
    ) -> Status {
        tracing::error!(run = %run, "{what}: {e}");
        let lease_ms = self.lease_ms();
        match self
            .0
            .store
            .write(Heartbeat {
                run,
                lease,
                lease_ms,
            })
            .await
        {
            Err(lost @ CoordinatorError::LeaseLost(_)) => lost.into(),
            _ => e.into(),
        }
    }
}

#[tonic::async_trait]
impl pb::workers_server::Workers for WorkersService {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        let r = req.into_inner();
        if r.name.len() > 200 || r.devices.is_empty() || r.devices.len() > 64 {
            return Err(Status::invalid_argument(
                "a worker needs a name under 200 characters and 1 to 64 devices",
            ));
        }
        let devices = r.devices.iter().map(|d| d.spec.clone()).collect();
        let memory = r
            .devices
            .iter()
            .filter(|d| d.memory_bytes > 0)
            .map(|d| (d.spec.clone(), d.memory_bytes))
            .collect();
        let id = self
            .0
            .store
            .write(RegisterWorker {
                name: r.name,
                devices,
                memory,
            })
            .await?;
        let lease = self.0.config.lease_timeout;
        Ok(Response::new(pb::RegisterReply {
            worker_id: id.get(),
            lease_timeout_ms: lease.as_millis() as u64,
            heartbeat_interval_ms: (lease / 4).as_millis() as u64,
        }))
    }

    async fn lease(
        &self,
        req: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseReply>, Status> {
        let r = req.into_inner();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(r.wait_ms).min(MAX_WAIT);
        let mut stopping = self.0.stopping.subscribe();
        loop {
            let notified = self.0.work.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let lease_ms = self.lease_ms();
            let leased = self
                .0
                .store
                .write(Lease {
                    worker: WorkerId(r.worker_id),
                    device: r.device.clone(),
                    lease_ms,
                    fit_memory: r.fit_memory,
                })
                .await?;
            if let Some(run) = leased {
                return Ok(Response::new(pb::LeaseReply {
                    run: Some(run.into()),
                }));
            }
            tokio::select! {
                _ = &mut notified => continue,
                _ = tokio::time::sleep_until(deadline) => return Ok(Response::new(pb::LeaseReply { run: None })),
                _ = stopping.wait_for(|s| *s) => return Err(Status::unavailable(
                    "the coordinator is shutting down; retry",
                )),
            }
        }
    }

    async fn report(
        &self,
        req: Request<pb::ReportRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        let r = req.into_inner();
        if r.evals.len() > 10_000 {
            return Err(Status::invalid_argument(
                "at most 10000 evaluations per report",
            ));
        }
        let evals = r.evals.iter().map(Into::into).collect();
        let lease_ms = self.lease_ms();
        let d = self
            .0
            .store
            .write(Report {
                run: RunId(r.run_id),
                lease: LeaseId(r.lease_id),
                evals,
                lease_ms,
            })
            .await?;
        let (directive, reason) = to_proto::directive(d);
        Ok(Response::new(pb::ReportReply { directive, reason }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatReply>, Status> {
        let r = req.into_inner();
        let lease_ms = self.lease_ms();
        let d = self
            .0
            .store
            .write(Heartbeat {
                run: RunId(r.run_id),
                lease: LeaseId(r.lease_id),
                lease_ms,
            })
            .await?;
        let (directive, reason) = to_proto::directive(d);
        Ok(Response::new(pb::HeartbeatReply { directive, reason }))
    }

    async fn finish(
        &self,
        req: Request<pb::FinishRequest>,
    ) -> Result<Response<pb::FinishReply>, Status> {
        let r = req.into_inner();
        let outcome = from_proto::outcome(r.outcome)
            .map_err(|e| Status::invalid_argument(format!("finish needs an outcome: {e}")))?;
        if r.samples.len() > 16 || r.error.len() > 64 << 10 {
            return Err(Status::invalid_argument(
                "at most 16 samples and a 64 KiB error per run",
            ));
        }
        let samples = r.samples.iter().map(Into::into).collect();
        self.0
            .store
            .write(Finish {
                run: RunId(r.run_id),
                lease: LeaseId(r.lease_id),
                outcome,
                error: r.error,
                samples,
                summary_json: r.summary_json,
                max_attempts: self.0.config.max_attempts,
            })
            .await?;
        // A run handed back or failed may be queued again: wake the pollers. A finished or
        // stopped run frees nothing they could lease, and waking every idle worker's poll
        // on each one costs as many empty leases as there are idle workers.
        if !matches!(outcome, Outcome::Finished | Outcome::Stopped) {
            self.0.work.notify_waiters();
        }
        Ok(Response::new(pb::FinishReply {}))
    }

    async fn disable_device(
        &self,
        req: Request<pb::DisableDeviceRequest>,
    ) -> Result<Response<pb::DisableDeviceReply>, Status> {
        let r = req.into_inner();
        if r.device.len() > 200 || r.reason.len() > 64 << 10 {
            return Err(Status::invalid_argument(
                "a device name under 200 characters and a reason under 64 KiB",
            ));
        }
        tracing::warn!(worker = r.worker_id, device = %r.device, "device disabled: {}", r.reason);
        self.0
            .store
            .write(DisableDevice {
                worker: WorkerId(r.worker_id),
                device: r.device,
                reason: r.reason,
            })
            .await?;
        Ok(Response::new(pb::DisableDeviceReply {}))
    }

    async fn deregister(
        &self,
        req: Request<pb::DeregisterRequest>,
    ) -> Result<Response<pb::DeregisterReply>, Status> {
        let r = req.into_inner();
        if r.reason.len() > 64 << 10 {
            return Err(Status::invalid_argument("a reason under 64 KiB"));
        }
        tracing::info!(worker = r.worker_id, "worker left: {}", r.reason);
        self.0
            .store
            .write(Deregister {
                worker: WorkerId(r.worker_id),
                reason: r.reason,
            })
            .await?;
        Ok(Response::new(pb::DeregisterReply {}))
    }

    async fn put_checkpoint(
        &self,
        req: Request<tonic::Streaming<pb::CheckpointUpload>>,
    ) -> Result<Response<pb::PutCheckpointReply>, Status> {
        let mut stream = req.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty checkpoint upload"))?;
        let (run, lease, step) = (RunId(first.run_id), LeaseId(first.lease_id), first.step);
        let mut bytes = first.data;
        while let Some(chunk) = stream.message().await? {
            if bytes.len() + chunk.data.len() > MAX_CHECKPOINT_BYTES {
                return Err(Status::invalid_argument(format!(
                    "checkpoint over the limit of {MAX_CHECKPOINT_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk.data);
        }
        let c = self.0.clone();
        let lease_ms = self.lease_ms();
        let stored = tokio::task::spawn_blocking(move || {
            gptsweep_gpt::Checkpoint::from_bytes(&bytes, "upload")
                .map_err(|e| crate::CoordinatorError::Invalid(e.to_string()))?;
            c.checkpoints.put(&bytes)
        })
        .await
        .map_err(|e| Status::internal(e.to_string()))?;
        let sha = match stored {
            Ok(sha) => sha,
            Err(e) if e.is_storage_fault() => {
                return Err(self
                    .storage_fault("checkpoint not stored", run, lease, e)
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        let written = self
            .0
            .store
            .write(SetCheckpoint {
                run,
                lease,
                sha256: sha.clone(),
                step,
                lease_ms,
            })
            .await;
        match written {
            Ok(Some(stale)) => self.0.checkpoints.remove(&stale),
            Ok(None) => {}
            Err(e) => {
                // A refused upload leaves no blob, unless a run already uses the same one.
                if !reads::checkpoint_in_use(&self.0.store.pool, &sha)
                    .await
                    .unwrap_or(true)
                {
                    self.0.checkpoints.remove(&sha);
                }
                return Err(e.into());
            }
        }
        Ok(Response::new(pb::PutCheckpointReply { sha256: sha }))
    }

    type GetCheckpointStream = Pin<Box<dyn Stream<Item = Result<pb::Chunk, Status>> + Send>>;

    async fn get_checkpoint(
        &self,
        req: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<Self::GetCheckpointStream>, Status> {
        let r = req.into_inner();
        let (run, lease) = (RunId(r.run_id), LeaseId(r.lease_id));
        let (sha, step) = reads::checkpoint_for_lease(&self.0.store.pool, run, lease)
            .await?
            .ok_or_else(|| Status::not_found(format!("run {run} has no checkpoint")))?;
        let bytes = match self.0.checkpoints.get(&sha) {
            Ok(bytes) => bytes,
            Err(e) if e.is_storage_fault() => {
                return Err(self
                    .storage_fault("checkpoint not read", run, lease, e)
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        // The attempt resumes from what it is handed, not from what its lease offered.
        self.0.store.write(ResumedFrom { run, lease, step }).await?;
        let chunks: Vec<Result<pb::Chunk, Status>> = bytes
            .chunks(CHUNK)
            .map(|c| Ok(pb::Chunk { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }

    type FetchDatasetStream = Pin<Box<dyn Stream<Item = Result<pb::Chunk, Status>> + Send>>;

    async fn fetch_dataset(
        &self,
        req: Request<pb::FetchDatasetRequest>,
    ) -> Result<Response<Self::FetchDatasetStream>, Status> {
        let bytes = self.0.datasets.get(&req.into_inner().sha256)?;
        let chunks: Vec<Result<pb::Chunk, Status>> = bytes
            .chunks(CHUNK)
            .map(|c| Ok(pb::Chunk { data: c.to_vec() }))
            .collect();
        Ok(Response::new(Box::pin(tokio_stream::iter(chunks))))
    }
}
