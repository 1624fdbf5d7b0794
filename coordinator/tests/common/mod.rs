//! What the coordinator crate's in-process tests share: a throwaway PostgreSQL server
//! (the root tests' [`postgres`]), a coordinator config on either backend, a submitted
//! sweep with the store over its database and a registered worker, and a lease.

#![allow(dead_code)]

#[path = "../../../tests/common/postgres.rs"]
pub mod postgres;

use std::path::Path;

use gptsweep_api::{LeasedRun, SweepId, WorkerId};
use gptsweep_coordinator::store::{Database, Lease, RegisterWorker, Store, open_pool};
use gptsweep_coordinator::worker_keys::MintedKey;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig};

use postgres::Postgres;

/// A coordinator's config for state directory `dir`, its rows in `pg`'s database when
/// given, else in the directory's SQLite file.
pub fn config(dir: &Path, pg: Option<&Postgres>) -> CoordinatorConfig {
    let mut config = CoordinatorConfig::new(dir.to_path_buf());
    if let Some(pg) = pg {
        config.database = Database::Postgres(pg.database());
    }
    config
}

/// The sweep `yaml` submitted (the coordinator that took it closed), the store over its
/// database with one registered CPU worker, and a pool for reads.
pub async fn submitted(
    dir: &Path,
    pg: Option<&Postgres>,
    yaml: &str,
) -> (Store, sqlx::AnyPool, SweepId, WorkerId) {
    let config = config(dir, pg);
    let c = Coordinator::open(config.clone()).await.unwrap();
    let sub = c.submit("t.yaml", yaml, "").await.unwrap();
    c.close().await;
    drop(c);
    let (store, worker) = store_with_worker(&config.database).await;
    let pool = store.pool.clone();
    (store, pool, sub.id, worker)
}

/// The store over `db` with one registered CPU worker.
pub async fn store_with_worker(db: &Database) -> (Store, WorkerId) {
    let store = Store::start(open_pool(db).await.unwrap());
    let worker = register(&store, "w").await;
    (store, worker)
}

/// Registers a CPU worker called `name` through `store`; answers its id.
pub async fn register(store: &Store, name: &str) -> WorkerId {
    store
        .write(RegisterWorker {
            name: name.into(),
            devices: vec!["cpu".into()],
            memory: Default::default(),
            key_sha256: MintedKey::new().sha256,
        })
        .await
        .unwrap()
}

/// The worker's next run on its CPU, leased for `lease_ms`.
pub async fn lease(store: &Store, worker: WorkerId, lease_ms: i64) -> Option<LeasedRun> {
    store
        .write(Lease {
            worker,
            device: "cpu".into(),
            lease_ms,
            fit_memory: false,
        })
        .await
        .unwrap()
}
