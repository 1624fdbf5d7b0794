//! The Clients service: datasets in, sweeps in, and every listing the CLI shows.

use std::pin::Pin;

use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

use gptsweep_proto::pb;

use gptsweep_api::RunId;

use super::{CHUNK, Coordinator};
use crate::CoordinatorError;
use crate::clock::now_ms;
use crate::store::{Annotate, Cancel, Delete, Extend, Retry, reads};

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
        let rest = stream.map(|m| m.map(|m| m.data));
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
        let sweep = reads::sweep_id(&self.0.store.pool, &req.into_inner().sweep).await?;
        let (queued, running) = self.0.store.write(Cancel { sweep }).await?;
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
        if !(r.failed || r.stopped || r.cancelled) {
            return Err(Status::invalid_argument(
                "retry: say which runs to queue again: failed, stopped and/or cancelled",
            ));
        }
        let sweep = reads::sweep_id(&self.0.store.pool, &r.sweep).await?;
        let n = self
            .0
            .store
            .write(Retry {
                sweep,
                failed: r.failed,
                stopped: r.stopped,
                cancelled: r.cancelled,
            })
            .await?;
        if n > 0 {
            self.0.work.notify_waiters();
        }
        Ok(Response::new(pb::RetryReply { requeued: n }))
    }

    async fn extend(
        &self,
        req: Request<pb::ExtendRequest>,
    ) -> Result<Response<pb::ExtendReply>, Status> {
        let r = req.into_inner();
        let sweep = reads::sweep_id(&self.0.store.pool, &r.sweep).await?;
        let e = self
            .0
            .store
            .write(Extend {
                sweep,
                runs: r.runs,
            })
            .await?;
        self.0.work.notify_waiters();
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
        let sweep = reads::sweep_id(&self.0.store.pool, &r.sweep).await?;
        let deleted = self
            .0
            .store
            .write(Delete {
                sweep,
                force: r.force,
            })
            .await?;
        // Committed: the checkpoint files can go, but one another run refers to stays. A
        // forgotten dataset's file goes at the next collection (see `crate::collect`).
        let mut checkpoints = 0;
        for sha in &deleted.checkpoints {
            if !reads::checkpoint_in_use(&self.0.store.pool, sha).await? {
                self.0.checkpoints.remove(sha);
                checkpoints += 1;
            }
        }
        // Workers still on its runs are told at their next call (their leases are gone).
        self.0.work.notify_waiters();
        Ok(Response::new(pb::DeleteReply {
            runs: deleted.runs,
            evals: deleted.evals,
            checkpoints,
            datasets: deleted.datasets.len() as u64,
        }))
    }

    type FetchRunCheckpointStream =
        Pin<Box<dyn Stream<Item = Result<pb::RunCheckpointChunk, Status>> + Send>>;

    async fn fetch_run_checkpoint(
        &self,
        req: Request<pb::RunCheckpointRequest>,
    ) -> Result<Response<Self::FetchRunCheckpointStream>, Status> {
        let r = req.into_inner();
        let run = RunId(r.run_id);
        // A running run replaces its checkpoint (and the old blob goes) as it trains: one
        // read that finds its blob gone just now is made again. Once open, it is sent whole.
        let (mut sha256, mut step) = reads::run_checkpoint(&self.0.store.pool, run).await?;
        let mut chunks = None;
        for last in [false, true] {
            if r.cached_sha256 == sha256 {
                break;
            }
            match self.0.checkpoints.chunks(&sha256, CHUNK) {
                Ok(c) => {
                    chunks = Some(c);
                    break;
                }
                Err(CoordinatorError::NotFound(_)) if !last => {
                    (sha256, step) = reads::run_checkpoint(&self.0.store.pool, run).await?;
                }
                Err(e) => return Err(e.into()),
            }
        }
        let head = pb::RunCheckpointChunk {
            cached: r.cached_sha256 == sha256,
            sha256,
            step,
            data: Vec::new(),
        };
        let head = tokio_stream::once(Ok::<_, Status>(head));
        let stream: Self::FetchRunCheckpointStream = match chunks {
            Some(chunks) => Box::pin(head.chain(chunks.map(|c| {
                c.map(|data| pb::RunCheckpointChunk {
                    data,
                    ..Default::default()
                })
                .map_err(Status::from)
            }))),
            None => Box::pin(head),
        };
        Ok(Response::new(stream))
    }
}
