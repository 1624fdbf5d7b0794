//! The coordinator's life in-process: one coordinator per state directory (and per
//! PostgreSQL database), leases judged from a restart, a writer that drains before it
//! stops, and storage faults answered as the coordinator's (UNAVAILABLE), never as the
//! caller's. The store's tests run on SQLite and on a throwaway PostgreSQL server.

mod common;

use std::path::Path;
use std::time::Duration;

use common::postgres::Postgres;
use common::{config, lease, register, submitted};

use gptsweep_api::WorkerId;
use gptsweep_coordinator::store::{
    Database, Deregister, ExpireLeases, GraceLeases, Lease, RegisterWorker, Store, open_pool,
};
use gptsweep_coordinator::worker_keys::MintedKey;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig, CoordinatorError};

/// A one-run sweep on the built-in corpus.
const SWEEP: &str = "name: one
method: grid
train: {n_embd: 16, n_head: 2, n_layer: 1, block_size: 16, batch_size: 8, max_iters: 20, eval_interval: 10, eval_iters: 2}
";

/// A state directory (and database) holding one sweep whose one run is leased for
/// `lease_ms`; answers the store over it (the coordinator that made it closed).
async fn leased_run(dir: &Path, pg: Option<&Postgres>, lease_ms: i64) -> Store {
    let (store, _, _, worker) = submitted(dir, pg, SWEEP).await;
    assert!(
        lease(&store, worker, lease_ms).await.is_some(),
        "the run is leased"
    );
    store
}

#[tokio::test]
async fn a_second_coordinator_on_one_state_dir_is_refused_until_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let config = CoordinatorConfig::new(dir.path().to_path_buf());
    let first = Coordinator::open(config.clone()).await.unwrap();
    let refused = Coordinator::open(config.clone()).await.unwrap_err();
    assert!(
        matches!(refused, CoordinatorError::StateLocked { .. }),
        "{refused}"
    );
    assert!(
        refused
            .to_string()
            .contains(&format!("held by pid {}", std::process::id())),
        "{refused}"
    );
    first.close().await;
    drop(first);
    // The reaper lets go of its handle once it sees the coordinator stop.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let again = Coordinator::open(config).await.unwrap();
    again.close().await;
}

#[tokio::test]
async fn a_second_coordinator_on_one_postgres_database_is_refused_until_the_first_is_gone() {
    let Some(pg) = Postgres::start() else { return };
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = Coordinator::open(config(a.path(), Some(&pg)))
        .await
        .unwrap();
    let refused = Coordinator::open(config(b.path(), Some(&pg)))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, CoordinatorError::DatabaseLocked(_)),
        "{refused}"
    );
    assert!(
        refused.to_string().contains(&pg.database()),
        "names the database: {refused}"
    );
    first.close().await;
    let again = Coordinator::open(config(b.path(), Some(&pg)))
        .await
        .unwrap();
    again.close().await;
}

#[tokio::test]
async fn a_lease_that_expired_while_the_coordinator_was_down_gets_a_grace() {
    grace_after_restart(None).await;
}

#[tokio::test]
async fn a_lease_that_expired_while_the_coordinator_was_down_gets_a_grace_on_postgres() {
    if let Some(pg) = Postgres::start() {
        grace_after_restart(Some(&pg)).await;
    }
}

async fn grace_after_restart(pg: Option<&Postgres>) {
    let dir = tempfile::tempdir().unwrap();
    let store = leased_run(dir.path(), pg, 1).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let graced = store.write(GraceLeases { lease_ms: 60_000 }).await.unwrap();
    assert_eq!(graced, 1);
    let expired = store.write(ExpireLeases { max_attempts: 3 }).await.unwrap();
    assert!(expired.is_empty(), "judged from the restart: {expired:?}");
}

#[tokio::test]
async fn without_a_grace_the_same_lease_expires() {
    no_grace(None).await;
}

#[tokio::test]
async fn without_a_grace_the_same_lease_expires_on_postgres() {
    if let Some(pg) = Postgres::start() {
        no_grace(Some(&pg)).await;
    }
}

async fn no_grace(pg: Option<&Postgres>) {
    let dir = tempfile::tempdir().unwrap();
    let store = leased_run(dir.path(), pg, 1).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let expired = store.write(ExpireLeases { max_attempts: 3 }).await.unwrap();
    assert_eq!(expired.len(), 1);
}

#[tokio::test]
async fn closing_the_store_answers_every_write_queued_before_it_and_refuses_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    closing_drains(Database::Sqlite(dir.path().join("db"))).await;
}

#[tokio::test]
async fn closing_the_store_answers_every_write_queued_before_it_and_refuses_later_ones_on_postgres()
{
    if let Some(pg) = Postgres::start() {
        closing_drains(Database::Postgres(pg.database())).await;
    }
}

/// A task that registers worker `w{i}` through `store`; it queues its write on its first turn.
fn queue_register(
    store: &Store,
    i: usize,
) -> tokio::task::JoinHandle<Result<WorkerId, CoordinatorError>> {
    let store = store.clone();
    tokio::spawn(async move {
        store
            .write(RegisterWorker {
                name: format!("w{i}"),
                devices: vec!["cpu".into()],
                memory: Default::default(),
                key_sha256: MintedKey::new().sha256,
            })
            .await
    })
}

async fn closing_drains(db: Database) {
    let store = Store::start(open_pool(&db).await.unwrap());
    let queued: Vec<_> = (0..50).map(|i| queue_register(&store, i)).collect();
    // One turn of this (single-threaded) runtime: every task queues its write.
    tokio::task::yield_now().await;
    store.close().await;
    for q in queued {
        q.await
            .unwrap()
            .expect("a write queued before close is answered");
    }
    let later = store
        .write(RegisterWorker {
            name: "late".into(),
            devices: vec!["cpu".into()],
            memory: Default::default(),
            key_sha256: MintedKey::new().sha256,
        })
        .await;
    assert!(matches!(later, Err(CoordinatorError::WriterGone)));
    let pool = open_pool(&db).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 50, "every answered write is committed");
}

#[tokio::test]
async fn a_failing_write_in_a_batch_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    failing_write_alone(Database::Sqlite(dir.path().join("db"))).await;
}

#[tokio::test]
async fn a_failing_write_in_a_batch_fails_alone_on_postgres() {
    if let Some(pg) = Postgres::start() {
        failing_write_alone(Database::Postgres(pg.database())).await;
    }
}

/// 40 registrations and, queued among them in the same batch, a lease for a worker that
/// does not exist: the writer applies the batch plainly, meets the failure, and applies it
/// again with a savepoint per write; the lease alone fails, the 40 are committed.
async fn failing_write_alone(db: Database) {
    let store = Store::start(open_pool(&db).await.unwrap());
    let register = |i| queue_register(&store, i);
    let mut queued: Vec<_> = (0..20).map(register).collect();
    let bad = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .write(Lease {
                    worker: WorkerId(9_999),
                    device: "cpu".into(),
                    lease_ms: 1_000,
                    fit_memory: false,
                })
                .await
        })
    };
    queued.extend((20..40).map(register));
    // One turn of this (single-threaded) runtime: every task queues its write, so the
    // writer takes them as one batch.
    tokio::task::yield_now().await;
    for q in queued {
        q.await.unwrap().expect("a good write beside a failing one");
    }
    let err = bad.await.unwrap().unwrap_err();
    assert!(
        matches!(&err, CoordinatorError::NotFound(m) if m.contains("worker 9999 is not registered")),
        "{err}"
    );
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workers")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(stored, 40, "every good write of the batch is committed");
    store.close().await;
}

#[test]
fn storage_faults_are_unavailable_and_say_so() {
    let io = CoordinatorError::Io {
        path: "/state/checkpoints/x.ckpt".into(),
        source: std::io::Error::other("disk gone"),
    };
    let status = tonic::Status::from(io);
    assert_eq!(status.code(), tonic::Code::Unavailable);
    assert_eq!(
        status.message(),
        "coordinator storage: /state/checkpoints/x.ckpt: disk gone (the coordinator's storage failed; retry)"
    );
    let db = CoordinatorError::Store(sqlx::Error::Io(std::io::Error::other("EIO")));
    assert_eq!(tonic::Status::from(db).code(), tonic::Code::Unavailable);
    let bug = CoordinatorError::Store(sqlx::Error::RowNotFound);
    assert_eq!(tonic::Status::from(bug).code(), tonic::Code::Internal);
}

#[tokio::test]
async fn a_worker_that_leaves_hands_back_a_run_it_never_saw_and_leases_no_more() {
    leaves_holding(None).await;
}

#[tokio::test]
async fn a_worker_that_leaves_hands_back_a_run_it_never_saw_and_leases_no_more_on_postgres() {
    if let Some(pg) = Postgres::start() {
        leaves_holding(Some(&pg)).await;
    }
}

/// A worker that cancelled its poll to leave at once, as the coordinator leased it a run:
/// its `Deregister` queues the run again at once, the attempt not counted.
async fn leaves_holding(pg: Option<&Postgres>) {
    let dir = tempfile::tempdir().unwrap();
    let (store, pool, _, worker) = submitted(dir.path(), pg, SWEEP).await;
    let run = lease(&store, worker, 60_000)
        .await
        .expect("the run is leased");
    store
        .write(Deregister {
            worker,
            reason: "stopped by a signal; every run handed back".into(),
        })
        .await
        .unwrap();
    let (state, attempts): (String, i64) =
        sqlx::query_as("SELECT state, attempts FROM runs WHERE id = $1")
            .bind(run.run.get())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!((state.as_str(), attempts), ("queued", 0));
    let (attempt, reason): (String, String) =
        sqlx::query_as("SELECT state, reason FROM attempts WHERE id = $1")
            .bind(run.lease.get())
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (attempt.as_str(), reason.as_str()),
        ("preempted", "the worker left before it started the run")
    );
    // Gone, it is refused work; another worker takes the run.
    let refused = store
        .write(Lease {
            worker,
            device: "cpu".into(),
            lease_ms: 60_000,
            fit_memory: false,
        })
        .await
        .unwrap_err();
    assert!(
        refused.to_string().contains("is not registered"),
        "{refused}"
    );
    let other = register(&store, "w2").await;
    let again = lease(&store, other, 60_000).await.expect("queued again");
    assert_eq!(again.run, run.run);
}
