//! The Clients service: datasets in, sweeps in, and every listing the CLI shows. What
//! each change does is the domain's ([`crate::domain`]); listings read the store.

use tokio_stream::StreamExt;
use tonic::{Request, Response, Status, Streaming};

use gptsweep_proto::pb;

use gptsweep_api::RunId;

use super::{Coordinator, Sent, received, send_chunks};
use crate::clock::now_ms;
use crate::domain::RetryWhich;
use crate::store::{Annotate, reads};

pub struct ClientsService(pub Coordinator);

#[tonic::async_trait]
impl pb::clients_server::Clients for ClientsService {
    async fn upload_dataset(
        &self,
        req: Request<Streaming<pb::DatasetUpload>>,
    ) -> Result<Response<pb::UploadDatasetReply>, Status> {
        let mut stream = req.into_inner();
        let first = stream
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("empty dataset upload"))?;
        let rest = received(stream, |m| m.data);
        let (sha256, bytes) = self
            .0
            .receive_dataset(&first.name, first.bytes, first.data, rest)
            .await?;
        Ok(Response::new(pb::UploadDatasetReply { sha256, bytes }))
    }

    async fn submit(
        &self,
        req: Request<pb::SubmitRequest>,
    ) -> Result<Response<pb::SubmitReply>, Status> {
        let r = req.into_inner();
        let s = self
            .0
            .submit_named(&r.file_name, &r.yaml, &r.dataset_sha256, &r.name)
            .await?;
        Ok(Response::new((&s).into()))
    }

    async fn list_sweeps(
        &self,
        _: Request<pb::ListSweepsRequest>,
    ) -> Result<Response<pb::ListSweepsReply>, Status> {
        let sweeps = reads::list_sweeps(&self.0.store.pool).await?;
        Ok(Response::new(pb::ListSweepsReply {
            sweeps: sweeps.iter().map(Into::into).collect(),
        }))
    }

    async fn sweep_status(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<pb::SweepStatusReply>, Status> {
        let id = reads::sweep_id(&self.0.store.pool, &req.into_inner().sweep).await?;
        let info = reads::sweep_info(&self.0.store.pool, id).await?;
        let horizon = now_ms() - self.0.config.lease_timeout.as_millis() as i64;
        let status = gptsweep_api::SweepStatus {
            summary: info,
            too_large: reads::memory_shortfall(&self.0.store.pool, id, horizon).await?,
        };
        Ok(Response::new((&status).into()))
    }

    async fn top(&self, req: Request<pb::TopRequest>) -> Result<Response<pb::TopReply>, Status> {
        let r = req.into_inner();
        let id = reads::sweep_id(&self.0.store.pool, &r.sweep).await?;
        let board = reads::top(&self.0.store.pool, id, r.limit, r.samples.min(16)).await?;
        Ok(Response::new((&board).into()))
    }

    async fn show_run(
        &self,
        req: Request<pb::ShowRunRequest>,
    ) -> Result<Response<pb::ShowRunReply>, Status> {
        let d = reads::run_detail(&self.0.store.pool, RunId(req.into_inner().run_id)).await?;
        Ok(Response::new((&d).into()))
    }

    async fn list_kernels(
        &self,
        _: Request<pb::ListKernelsRequest>,
    ) -> Result<Response<pb::ListKernelsReply>, Status> {
        let scopes = crate::store::kernels::scopes(&self.0.store.pool).await?;
        Ok(Response::new(pb::ListKernelsReply {
            scopes: scopes
                .into_iter()
                .map(|s| pb::KernelScope {
                    scope: s.scope,
                    records: s.records as u64,
                    bytes: s.bytes as u64,
                    last_stored_ms: s.last_stored_ms,
                    workers: s.workers as u64,
                })
                .collect(),
            limit_bytes: self.0.config.uploads.kernel_cache,
        }))
    }

    async fn list_workers(
        &self,
        _: Request<pb::ListWorkersRequest>,
    ) -> Result<Response<pb::ListWorkersReply>, Status> {
        let horizon = now_ms() - self.0.config.lease_timeout.as_millis() as i64;
        let ws = reads::workers(&self.0.store.pool, horizon).await?;
        Ok(Response::new(pb::ListWorkersReply {
            workers: ws.iter().map(Into::into).collect(),
        }))
    }

    async fn cancel(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<pb::CancelReply>, Status> {
        let (queued, running) = self.0.cancel(&req.into_inner().sweep).await?;
        Ok(Response::new(pb::CancelReply {
            cancelled_queued: queued,
            stopping_running: running,
        }))
    }

    async fn retry(
        &self,
        req: Request<pb::RetryRequest>,
    ) -> Result<Response<pb::RetryReply>, Status> {
        let r = req.into_inner();
        let which = RetryWhich {
            failed: r.failed,
            stopped: r.stopped,
            cancelled: r.cancelled,
        };
        let requeued = self.0.retry(&r.sweep, which).await?;
        Ok(Response::new(pb::RetryReply { requeued }))
    }

    async fn extend(
        &self,
        req: Request<pb::ExtendRequest>,
    ) -> Result<Response<pb::ExtendReply>, Status> {
        let r = req.into_inner();
        let e = self.0.extend(&r.sweep, r.runs).await?;
        Ok(Response::new(pb::ExtendReply {
            run_cap_before: e.from,
            run_cap: e.to,
            queued: e.queued,
        }))
    }

    async fn annotate(
        &self,
        req: Request<pb::AnnotateRequest>,
    ) -> Result<Response<pb::AnnotateReply>, Status> {
        let r = req.into_inner();
        let a = self
            .0
            .store
            .write(Annotate {
                run: RunId(r.run_id),
                name: r.name,
                note: r.note,
            })
            .await?;
        Ok(Response::new(pb::AnnotateReply {
            name: a.name,
            note: a.note,
        }))
    }

    async fn importance(
        &self,
        req: Request<pb::SweepRef>,
    ) -> Result<Response<pb::ImportanceReply>, Status> {
        let sweep = reads::sweep_id(&self.0.store.pool, &req.into_inner().sweep).await?;
        let report = reads::importance(&self.0.store.pool, sweep).await?;
        Ok(Response::new((&report).into()))
    }

    async fn delete(
        &self,
        req: Request<pb::DeleteRequest>,
    ) -> Result<Response<pb::DeleteReply>, Status> {
        let r = req.into_inner();
        let (deleted, checkpoints) = self.0.delete(&r.sweep, r.force).await?;
        Ok(Response::new(pb::DeleteReply {
            runs: deleted.runs,
            evals: deleted.evals,
            checkpoints,
            datasets: deleted.datasets.len() as u64,
        }))
    }

    type FetchRunCheckpointStream = Sent<pb::RunCheckpointChunk>;

    async fn fetch_run_checkpoint(
        &self,
        req: Request<pb::RunCheckpointRequest>,
    ) -> Result<Response<Self::FetchRunCheckpointStream>, Status> {
        let r = req.into_inner();
        let found = self
            .0
            .run_checkpoint(RunId(r.run_id), &r.cached_sha256)
            .await?;
        let head = pb::RunCheckpointChunk {
            cached: found.cached,
            sha256: found.sha256,
            step: found.step,
            data: Vec::new(),
        };
        let head = tokio_stream::once(Ok::<_, Status>(head));
        let stream: Self::FetchRunCheckpointStream = match found.chunks {
            Some(chunks) => {
                Box::pin(
                    head.chain(send_chunks(chunks, |data| pb::RunCheckpointChunk {
                        data,
                        ..Default::default()
                    })),
                )
            }
            None => Box::pin(head),
        };
        Ok(Response::new(stream))
    }
}
