//! The Workers service: register, long-poll leases, reports, heartbeats, finish, datasets.
//! Every call but Register is a registered worker's ([`WorkersService::caller`]), and may
//! touch only what is that worker's: its own id and devices, and leases it holds (checked
//! by the store with the lease).

use std::pin::Pin;
use std::time::Duration;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status};

use gptsweep_proto::pb;

use gptsweep_api::progress::check_progress;
use gptsweep_api::report_rules::check_evaluations;
use gptsweep_api::{Evaluation, LeaseId, Outcome, RunId, WorkerId, from_proto, to_proto};

use super::{CHUNK, Coordinator};
use crate::CoordinatorError;
use crate::store::{
    Deregister, DisableDevice, Finish, Heartbeat, Lease, MarkShapeWarm, PutKernelRecords,
    RegisterWorker, Report, ResumedFrom, SetCheckpoint, reads,
};
use crate::worker_keys::MintedKey;

/// Longest a lease poll is held open.
const MAX_WAIT: Duration = Duration::from_secs(30);

pub struct WorkersService(pub Coordinator);

impl WorkersService {
    fn lease_ms(&self) -> i64 {
        self.0.config.lease_timeout.as_millis() as i64
    }

    /// The registered worker making `req`, by the id and key in its `gptsweep-worker`
    /// header; UNAUTHENTICATED, saying what to do, without them.
    fn caller<T>(&self, req: &Request<T>) -> Result<WorkerId, Status> {
        Ok(self.0.worker_keys.authenticate(req.metadata())?)
    }

    /// Refuses a call by `caller` about another worker's `id` (`what` the worker would do).
    fn own_id(caller: WorkerId, id: i64, what: &str) -> Result<(), Status> {
        if caller.get() == id {
            return Ok(());
        }
        Err(CoordinatorError::Forbidden(format!(
            "worker {caller} cannot {what} for worker {id}: a worker calls only for its own id"
        ))
        .into())
    }

    /// Answers a storage fault met while serving the holder of `lease`: the worker is
    /// alive and keeps its run, so its lease is renewed as by a heartbeat, and it is told
    /// to try again (UNAVAILABLE). A lease already lost is said instead.
    async fn storage_fault(
        &self,
        what: &str,
        run: RunId,
        lease: LeaseId,
        worker: WorkerId,
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
                worker,
                lease_ms,
                progress: None,
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
        let key = MintedKey::new();
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
                key_sha256: key.sha256.clone(),
            })
            .await?;
        self.0.worker_keys.insert(id, &key.sha256)?;
        let lease = self.0.config.lease_timeout;
        Ok(Response::new(pb::RegisterReply {
            worker_id: id.get(),
            lease_timeout_ms: lease.as_millis() as u64,
            heartbeat_interval_ms: (lease / 4).as_millis() as u64,
            worker_key: key.secret,
        }))
    }

    async fn lease(
        &self,
        req: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        Self::own_id(caller, r.worker_id, "lease")?;
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
                    worker: caller,
                    device: r.device.clone(),
                    lease_ms,
                    fit_memory: r.fit_memory,
                })
                .await?;
            if let Some(run) = leased {
                self.0.metrics.leases.inc();
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
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        if r.evals.len() > 10_000 {
            return Err(Status::invalid_argument(
                "at most 10000 evaluations per report",
            ));
        }
        let evals: Vec<Evaluation> = r.evals.iter().map(Into::into).collect();
        check_evaluations(&evals).map_err(CoordinatorError::from)?;
        let lease_ms = self.lease_ms();
        let n = evals.len() as u64;
        let d = self
            .0
            .store
            .write(Report {
                run: RunId(r.run_id),
                lease: LeaseId(r.lease_id),
                worker: caller,
                evals,
                lease_ms,
            })
            .await?;
        self.0.metrics.reports.inc();
        self.0.metrics.reported_evaluations.inc_by(n);
        let (directive, reason) = to_proto::directive(d);
        Ok(Response::new(pb::ReportReply { directive, reason }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        if let Some(rate) = r.tokens_per_sec {
            check_progress(rate).map_err(CoordinatorError::from)?;
        }
        let lease_ms = self.lease_ms();
        let d = self
            .0
            .store
            .write(Heartbeat {
                run: RunId(r.run_id),
                lease: LeaseId(r.lease_id),
                worker: caller,
                lease_ms,
                progress: r.tokens_per_sec.map(|rate| (r.step, rate)),
            })
            .await?;
        let (directive, reason) = to_proto::directive(d);
        Ok(Response::new(pb::HeartbeatReply { directive, reason }))
    }

    async fn finish(
        &self,
        req: Request<pb::FinishRequest>,
    ) -> Result<Response<pb::FinishReply>, Status> {
        let caller = self.caller(&req)?;
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
                worker: caller,
                outcome,
                error: r.error,
                samples,
                summary_json: r.summary_json,
                max_attempts: self.0.config.max_attempts,
            })
            .await?;
        self.0
            .metrics
            .attempts_ended
            .get_or_create(&crate::metrics::State {
                state: outcome.to_string(),
            })
            .inc();
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
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        Self::own_id(caller, r.worker_id, "disable a device")?;
        if r.device.len() > 200 || r.reason.len() > 64 << 10 {
            return Err(Status::invalid_argument(
                "a device name under 200 characters and a reason under 64 KiB",
            ));
        }
        tracing::warn!(worker = r.worker_id, device = %r.device, "device disabled: {}", r.reason);
        self.0
            .store
            .write(DisableDevice {
                worker: caller,
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
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        Self::own_id(caller, r.worker_id, "deregister")?;
        if r.reason.len() > 64 << 10 {
            return Err(Status::invalid_argument("a reason under 64 KiB"));
        }
        tracing::info!(worker = r.worker_id, "worker left: {}", r.reason);
        self.0
            .store
            .write(Deregister {
                worker: caller,
                reason: r.reason,
            })
            .await?;
        Ok(Response::new(pb::DeregisterReply {}))
    }

    async fn put_checkpoint(
        &self,
        req: Request<tonic::Streaming<pb::CheckpointUpload>>,
    ) -> Result<Response<pb::PutCheckpointReply>, Status> {
        let caller = self.caller(&req)?;
        let mut stream = req.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty checkpoint upload"))?;
        let (run, lease, step) = (RunId(first.run_id), LeaseId(first.lease_id), first.step);
        // Refused before its bytes are read unless the lease is the caller's (SetCheckpoint
        // checks again, with the step, as it stores the checkpoint).
        reads::checkpoint_for_lease(&self.0.store.pool, run, lease, caller).await?;
        let lease_ms = self.lease_ms();
        let rest = stream.map(|m| m.map(|m| m.data));
        let sha = match self.0.receive_checkpoint(run, first.data, rest).await {
            Ok(sha) => sha,
            // A full disk or busy slots are the coordinator's: the worker keeps its run.
            Err(e) if e.is_coordinators() => {
                return Err(self
                    .storage_fault("checkpoint not stored", run, lease, caller, e)
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
                worker: caller,
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
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let (run, lease) = (RunId(r.run_id), LeaseId(r.lease_id));
        let (sha, step) = reads::checkpoint_for_lease(&self.0.store.pool, run, lease, caller)
            .await?
            .ok_or_else(|| Status::not_found(format!("run {run} has no checkpoint")))?;
        let chunks = match self.0.checkpoints.chunks(&sha, CHUNK) {
            Ok(chunks) => chunks,
            Err(e) if e.is_storage_fault() => {
                return Err(self
                    .storage_fault("checkpoint not read", run, lease, caller, e)
                    .await);
            }
            Err(e) => return Err(e.into()),
        };
        // The attempt resumes from what it is handed, not from what its lease offered.
        self.0.store.write(ResumedFrom { run, lease, step }).await?;
        Ok(Response::new(Box::pin(chunks.map(|c| {
            c.map(|data| pb::Chunk { data }).map_err(Status::from)
        }))))
    }

    type FetchDatasetStream = Pin<Box<dyn Stream<Item = Result<pb::Chunk, Status>> + Send>>;

    async fn fetch_dataset(
        &self,
        req: Request<pb::FetchDatasetRequest>,
    ) -> Result<Response<Self::FetchDatasetStream>, Status> {
        self.caller(&req)?;
        let chunks = self.0.datasets.chunks(&req.into_inner().sha256, CHUNK)?;
        Ok(Response::new(Box::pin(chunks.map(|c| {
            c.map(|data| pb::Chunk { data }).map_err(Status::from)
        }))))
    }

    type FetchKernelsStream = Pin<Box<dyn Stream<Item = Result<pb::KernelRecord, Status>> + Send>>;

    async fn fetch_kernels(
        &self,
        req: Request<pb::FetchKernelsRequest>,
    ) -> Result<Response<Self::FetchKernelsStream>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        crate::kernels::check_scope(&r.scope)?;
        Ok(Response::new(crate::kernels::records_stream(
            self.0.store.pool.clone(),
            r.scope,
            r.after_seq,
        )))
    }

    async fn put_kernels(
        &self,
        req: Request<tonic::Streaming<pb::KernelUpload>>,
    ) -> Result<Response<pb::PutKernelsReply>, Status> {
        let caller = self.caller(&req)?;
        // Bounded like checkpoints: a few uploads at once, each at most MAX_PUT_BYTES.
        let _slot = self.0.uploads.checkpoint_slot()?;
        let received = crate::kernels::receive(req.into_inner()).await?;
        let bytes: u64 = received.records.iter().map(|r| r.data.len() as u64).sum();
        self.0.uploads.reserve.check("kernel records", bytes)?;
        let outcome = self
            .0
            .store
            .write(PutKernelRecords {
                scope: received.scope,
                worker: caller.get(),
                records: received.records,
                limit_bytes: self.0.config.uploads.kernel_cache,
            })
            .await?;
        Ok(Response::new(pb::PutKernelsReply {
            stored: outcome.stored,
            known: outcome.known,
            refused: received.refused,
            refusal: received.refusal,
        }))
    }

    async fn cold_shapes(
        &self,
        req: Request<pb::ColdShapesRequest>,
    ) -> Result<Response<pb::ColdShapesReply>, Status> {
        self.caller(&req)?;
        let r = req.into_inner();
        crate::kernels::check_scope(&r.scope)?;
        let shapes =
            crate::warm_shapes::cold_shapes(&self.0.store.pool, &r.scope, r.limit as usize).await?;
        Ok(Response::new(pb::ColdShapesReply { shapes }))
    }

    async fn shape_warm(
        &self,
        req: Request<pb::ShapeWarmRequest>,
    ) -> Result<Response<pb::ShapeWarmReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        crate::kernels::check_scope(&r.scope)?;
        crate::warm_shapes::check_shape(&r.shape)?;
        self.0
            .store
            .write(MarkShapeWarm {
                scope: r.scope,
                shape: r.shape,
                worker: caller.get(),
            })
            .await?;
        Ok(Response::new(pb::ShapeWarmReply {}))
    }
}
