//! The one writer: a loop on a thread of its own ([`spawn_writer`]), that owns every
//! write. It takes what is queued (up to [`MAX_BATCH`] writes), applies them inside one
//! transaction, commits once, then answers every caller: with the write's result once the
//! commit is known, or with the storage error when the batch could not commit (never an
//! acknowledgement of what is not in the database). A failed transaction costs the writer
//! its connection, replaced after a backoff ([`super::link`]), and sets the store's
//! health ([`super::health`]). Batching is what lets hundreds of
//! workers report at once on one SQLite file.
//!
//! The writes are a closed set: [`writes!`] below lists every write type once and makes
//! [`Queued`] (one variant a write, what the queue carries) and [`Group`] (the writes of
//! one kind in a batch), each dispatched by one `match`. A write the list lacks cannot be
//! queued ([`Enqueue`]).
//!
//! A write that fails must roll back alone. Savepoints give that, at two statements a
//! write, which was a third of the writer's time under a fleet (BENCHMARKS.md); and writes
//! rarely fail. So a batch is first applied plainly, each write from a copy; only if one
//! fails is the transaction rolled back and the batch applied again, each write in its own
//! savepoint, where the failure rolls back alone and the others keep their effect.
//!
//! The writes of one kind in a batch are applied as a group ([`Write::apply_many`]): a
//! fleet's reports arrive together, and set-based statements take a whole group in a few
//! round trips to the database where one at a time took a few each (each round trip wakes
//! sqlx-sqlite's connection thread, or crosses the network to PostgreSQL). A batch's writes
//! were all pending at once (none answered yet), so any order of them is one their callers
//! could have seen: the writer takes them kind by kind (in the order each kind first
//! came), each kind's in the order they came.
//!
//! A write that panics (a bug) cannot take the writer down: the batch's transaction is
//! dropped with its connection (rolled back), its callers are answered
//! [`CoordinatorError::WriteAborted`] with the panic's message, the panic is logged, and
//! the writer carries on with the next batch on a new connection.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use sqlx::{AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot, watch};

use super::health::{Health, Writable};
use super::link::Link;
use super::write::*;
use super::writer_metrics::WriterMetrics;
use crate::error::{CoordinatorError, Result};
#[cfg(test)]
use tests::Explode;

/// Most writes committed in one transaction.
pub const MAX_BATCH: usize = 512;

/// Answers one caller once the batch's commit is known (`Some` = the commit failed).
type Answer = Box<dyn FnOnce(Option<&sqlx::Error>) + Send>;

/// A write waiting for its batch, with the channel its result goes back on. One dropped
/// unanswered (its batch was abandoned by a panic) answers
/// [`CoordinatorError::WriteAborted`]: no caller waits on a reply that will not come.
pub struct Pending<W: Write> {
    write: W,
    reply: Option<oneshot::Sender<Result<W::Output>>>,
    /// The answer of a plain application of its group that succeeded.
    output: Option<Result<W::Output>>,
}

impl<W: Write> Drop for Pending<W> {
    fn drop(&mut self) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(CoordinatorError::WriteAborted));
        }
    }
}

impl<W: Write> Pending<W> {
    fn new(write: W, reply: oneshot::Sender<Result<W::Output>>) -> Self {
        Self {
            write,
            reply: Some(reply),
            output: None,
        }
    }

    /// How to reply once the batch commits, with the answer of its group's plain
    /// application.
    fn applied(mut self) -> Answer {
        let output = self
            .output
            .take()
            .unwrap_or(Err(CoordinatorError::WriterGone));
        answer(self.reply.take(), output)
    }

    /// Applies the write in a savepoint; answers how to reply once the batch commits.
    async fn apply_alone(mut self, c: &mut AnyConnection) -> Answer {
        let result = match c.begin().await {
            Ok(mut sp) => match self.write.clone().apply(&mut sp).await {
                Ok(v) => sp.commit().await.map(|_| v).map_err(CoordinatorError::from),
                Err(e) => Err(e),
            },
            Err(e) => Err(CoordinatorError::Store(e)),
        };
        answer(self.reply.take(), result)
    }

    /// Answers the caller with `err` without applying the write.
    fn refuse(mut self, err: CoordinatorError) {
        if let Some(reply) = self.reply.take() {
            let _ = reply.send(Err(err));
        }
    }
}

/// Applies copies of `group`'s writes directly in the batch's transaction, as one group,
/// and keeps each answer; false if the group failed, after which the transaction must be
/// rolled back and the batch applied again, a write at a time.
async fn apply_plain<W: Write>(group: &mut [Pending<W>], c: &mut AnyConnection) -> bool {
    let writes = group.iter().map(|p| p.write.clone()).collect();
    match W::apply_many(writes, c).await {
        Ok(answers) if answers.len() == group.len() => {
            for (p, a) in group.iter_mut().zip(answers) {
                p.output = Some(a);
            }
            true
        }
        _ => false,
    }
}

/// The closed set of writes: every write type once, and from that list the queue's
/// [`Queued`], the batch's [`Group`] and their one `match` each.
macro_rules! writes {
    ($($(#[$attr:meta])* $write:ident,)*) => {
        /// A write queued for the writer: one variant a write type.
        pub enum Queued {
            $($(#[$attr])* #[doc = concat!("A queued [`", stringify!($write), "`].")] $write(Pending<$write>),)*
        }

        /// The queued writes of one kind in a batch, in the order they came.
        enum Group {
            $($(#[$attr])* $write(Vec<Pending<$write>>),)*
        }

        /// A write the store takes: one of those [`writes!`] lists.
        pub trait Enqueue: Write {
            /// The write, waiting with its reply channel, as the queue carries it.
            fn enqueue(pending: Pending<Self>) -> Queued;
        }

        $($(#[$attr])* impl Enqueue for $write {
            fn enqueue(pending: Pending<Self>) -> Queued {
                Queued::$write(pending)
            }
        })*

        impl Queued {
            /// Answers the caller with `err` without applying the write.
            fn refuse(self, err: CoordinatorError) {
                match self {
                    $($(#[$attr])* Queued::$write(p) => p.refuse(err),)*
                }
            }
        }

        impl Group {
            /// A group of `q`'s kind, holding `q`.
            fn of(q: Queued) -> Self {
                match q {
                    $($(#[$attr])* Queued::$write(p) => Group::$write(vec![p]),)*
                }
            }

            /// Takes `q` if it is of this group's kind; gives it back otherwise.
            fn take(&mut self, q: Queued) -> Option<Queued> {
                match (self, q) {
                    $($(#[$attr])* (Group::$write(group), Queued::$write(p)) => {
                        group.push(p);
                        None
                    })*
                    #[allow(unreachable_patterns)]
                    (_, q) => Some(q),
                }
            }

            /// See [`apply_plain`].
            async fn apply_plain(&mut self, c: &mut AnyConnection) -> bool {
                match self {
                    $($(#[$attr])* Group::$write(group) => apply_plain(group, c).await,)*
                }
            }

            /// How to reply to each write once the batch commits, after the plain
            /// application of every group succeeded.
            fn applied(self, answers: &mut Vec<Answer>) {
                match self {
                    $($(#[$attr])* Group::$write(group) => {
                        answers.extend(group.into_iter().map(Pending::applied))
                    })*
                }
            }

            /// Applies each write in a savepoint of its own, in order.
            async fn apply_each(self, c: &mut AnyConnection, answers: &mut Vec<Answer>) {
                match self {
                    $($(#[$attr])* Group::$write(group) => {
                        for p in group {
                            answers.push(p.apply_alone(c).await);
                        }
                    })*
                }
            }

            /// Answers every write with `why`, the reason the database took none of them.
            fn refuse(self, why: &str) {
                let err = || CoordinatorError::Storage(format!("the database could not commit: {why}"));
                match self {
                    $($(#[$attr])* Group::$write(group) => group.into_iter().for_each(|p| p.refuse(err())),)*
                }
            }
        }
    };
}

writes! {
    InsertDataset,
    ForgetUnusedDatasets,
    CreateSweep,
    Cancel,
    Retry,
    Extend,
    Delete,
    RegisterWorker,
    Deregister,
    DisableDevice,
    Lease,
    Heartbeat,
    ExpireLeases,
    GraceLeases,
    Report,
    SetCheckpoint,
    ResumedFrom,
    Finish,
    Probe,
    PutKernelRecords,
    MarkShapeWarm,
    Annotate,
    #[cfg(test)]
    Explode,
}

/// A batch that could not be committed (or begun) failed on the database file itself:
/// the coordinator's storage, whatever each write would have answered.
fn commit_failed(e: &sqlx::Error) -> CoordinatorError {
    CoordinatorError::Storage(format!("the database could not commit: {e}"))
}

/// The reply to send once the batch's commit is known.
fn answer<T: Send + 'static>(
    reply: Option<oneshot::Sender<Result<T>>>,
    result: Result<T>,
) -> Answer {
    Box::new(move |commit: Option<&sqlx::Error>| {
        if let Some(reply) = reply {
            let _ = reply.send(match commit {
                Some(e) => Err(commit_failed(e)),
                None => result,
            });
        }
    })
}

/// The batch's writes, kind by kind in the order each kind first came, each kind's in the
/// order they came.
fn grouped(batch: Vec<Queued>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    'next: for mut q in batch {
        for group in groups.iter_mut() {
            match group.take(q) {
                None => continue 'next,
                Some(back) => q = back,
            }
        }
        groups.push(Group::of(q));
    }
    groups
}

/// What the writer's queue carries: a write, or the request to finish and stop.
enum Queue {
    /// A write to apply in the next batch (boxed: writes differ in size by hundreds of
    /// bytes, and the queue holds thousands).
    Write(Box<Queued>),
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
            Queue::Write(op) => batch.push(*op),
            Queue::Close(done) => closing = Some(done),
        }
        while closing.is_none() && batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(Queue::Write(op)) => batch.push(*op),
                Ok(Queue::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        metrics.queued.set(rx.len() as i64);
        if !batch.is_empty() {
            let n = batch.len();
            let groups = grouped(batch);
            let committed = match link.conn().await {
                Err(why) => {
                    link.refused(&why);
                    groups.into_iter().for_each(|g| g.refuse(&why));
                    false
                }
                Ok(conn) => match AssertUnwindSafe(commit_batch(conn, groups))
                    .catch_unwind()
                    .await
                {
                    Ok(Ok(())) => {
                        link.committed();
                        true
                    }
                    Ok(Err(e)) => {
                        link.failed(e.to_string()).await;
                        false
                    }
                    Err(panic) => {
                        // The batch's writes were dropped unanswered in the unwinding:
                        // each answered `WriteAborted` (see `Pending`'s drop).
                        let why = gptsweep_api::panic::panic_text(panic.as_ref());
                        tracing::error!(
                            "a write panicked: {why}; its batch of {n} write(s) was rolled back and refused, and the writer goes on on a new connection"
                        );
                        link.discard().await;
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
            link.release().await;
            let _ = done.send(());
            return;
        }
    }
}

/// Applies `groups` in one transaction, commits once, and answers every caller: plainly
/// first, a group at a time, and again with a savepoint per write (in the same order) if
/// any group failed. `Err` when the transaction itself failed (begin, rollback or
/// commit): every caller was refused, and the connection must not be used again (see
/// [`super::link`]).
async fn commit_batch(conn: &mut AnyConnection, mut groups: Vec<Group>) -> Result<(), sqlx::Error> {
    let mut tx = match conn.begin().await {
        Ok(tx) => tx,
        Err(e) => return Err(refuse_all_for(groups, e)),
    };
    let mut all_applied = true;
    for group in groups.iter_mut() {
        if !group.apply_plain(&mut tx).await {
            all_applied = false;
            break;
        }
    }
    let mut replies: Vec<Answer> = Vec::new();
    if all_applied {
        groups.into_iter().for_each(|g| g.applied(&mut replies));
    } else {
        if let Err(e) = tx.rollback().await {
            return Err(refuse_all_for(groups, e));
        }
        tx = match conn.begin().await {
            Ok(tx) => tx,
            Err(e) => return Err(refuse_all_for(groups, e)),
        };
        for group in groups {
            group.apply_each(&mut tx, &mut replies).await;
        }
    }
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

/// Refuses every write of `groups` for the database's error `e`; answers `e`.
fn refuse_all_for(groups: Vec<Group>, e: sqlx::Error) -> sqlx::Error {
    let why = e.to_string();
    groups.into_iter().for_each(|g| g.refuse(&why));
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
    pub async fn write<W: Enqueue>(&self, write: W) -> Result<W::Output> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Queue::Write(Box::new(W::enqueue(Pending::new(
                write, reply,
            )))))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::writer_metrics::BatchResult;
    use crate::store::{Database, open_pool};

    /// A write with a bug: it adds a mark, then panics if told to.
    #[derive(Debug, Clone)]
    pub struct Explode {
        pub panics: bool,
    }

    impl Write for Explode {
        type Output = u64;

        async fn apply(self, c: &mut AnyConnection) -> Result<u64> {
            let done = sqlx::query("INSERT INTO marks (n) VALUES (1)")
                .execute(&mut *c)
                .await?;
            if self.panics {
                panic!("a bug in a write");
            }
            Ok(done.rows_affected())
        }
    }

    async fn marks(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM marks")
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    #[tokio::test(flavor = "multi_thread")]
    async fn a_write_that_panics_fails_its_batch_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let db = Database::Sqlite(dir.path().join("store.db"));
        let store = Store::start(open_pool(&db).await.unwrap());
        sqlx::query("CREATE TABLE marks (n INTEGER)")
            .execute(&store.pool)
            .await
            .unwrap();

        // Its caller hears why, and nothing of its batch was stored.
        let err = store.write(Explode { panics: true }).await.unwrap_err();
        assert!(matches!(err, CoordinatorError::WriteAborted), "{err:?}");
        assert_eq!(
            err.to_string(),
            "a write of this request's batch panicked in the store's writer (a bug: the coordinator's log has the panic); nothing of the batch was stored"
        );
        assert_eq!(tonic::Status::from(err).code(), tonic::Code::Internal);
        assert_eq!(marks(&store).await, 0, "rolled back");

        // The writer carries on, and the store still counts as writable.
        assert_eq!(store.write(Explode { panics: false }).await.unwrap(), 1);
        assert_eq!(marks(&store).await, 1);
        assert_eq!(*store.writable().borrow(), Writable::Yes);
        let refused = BatchResult { result: "refused" };
        assert_eq!(store.metrics().batches.get_or_create(&refused).get(), 1);
        store.close().await;
    }
}
