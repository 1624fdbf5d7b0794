//! The coordinator's life in-process: one coordinator per state directory, leases judged
//! from a restart, a writer that drains before it stops, and storage faults answered as
//! the coordinator's (UNAVAILABLE), never as the caller's.

use std::time::Duration;

use gptsweep_coordinator::store::{
    Database, ExpireLeases, GraceLeases, Lease, RegisterWorker, Store, open_pool,
};
use gptsweep_coordinator::{Coordinator, CoordinatorConfig, CoordinatorError};

/// A one-run sweep on the built-in corpus.
const SWEEP: &str = "name: one
method: grid
train: {n_embd: 16, n_head: 2, n_layer: 1, block_size: 16, batch_size: 8, max_iters: 20, eval_interval: 10, eval_iters: 2}
";

/// A state directory holding one sweep whose one run is leased for `lease_ms`; answers
/// the store over it (the coordinator that made it closed).
async fn leased_run(dir: &std::path::Path, lease_ms: i64) -> Store {
    let c = Coordinator::open(CoordinatorConfig::new(dir.to_path_buf()))
        .await
        .unwrap();
    c.submit("one.yaml", SWEEP, "").await.unwrap();
    c.close().await;
    drop(c);
    let store = Store::start(open_pool(&Database::in_state_dir(dir)).await.unwrap());
    let worker = store
        .write(RegisterWorker {
            name: "w".into(),
            devices: vec!["cpu".into()],
            memory: Default::default(),
        })
        .await
        .unwrap();
    let leased = store
        .write(Lease {
            worker,
            device: "cpu".into(),
            lease_ms,
            fit_memory: false,
        })
        .await
        .unwrap();
    assert!(leased.is_some(), "the run is leased");
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
async fn a_lease_that_expired_while_the_coordinator_was_down_gets_a_grace() {
    let dir = tempfile::tempdir().unwrap();
    let store = leased_run(dir.path(), 1).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let graced = store.write(GraceLeases { lease_ms: 60_000 }).await.unwrap();
    assert_eq!(graced, 1);
    let expired = store.write(ExpireLeases { max_attempts: 3 }).await.unwrap();
    assert!(expired.is_empty(), "judged from the restart: {expired:?}");
}

#[tokio::test]
async fn without_a_grace_the_same_lease_expires() {
    let dir = tempfile::tempdir().unwrap();
    let store = leased_run(dir.path(), 1).await;
    tokio::time::sleep(Duration::from_millis(20)).await;
    let expired = store.write(ExpireLeases { max_attempts: 3 }).await.unwrap();
    assert_eq!(expired.len(), 1);
}

#[tokio::test]
async fn closing_the_store_answers_every_write_queued_before_it_and_refuses_later_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::start(open_pool(&Database::Sqlite(dir.path().join("db"))).await.unwrap());
    let queued: Vec<_> = (0..50)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .write(RegisterWorker {
                        name: format!("w{i}"),
                        devices: vec!["cpu".into()],
                        memory: Default::default(),
                    })
                    .await
            })
        })
        .collect();
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
        })
        .await;
    assert!(matches!(later, Err(CoordinatorError::WriterGone)));
    let pool = open_pool(&Database::Sqlite(dir.path().join("db"))).await.unwrap();
    let stored: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM workers")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(stored, 50, "every answered write is committed");
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
