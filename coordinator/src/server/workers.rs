//! The Workers service: register, long-poll leases, reports, heartbeats, finish, datasets.
//! Every call but Register is a registered worker's ([`WorkersService::caller`]), and may
//! touch only what is that worker's: its own id and devices, and leases it holds (checked
//! by the store with the lease). What each call does is the domain's ([`crate::domain`]).

use std::time::Duration;

use tonic::{Request, Response, Status};

use gptsweep_proto::pb;

use gptsweep_api::transfer::CHUNK;
use gptsweep_api::{LeaseId, RunId, WorkerId, from_proto, to_proto};

use super::{Coordinator, Sent, received, send_chunks};
use crate::domain::{Ended, LeaseAsk, OfferedDevice, own_id};
use crate::store::{MarkShapeWarm, PutKernelRecords};

pub struct WorkersService(pub Coordinator);

impl WorkersService {
    /// The registered worker making `req`, by the id and key in its `gptsweep-worker`
    /// header; UNAUTHENTICATED, saying what to do, without them.
    fn caller<T>(&self, req: &Request<T>) -> Result<WorkerId, Status> {
        Ok(self.0.worker_keys.authenticate(req.metadata())?)
    }
}

#[tonic::async_trait]
impl pb::workers_server::Workers for WorkersService {
    async fn register(
        &self,
        req: Request<pb::RegisterRequest>,
    ) -> Result<Response<pb::RegisterReply>, Status> {
        let r = req.into_inner();
        let devices = r
            .devices
            .into_iter()
            .map(|d| OfferedDevice {
                spec: d.spec,
                memory_bytes: d.memory_bytes,
            })
            .collect();
        let w = self.0.register(r.name, devices).await?;
        Ok(Response::new(pb::RegisterReply {
            worker_id: w.worker.get(),
            lease_timeout_ms: w.lease_timeout.as_millis() as u64,
            heartbeat_interval_ms: w.heartbeat_interval.as_millis() as u64,
            worker_key: w.key,
        }))
    }

    async fn lease(
        &self,
        req: Request<pb::LeaseRequest>,
    ) -> Result<Response<pb::LeaseReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        own_id(caller, r.worker_id, "lease")?;
        let ask = LeaseAsk {
            device: r.device,
            fit_memory: r.fit_memory,
            wait: Duration::from_millis(r.wait_ms),
        };
        let run = self.0.lease(caller, ask).await?;
        Ok(Response::new(pb::LeaseReply {
            run: run.map(Into::into),
        }))
    }

    async fn report(
        &self,
        req: Request<pb::ReportRequest>,
    ) -> Result<Response<pb::ReportReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let evals = r.evals.iter().map(Into::into).collect();
        let d = self
            .0
            .report(RunId(r.run_id), LeaseId(r.lease_id), caller, evals)
            .await?;
        let (directive, reason) = to_proto::directive(d);
        Ok(Response::new(pb::ReportReply { directive, reason }))
    }

    async fn heartbeat(
        &self,
        req: Request<pb::HeartbeatRequest>,
    ) -> Result<Response<pb::HeartbeatReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let progress = r.tokens_per_sec.map(|rate| (r.step, rate));
        let d = self
            .0
            .heartbeat(RunId(r.run_id), LeaseId(r.lease_id), caller, progress)
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
        let ended = Ended {
            run: RunId(r.run_id),
            lease: LeaseId(r.lease_id),
            outcome,
            error: r.error,
            samples: r.samples.iter().map(Into::into).collect(),
            summary_json: r.summary_json,
        };
        self.0.finish(caller, ended).await?;
        Ok(Response::new(pb::FinishReply {}))
    }

    async fn disable_device(
        &self,
        req: Request<pb::DisableDeviceRequest>,
    ) -> Result<Response<pb::DisableDeviceReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        own_id(caller, r.worker_id, "disable a device")?;
        self.0.disable_device(caller, r.device, r.reason).await?;
        Ok(Response::new(pb::DisableDeviceReply {}))
    }

    async fn deregister(
        &self,
        req: Request<pb::DeregisterRequest>,
    ) -> Result<Response<pb::DeregisterReply>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        own_id(caller, r.worker_id, "deregister")?;
        self.0.deregister(caller, r.reason).await?;
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
        let claim = (RunId(first.run_id), LeaseId(first.lease_id), first.step);
        let rest = received(stream, |m| m.data);
        let sha256 = self
            .0
            .put_checkpoint(caller, claim, first.data, rest)
            .await?;
        Ok(Response::new(pb::PutCheckpointReply { sha256 }))
    }

    type GetCheckpointStream = Sent<pb::Chunk>;

    async fn get_checkpoint(
        &self,
        req: Request<pb::GetCheckpointRequest>,
    ) -> Result<Response<Self::GetCheckpointStream>, Status> {
        let caller = self.caller(&req)?;
        let r = req.into_inner();
        let chunks = self
            .0
            .resume_checkpoint(caller, RunId(r.run_id), LeaseId(r.lease_id))
            .await?;
        Ok(Response::new(send_chunks(chunks, |data| pb::Chunk {
            data,
        })))
    }

    type FetchDatasetStream = Sent<pb::Chunk>;

    async fn fetch_dataset(
        &self,
        req: Request<pb::FetchDatasetRequest>,
    ) -> Result<Response<Self::FetchDatasetStream>, Status> {
        self.caller(&req)?;
        let chunks = self.0.datasets.chunks(&req.into_inner().sha256, CHUNK)?;
        Ok(Response::new(send_chunks(chunks, |data| pb::Chunk {
            data,
        })))
    }

    type FetchKernelsStream = Sent<pb::KernelRecord>;

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
