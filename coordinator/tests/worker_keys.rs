//! A worker's key outlives the coordinator that made it: only its sha256 is stored, and
//! the keys are loaded again when a coordinator opens the store, so workers that run on
//! through a restart are still known by their keys. On SQLite and PostgreSQL.

mod common;

use common::postgres::Postgres;

use gptsweep_api::WorkerId;
use gptsweep_coordinator::store::{Database, RegisterWorker, Store, open_pool};
use gptsweep_coordinator::worker_keys::{MintedKey, WorkerKeys};
use gptsweep_proto::worker_key::{WORKER_HEADER, header_value};

#[tokio::test]
async fn a_workers_key_is_stored_as_its_sha256_and_known_again_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    survives(Database::Sqlite(dir.path().join("db"))).await;
}

#[tokio::test]
async fn a_workers_key_is_stored_as_its_sha256_and_known_again_after_a_restart_on_postgres() {
    if let Some(pg) = Postgres::start() {
        survives(Database::Postgres(pg.database())).await;
    }
}

async fn survives(db: Database) {
    let key = MintedKey::new();
    let store = Store::start(open_pool(&db).await.unwrap());
    let worker = store
        .write(RegisterWorker {
            name: "w".into(),
            devices: vec!["cpu".into()],
            memory: Default::default(),
            key_sha256: key.sha256.clone(),
        })
        .await
        .unwrap();
    store.close().await;

    let pool = open_pool(&db).await.unwrap();
    let stored: Vec<Option<String>> = sqlx::query_scalar("SELECT key_sha256 FROM workers")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(
        stored,
        vec![Some(key.sha256.clone())],
        "the digest, not the key"
    );
    let keys = WorkerKeys::load(&pool).await.unwrap();
    let carrying = |id: WorkerId, secret: &str| {
        let mut m = tonic::metadata::MetadataMap::new();
        m.insert(
            WORKER_HEADER,
            header_value(id.get(), secret).parse().unwrap(),
        );
        m
    };
    assert_eq!(
        keys.authenticate(&carrying(worker, &key.secret)).unwrap(),
        worker
    );
    assert!(keys.authenticate(&carrying(worker, &key.sha256)).is_err());
    pool.close().await;
}
