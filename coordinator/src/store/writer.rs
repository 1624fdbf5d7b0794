//! The one writer: a task that owns every write. It takes what is queued (up to
//! [`MAX_BATCH`] operations), runs each in its own savepoint inside one transaction,
//! commits once, then answers every caller. Batching is what lets hundreds of workers
//! report at once on one SQLite file.

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::records::{Directive, LeasedRun, Outcome, StoredSample};
use super::writes::{self, NewSweep};
use crate::error::{CoordinatorError, Result};
use gptsweep_gpt::Eval;

/// Most operations committed in one transaction.
pub const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T>>;

/// Answers one caller once the batch's commit is known (`Some` = the commit failed).
type Answer = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;

/// A write, with the channel its result goes back on. Fields are the arguments of the
/// same-named function in `writes.rs`.
#[derive(Debug)]
#[allow(missing_docs)]
pub enum WriteOp {
    /// Records a dataset (idempotent by sha256).
    InsertDataset {
        sha256: String,
        name: String,
        bytes: u64,
        builtin: bool,
        reply: Reply<()>,
    },
    /// Stores a sweep and queues its runs.
    CreateSweep {
        sweep: Box<NewSweep>,
        reply: Reply<i64>,
    },
    /// Registers a worker.
    RegisterWorker {
        name: String,
        devices: Vec<String>,
        reply: Reply<i64>,
    },
    /// Leases the next queued run to a worker's device.
    Lease {
        worker_id: i64,
        device: String,
        lease_ms: i64,
        reply: Reply<Option<LeasedRun>>,
    },
    /// Stores evaluations and renews the lease.
    Report {
        run_id: i64,
        lease_id: i64,
        evals: Vec<Eval>,
        lease_ms: i64,
        reply: Reply<Directive>,
    },
    /// Renews the lease.
    Heartbeat {
        run_id: i64,
        lease_id: i64,
        lease_ms: i64,
        reply: Reply<Directive>,
    },
    /// Records a run's latest checkpoint; answers the blob to prune.
    SetCheckpoint {
        run_id: i64,
        lease_id: i64,
        sha256: String,
        step: u64,
        lease_ms: i64,
        reply: Reply<Option<String>>,
    },
    /// Ends an attempt.
    Finish {
        run_id: i64,
        lease_id: i64,
        outcome: Outcome,
        error: String,
        samples: Vec<StoredSample>,
        summary_json: String,
        max_attempts: u32,
        reply: Reply<()>,
    },
    /// Requeues runs whose lease expired; answers their ids.
    ExpireLeases {
        max_attempts: u32,
        reply: Reply<Vec<i64>>,
    },
    /// Cancels a sweep: queued runs cancelled, running ones asked to stop.
    Cancel {
        sweep_id: i64,
        reply: Reply<(u32, u32)>,
    },
    /// Requeues a sweep's failed and/or stopped runs.
    Retry {
        sweep_id: i64,
        failed: bool,
        stopped: bool,
        reply: Reply<u32>,
    },
}

/// Handle to the store: a read pool and the writer's queue.
#[derive(Clone, Debug)]
pub struct Store {
    /// For reads (WAL lets them run beside the writer).
    pub pool: SqlitePool,
    tx: mpsc::Sender<WriteOp>,
}

fn commit_failed(e: &sqlx::Error) -> CoordinatorError {
    CoordinatorError::Store(sqlx::Error::Protocol(format!("commit failed: {e}")))
}

macro_rules! finish_with {
    ($reply:expr, $result:expr) => {{
        let reply = $reply;
        let result = $result;
        Box::new(move |commit: Option<&sqlx::Error>| {
            let _ = reply.send(match commit {
                Some(e) => Err(commit_failed(e)),
                None => result,
            });
        }) as Answer
    }};
}

async fn apply(conn: &mut sqlx::SqliteConnection, op: WriteOp) -> Answer {
    use sqlx::Connection;
    let mut sp = match conn.begin().await {
        Ok(sp) => sp,
        Err(e) => {
            let err = CoordinatorError::Store(e);
            return reply_error(op, err);
        }
    };
    macro_rules! run {
        ($reply:expr, $f:expr) => {{
            let r = $f;
            let r = match r {
                Ok(v) => sp.commit().await.map(|_| v).map_err(CoordinatorError::from),
                Err(e) => Err(e),
            };
            finish_with!($reply, r)
        }};
    }
    match op {
        WriteOp::InsertDataset {
            sha256,
            name,
            bytes,
            builtin,
            reply,
        } => run!(
            reply,
            writes::insert_dataset(&mut sp, &sha256, &name, bytes, builtin).await
        ),
        WriteOp::CreateSweep { sweep, reply } => {
            run!(reply, writes::create_sweep(&mut sp, &sweep).await)
        }
        WriteOp::RegisterWorker {
            name,
            devices,
            reply,
        } => run!(
            reply,
            writes::register_worker(&mut sp, &name, &devices).await
        ),
        WriteOp::Lease {
            worker_id,
            device,
            lease_ms,
            reply,
        } => run!(
            reply,
            writes::lease(&mut sp, worker_id, &device, lease_ms).await
        ),
        WriteOp::Report {
            run_id,
            lease_id,
            evals,
            lease_ms,
            reply,
        } => run!(
            reply,
            writes::report(&mut sp, run_id, lease_id, &evals, lease_ms).await
        ),
        WriteOp::Heartbeat {
            run_id,
            lease_id,
            lease_ms,
            reply,
        } => run!(
            reply,
            writes::heartbeat(&mut sp, run_id, lease_id, lease_ms).await
        ),
        WriteOp::SetCheckpoint {
            run_id,
            lease_id,
            sha256,
            step,
            lease_ms,
            reply,
        } => {
            run!(
                reply,
                writes::set_checkpoint(&mut sp, run_id, lease_id, &sha256, step, lease_ms).await
            )
        }
        WriteOp::Finish {
            run_id,
            lease_id,
            outcome,
            error,
            samples,
            summary_json,
            max_attempts,
            reply,
        } => {
            run!(
                reply,
                writes::finish(
                    &mut sp,
                    run_id,
                    lease_id,
                    outcome,
                    &error,
                    &samples,
                    &summary_json,
                    max_attempts
                )
                .await
            )
        }
        WriteOp::ExpireLeases {
            max_attempts,
            reply,
        } => run!(reply, writes::expire_leases(&mut sp, max_attempts).await),
        WriteOp::Cancel { sweep_id, reply } => run!(reply, writes::cancel(&mut sp, sweep_id).await),
        WriteOp::Retry {
            sweep_id,
            failed,
            stopped,
            reply,
        } => run!(
            reply,
            writes::retry(&mut sp, sweep_id, failed, stopped).await
        ),
    }
}

fn reply_error(op: WriteOp, err: CoordinatorError) -> Answer {
    match op {
        WriteOp::InsertDataset { reply, .. } => finish_with!(reply, Err::<(), _>(err)),
        WriteOp::CreateSweep { reply, .. } => finish_with!(reply, Err::<i64, _>(err)),
        WriteOp::RegisterWorker { reply, .. } => finish_with!(reply, Err::<i64, _>(err)),
        WriteOp::Lease { reply, .. } => finish_with!(reply, Err::<Option<LeasedRun>, _>(err)),
        WriteOp::Report { reply, .. } | WriteOp::Heartbeat { reply, .. } => {
            finish_with!(reply, Err::<Directive, _>(err))
        }
        WriteOp::Finish { reply, .. } => finish_with!(reply, Err::<(), _>(err)),
        WriteOp::SetCheckpoint { reply, .. } => finish_with!(reply, Err::<Option<String>, _>(err)),
        WriteOp::ExpireLeases { reply, .. } => finish_with!(reply, Err::<Vec<i64>, _>(err)),
        WriteOp::Cancel { reply, .. } => finish_with!(reply, Err::<(u32, u32), _>(err)),
        WriteOp::Retry { reply, .. } => finish_with!(reply, Err::<u32, _>(err)),
    }
}

async fn writer_loop(pool: SqlitePool, mut rx: mpsc::Receiver<WriteOp>) {
    use sqlx::Connection;
    let mut conn = match pool.acquire().await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!("store writer cannot get a connection: {e}");
            return;
        }
    };
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        let mut tx = match conn.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                for op in batch {
                    reply_error(
                        op,
                        CoordinatorError::Store(sqlx::Error::Protocol(e.to_string())),
                    )(None);
                }
                continue;
            }
        };
        let mut replies = Vec::with_capacity(batch.len());
        for op in batch {
            replies.push(apply(&mut tx, op).await);
        }
        let committed = tx.commit().await;
        let err = committed.err();
        for reply in replies {
            reply(err.as_ref());
        }
    }
}

impl Store {
    /// Starts the writer task over `pool`.
    pub fn start(pool: SqlitePool) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        tokio::spawn(writer_loop(pool.clone(), rx));
        Self { pool, tx }
    }

    /// Queues `op` built around a fresh reply channel and waits for its result.
    pub async fn write<T>(&self, make: impl FnOnce(Reply<T>) -> WriteOp) -> Result<T> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(make(reply))
            .await
            .map_err(|_| CoordinatorError::WriterGone)?;
        rx.await.map_err(|_| CoordinatorError::WriterGone)?
    }
}
