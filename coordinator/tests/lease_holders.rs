//! A lease is its worker's alone: heartbeats, checkpoints and checkpoint reads that name
//! another worker's lease are refused as forbidden (PERMISSION_DENIED on the wire) and
//! change nothing, and a checkpoint's step is bounded by the run's `max_iters`. On SQLite
//! and PostgreSQL. (Reports and finishes, which are applied in groups, are pinned by
//! `write_groups`.)

mod common;

use common::postgres::Postgres;
use common::{lease, register, submitted};

use gptsweep_api::Directive;
use gptsweep_coordinator::CoordinatorError;
use gptsweep_coordinator::store::{Heartbeat, SetCheckpoint, reads};

/// One run of a tiny model, 30 steps.
const SWEEP: &str = "name: held
method: grid
parameters:
  seed: {values: [1]}
train: {n_embd: 16, n_head: 2, n_layer: 1, block_size: 16, batch_size: 8, max_iters: 30, eval_interval: 10, eval_iters: 2}
";

#[tokio::test]
async fn another_workers_heartbeat_or_checkpoint_is_forbidden() {
    let dir = tempfile::tempdir().unwrap();
    held_by_its_worker(dir.path(), None).await;
}

#[tokio::test]
async fn another_workers_heartbeat_or_checkpoint_is_forbidden_on_postgres() {
    if let Some(pg) = Postgres::start() {
        let dir = tempfile::tempdir().unwrap();
        held_by_its_worker(dir.path(), Some(&pg)).await;
    }
}

async fn held_by_its_worker(dir: &std::path::Path, pg: Option<&Postgres>) {
    let (store, pool, _, worker) = submitted(dir, pg, SWEEP).await;
    let forger = register(&store, "forger").await;
    let run = lease(&store, worker, 60_000).await.expect("a queued run");
    let forbidden = format!(
        "lease {} of run {} is not held by worker {forger}",
        run.lease, run.run
    );
    let is_forbidden = |r: Result<_, CoordinatorError>| match r {
        Err(e @ CoordinatorError::Forbidden(_)) => {
            assert_eq!(e.to_string(), forbidden);
            assert_eq!(tonic::Status::from(e).code(), tonic::Code::PermissionDenied);
        }
        other => panic!("{other:?}"),
    };
    let heartbeat = |by, progress| Heartbeat {
        run: run.run,
        lease: run.lease,
        worker: by,
        lease_ms: 60_000,
        progress,
    };
    is_forbidden(store.write(heartbeat(forger, None)).await.map(drop));
    is_forbidden(
        store
            .write(heartbeat(forger, Some((5, 100.0))))
            .await
            .map(drop),
    );
    assert_eq!(
        store.write(heartbeat(worker, None)).await.unwrap(),
        Directive::Continue
    );
    assert_eq!(
        store
            .write(heartbeat(worker, Some((30, 100.0))))
            .await
            .unwrap(),
        Directive::Continue
    );
    let past = store
        .write(heartbeat(worker, Some((31, 100.0))))
        .await
        .unwrap_err();
    assert!(
        matches!(&past, CoordinatorError::Invalid(m) if m == "step = 31: must be <= 30, the run's max_iters"),
        "{past}"
    );

    let checkpoint = |by, sha: &str, step| SetCheckpoint {
        run: run.run,
        lease: run.lease,
        worker: by,
        sha256: sha.to_string(),
        step,
        lease_ms: 60_000,
    };
    is_forbidden(store.write(checkpoint(forger, "f0", 20)).await.map(drop));
    let past = store
        .write(checkpoint(worker, "c31", 31))
        .await
        .unwrap_err();
    assert!(
        matches!(&past, CoordinatorError::Invalid(m) if m == "checkpoint step = 31: must be <= 30, the run's max_iters"),
        "{past}"
    );
    assert_eq!(
        store.write(checkpoint(worker, "c30", 30)).await.unwrap(),
        None
    );

    is_forbidden(
        reads::checkpoint_for_lease(&pool, run.run, run.lease, forger)
            .await
            .map(drop),
    );
    assert_eq!(
        reads::checkpoint_for_lease(&pool, run.run, run.lease, worker)
            .await
            .unwrap(),
        Some(("c30".to_string(), 30)),
        "the holder's checkpoint, and none of the refused ones"
    );
    store.close().await;
}
