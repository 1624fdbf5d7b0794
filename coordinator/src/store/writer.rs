//! The one writer: a task, on a thread of its own ([`spawn_writer`]), that owns every
//! write. It takes what is queued (up to [`MAX_BATCH`] writes), applies them inside one
//! transaction, commits once, then answers every caller: with the write's result once the
//! commit is known, or with the storage error when the batch could not commit (never an
//! acknowledgement of what is not in the database). A failed transaction costs the writer
//! its connection, replaced after a backoff ([`super::link`]), and sets the store's
//! health ([`super::health`]). Batching is what lets hundreds of
//! workers report at once on one SQLite file. Writes are [`Write`] values, dispatched here
//! once.
//!
//! A write that fails must roll back alone. Savepoints give that, at two statements a
//! write, which was a third of the writer's time under a fleet (BENCHMARKS.md); and writes
//! rarely fail. So a batch is first applied plainly, each write from a copy; only if one
//! fails is the transaction rolled back and the batch applied again, each write in its own
//! savepoint, where the failure rolls back alone and the others keep their effect.
//!
//! The writes of one type in a batch are applied as a group ([`Write::apply_many`]): a
//! fleet's reports arrive together, and set-based statements take a whole group in a few
//! round trips to the database where one at a time took a few each (each round trip wakes
//! sqlx-sqlite's connection thread, or crosses the network to PostgreSQL). A batch's writes
//! were all pending at once (none answered yet), so any order of them is one their callers
//! could have seen: the writer takes them type by type (in the order each type first came),
//! each type's in the order they came.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot, watch};

use super::health::{Health, Writable};
use super::link::Link;
use super::write::Write;
use super::writer_metrics::WriterMetrics;
use crate::error::{CoordinatorError, Result};

/// Most writes committed in one transaction.
pub const MAX_BATCH: usize = 512;

/// Answers one caller once the batch's commit is known (`Some` = the commit failed).
type Answer = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;

/// A write with the channel its result goes back on, its type erased for the queue.
trait Queued: Send {
    /// The write's type: writes of one type queued one after another form a group.
    fn kind(&self) -> TypeId;
    /// For taking the rest of a group back to its type.
    fn as_any(&mut self) -> &mut dyn Any;
    /// Applies copies of this write and of `rest` (the writes of its kind queued right
    /// after it) directly in the batch's transaction, as one group, and keeps each answer;
    /// false if the group failed, after which the transaction must be rolled back and the
    /// batch applied again with [`Queued::apply`].
    fn apply_plain<'a>(
        &'a mut self,
        rest: &'a mut [Box<dyn Queued>],
        c: &'a mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>>;
    /// How to reply once the batch commits, with the answer [`Queued::apply_plain`] kept.
    fn applied(self: Box<Self>) -> Answer;
    /// Applies the write in a savepoint; answers how to reply once the batch commits.
    fn apply<'a>(
        self: Box<Self>,
        c: &'a mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>>;
    /// Answers the caller with `err` without applying the write.
    fn refuse(self: Box<Self>, err: CoordinatorError);
}

struct Pending<W: Write> {
    write: W,
    reply: oneshot::Sender<Result<W::Output>>,
    /// The answer of a plain application of its group that succeeded.
    output: Option<Result<W::Output>>,
}

/// A batch that could not be committed (or begun) failed on the database file itself:
/// the coordinator's storage, whatever each write would have answered.
fn commit_failed(e: &sqlx::Error) -> CoordinatorError {
    CoordinatorError::Storage(format!("the database could not commit: {e}"))
}

/// The reply to send once the batch's commit is known.
fn answer<T: Send + 'static>(reply: oneshot::Sender<Result<T>>, result: Result<T>) -> Answer {
    Box::new(move |commit: Option<&sqlx::Error>| {
        let _ = reply.send(match commit {
            Some(e) => Err(commit_failed(e)),
            None => result,
        });
    })
}

impl<W: Write> Queued for Pending<W> {
    fn kind(&self) -> TypeId {
        TypeId::of::<W>()
    }

    fn as_any(&mut self) -> &mut dyn Any {
        self
    }

    fn apply_plain<'a>(
        &'a mut self,
        rest: &'a mut [Box<dyn Queued>],
        c: &'a mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = bool> + Send + 'a>> {
        let mut group: Vec<&'a mut Pending<W>> = Vec::with_capacity(1 + rest.len());
        group.push(self);
        for q in rest.iter_mut() {
            match q.as_any().downcast_mut::<Pending<W>>() {
                Some(p) => group.push(p),
                None => return Box::pin(async { false }),
            }
        }
        Box::pin(async move {
            let writes = group.iter().map(|p| p.write.clone()).collect();
            match W::apply_many(writes, c).await {
                Ok(answers) if answers.len() == group.len() => {
                    for (p, a) in group.into_iter().zip(answers) {
                        p.output = Some(a);
                    }
                    true
                }
                _ => false,
            }
        })
    }

    fn applied(self: Box<Self>) -> Answer {
        let Pending { reply, output, .. } = *self;
        answer(reply, output.unwrap_or(Err(CoordinatorError::WriterGone)))
    }

    fn apply<'a>(
        self: Box<Self>,
        c: &'a mut AnyConnection,
    ) -> Pin<Box<dyn Future<Output = Answer> + Send + 'a>> {
        Box::pin(async move {
            let Pending { write, reply, .. } = *self;
            let result = match c.begin().await {
                Ok(mut sp) => match write.apply(&mut sp).await {
                    Ok(v) => sp.commit().await.map(|_| v).map_err(CoordinatorError::from),
                    Err(e) => Err(e),
                },
                Err(e) => Err(CoordinatorError::Store(e)),
            };
            answer(reply, result)
        })
    }

    fn refuse(self: Box<Self>, err: CoordinatorError) {
        let _ = self.reply.send(Err(err));
    }
}

/// What the writer's queue carries: a write, or the request to finish and stop.
enum Queue {
    /// A write to apply in the next batch.
    Write(Box<dyn Queued>),
    /// Commit what came before, refuse what comes after, release the connection, then
    /// answer.
    Close(oneshot::Sender<()>),
}

/// Handle to the store: a read pool and the writer's queue.
#[derive(Clone, Debug)]
pub struct Store {
    /// For reads (WAL lets them run beside the writer).
    pub pool: AnyPool,
    tx: mpsc::Sender<Queue>,
    /// Whether the writer's latest batch committed.
    writable: watch::Receiver<Writable>,
    /// The writer's counters.
    metrics: WriterMetrics,
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Queue::Write(_) => "queued write",
            Queue::Close(_) => "close",
        })
    }
}

async fn writer_loop(mut link: Link, mut rx: mpsc::Receiver<Queue>, metrics: WriterMetrics) {
    while let Some(first) = rx.recv().await {
        let started = std::time::Instant::now();
        let (mut batch, mut closing) = (Vec::new(), None);
        match first {
            Queue::Write(op) => batch.push(op),
            Queue::Close(done) => closing = Some(done),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Queue::Write(op)) => batch.push(op),
                Ok(Queue::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        metrics.queued.set(rx.len() as i64);
        if !batch.is_empty() {
            let n = batch.len();
            let committed = match link.conn().await {
                Err(why) => {
                    link.refused(&why);
                    refuse_all(batch, &why);
                    false
                }
                Ok(conn) => match commit_batch(conn, batch).await {
                    Ok(()) => {
                        link.committed();
                        true
                    }
                    Err(e) => {
                        link.failed(e.to_string()).await;
                        false
                    }
                },
            };
            metrics.batch(committed, n, started.elapsed().as_secs_f64());
        }
        if let Some(done) = closing {
            rx.close();
            while let Ok(msg) = rx.try_recv() {
                match msg {
                    Queue::Write(op) => op.refuse(CoordinatorError::WriterGone),
                    Queue::Close(other) => drop(other.send(())),
                }
            }
            link.release();
            let _ = done.send(());
            return;
        }
    }
}

/// Applies `batch` in one transaction, commits once, and answers every caller: plainly
/// first, a group of same-type writes at a time, and again with a savepoint per write (in
/// the same order) if any group failed. `Err` when the transaction itself failed (begin,
/// rollback or commit): every caller was refused, and the connection must not be used
/// again (see [`super::link`]).
async fn commit_batch(
    conn: &mut AnyConnection,
    mut batch: Vec<Box<dyn Queued>>,
) -> Result<(), sqlx::Error> {
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return Err(refuse_all_for(batch, e)),
    };
    let mut first_of_kind: HashMap<TypeId, usize> = HashMap::new();
    for (i, op) in batch.iter().enumerate() {
        first_of_kind.entry(op.kind()).or_insert(i);
    }
    batch.sort_by_key(|op| first_of_kind.get(&op.kind()).copied().unwrap_or(usize::MAX));
    let mut all_applied = true;
    let mut start = 0;
    while start < batch.len() {
        let kind = batch[start].kind();
        let len = batch[start..]
            .iter()
            .take_while(|op| op.kind() == kind)
            .count();
        let Some((first, rest)) = batch[start..start + len].split_first_mut() else {
            break;
        };
        if !first.apply_plain(rest, &mut tx).await {
            all_applied = false;
            break;
        }
        start += len;
    }
    let replies: Vec<Answer> = if all_applied {
        batch.into_iter().map(|op| op.applied()).collect()
    } else {
        if let Err(e) = tx.rollback().await {
            return Err(refuse_all_for(batch, e));
        }
        tx = match conn.begin().await {
            Ok(tx) => tx,
            Err(e) => return Err(refuse_all_for(batch, e)),
        };
        let mut replies = Vec::with_capacity(batch.len());
        for op in batch {
            replies.push(op.apply(&mut tx).await);
        }
        replies
    };
    let err = tx.commit().await.err();
    for reply in replies {
        reply(err.as_ref());
    }
    err.map_or(Ok(()), Err)
}

/// Runs the writer on a thread of its own, in a single-threaded runtime. A batch is a
/// chain of round trips to the database (begin, a few statements a group, commit), each one
/// waking the writer; on the server's runtime every wake-up queued behind the tasks of up
/// to a thousand connections, and the chain, not the CPU, set the fleet's pace
/// (BENCHMARKS.md). If that thread cannot be had, the writer runs as a task where it is.
fn spawn_writer(writer: impl Future<Output = ()> + Send + 'static) {
    let (hand, take) = std::sync::mpsc::channel();
    let thread = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            std::thread::Builder::new()
                .name("store-writer".into())
                .spawn(move || {
                    if let Ok(writer) = take.recv() {
                        rt.block_on(writer);
                    }
                })
                .map_err(|e| e.to_string())
        });
    match thread {
        Ok(_) => {
            let _ = hand.send(writer);
        }
        Err(e) => {
            tracing::warn!("the store's writer runs on the server's runtime: {e}");
            tokio::spawn(writer);
        }
    }
}

/// Refuses every write of `batch` with `why`, the reason the database took none of it.
fn refuse_all(batch: Vec<Box<dyn Queued>>, why: &str) {
    for op in batch {
        op.refuse(CoordinatorError::Storage(format!(
            "the database could not commit: {why}"
        )));
    }
}

/// [`refuse_all`] for the database's error `e`; answers `e`.
fn refuse_all_for(batch: Vec<Box<dyn Queued>>, e: sqlx::Error) -> sqlx::Error {
    refuse_all(batch, &e.to_string());
    e
}

impl Store {
    /// Starts the writer over `pool`, on a thread of its own (see [`spawn_writer`]).
    pub fn start(pool: AnyPool) -> Self {
        let (tx, rx) = mpsc::channel(4096);
        let health = Health::new();
        let writable = health.watch();
        let metrics = WriterMetrics::new();
        spawn_writer(writer_loop(
            Link::new(pool.clone(), health),
            rx,
            metrics.clone(),
        ));
        Self {
            pool,
            tx,
            writable,
            metrics,
        }
    }

    /// The writer's counters, for Prometheus.
    pub fn metrics(&self) -> &WriterMetrics {
        &self.metrics
    }

    /// Whether the store takes writes, as its writer last found by writing; watch it to
    /// hear each change.
    pub fn writable(&self) -> watch::Receiver<Writable> {
        self.writable.clone()
    }

    /// Queues `write` and waits for its result.
    pub async fn write<W: Write>(&self, write: W) -> Result<W::Output> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Queue::Write(Box::new(Pending {
                write,
                reply,
                output: None,
            })))
            .await
            .map_err(|_| CoordinatorError::WriterGone)?;
        rx.await.map_err(|_| CoordinatorError::WriterGone)?
    }

    /// Drains the writer: every write queued before this call is applied, committed and
    /// answered; later ones are refused with [`CoordinatorError::WriterGone`]. Then the
    /// pool is closed (the last connection checkpoints the WAL). Idempotent. Answers the
    /// writer's last verdict: whether the last batch committed.
    pub async fn close(&self) -> Writable {
        let (done, rx) = oneshot::channel();
        if self.tx.send(Queue::Close(done)).await.is_ok() {
            let _ = rx.await;
        }
        self.pool.close().await;
        self.writable.borrow().clone()
    }
}
