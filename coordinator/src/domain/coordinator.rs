//! The coordinator's shared state and its life, apart from any transport: [`Coordinator::open`]
//! takes the state directory's lock and collects orphan blobs, [`Coordinator::close`] drains
//! the writer and closes the database. What it does between the two is the rest of
//! [`crate::domain`]; serving it over gRPC is [`crate::server`]'s.

use std::sync::Arc;

use tokio::sync::{Notify, watch};

use crate::access::Access;
use crate::checkpoints::CheckpointStore;
use crate::collect::collect_orphans;
use crate::config::CoordinatorConfig;
use crate::datasets::{DatasetStore, builtin_sha};
use crate::error::Result;
use crate::metrics::Metrics;
use crate::state_lock::StateLock;
use crate::store::{DatabaseLock, InsertDataset, Store, Writable, identity};
use crate::uploads::Uploads;
use crate::worker_keys::WorkerKeys;

/// The coordinator's shared state; cheap to clone.
#[derive(Clone, Debug)]
pub struct Coordinator {
    pub(crate) store: Store,
    pub(crate) datasets: DatasetStore,
    pub(crate) checkpoints: CheckpointStore,
    pub(crate) access: Arc<Access>,
    /// Every registered worker's key (its sha256), by which worker calls are told apart.
    pub(crate) worker_keys: Arc<WorkerKeys>,
    /// Slots, quota and reserve of uploads.
    pub(crate) uploads: Arc<Uploads>,
    pub(crate) config: CoordinatorConfig,
    /// Woken when runs become leasable (submit, retry, expiry).
    pub(crate) work: Arc<Notify>,
    /// Set once the coordinator stops serving: long polls end, the reaper stops.
    pub(crate) stopping: Arc<watch::Sender<bool>>,
    /// The state directory's lock, held while any handle lives.
    lock: Arc<StateLock>,
    /// What Prometheus scrapes.
    pub(crate) metrics: Metrics,
    /// The database's lock (PostgreSQL's advisory lock), held while any handle lives.
    db_lock: Arc<DatabaseLock>,
}

impl Coordinator {
    /// Opens the state directory (database, migrations, datasets) and starts the writer.
    /// Refused with [`CoordinatorError::StateLocked`] when another coordinator holds the
    /// directory, with [`CoordinatorError::Invalid`] for an access file that breaks a
    /// rule, and with [`CoordinatorError::StoreMismatch`] or
    /// [`CoordinatorError::StoreDamaged`] when the database and the directory are not one
    /// sound store ([`identity`]), before anything in either is touched. Only then are
    /// blobs that nothing refers to removed. Leases are judged, and expired, once
    /// [`Coordinator::serve`] starts.
    ///
    /// [`CoordinatorError::StateLocked`]: crate::CoordinatorError::StateLocked
    /// [`CoordinatorError::Invalid`]: crate::CoordinatorError::Invalid
    /// [`CoordinatorError::StoreMismatch`]: crate::CoordinatorError::StoreMismatch
    /// [`CoordinatorError::StoreDamaged`]: crate::CoordinatorError::StoreDamaged
    pub async fn open(config: CoordinatorConfig) -> Result<Self> {
        // A refused access file leaves the state directory as it was: checked first.
        Access::load(&config.state_dir)?;
        let lock = Arc::new(StateLock::acquire(&config.state_dir)?);
        let access = Arc::new(Access::load_or_create(&config.state_dir)?);
        let db_lock = Arc::new(DatabaseLock::acquire(&config.database).await?);
        let pool = identity::open_checked(&config.database, &config.state_dir).await?;
        let store = Store::start(pool);
        let datasets = DatasetStore::open(&config.state_dir.join("datasets"))?;
        let checkpoints = crate::checkpoints::open(&config.state_dir.join("checkpoints"))?;
        let worker_keys = Arc::new(WorkerKeys::load(&store.pool).await?);
        let tiny = gptsweep_core::corpus::BUILTIN_TINYSHAKESPEARE;
        let bytes = gptsweep_core::corpus::TINYSHAKESPEARE.len() as u64;
        store
            .write(InsertDataset {
                sha256: builtin_sha(tiny).to_string(),
                name: tiny.to_string(),
                bytes,
                builtin: true,
            })
            .await?;
        let grace = config.uploads.unused_dataset_grace;
        let collected = collect_orphans(&store, &datasets, &checkpoints, grace).await?;
        if collected != Default::default() {
            tracing::info!(
                "collected {} unused datasets and {} orphan files",
                collected.datasets,
                collected.files
            );
        }
        let c = Self {
            metrics: Metrics::new(store.metrics()),
            store,
            datasets,
            checkpoints,
            access,
            worker_keys,
            uploads: Arc::new(Uploads::new(&config.state_dir, config.uploads.clone())),
            config,
            work: Arc::new(Notify::new()),
            stopping: Arc::new(watch::channel(false).0),
            lock,
            db_lock,
        };
        Ok(c)
    }

    /// Stops the coordinator's own work after serving: long polls and the reaper end,
    /// every write already queued is committed and answered, and the database is closed.
    /// Answers whether the store's last batch committed (if not, the writes refused since
    /// were answered as failures, never acknowledged).
    pub async fn close(&self) -> Writable {
        self.stopping.send_replace(true);
        let writable = self.store.close().await;
        self.db_lock.release().await;
        writable
    }

    /// Notes in the state directory's lock file the address this coordinator serves on,
    /// so that a refused second coordinator names it. [`Coordinator::serve`] does it too;
    /// call it first when something announces the address before serving starts.
    pub fn listening_on(&self, addr: std::net::SocketAddr) -> Result<()> {
        self.lock.listening_on(&addr.to_string())
    }

    /// The access tokens of this coordinator.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// How long a lease lasts without a renewal, in milliseconds (as the store counts).
    pub(crate) fn lease_ms(&self) -> i64 {
        self.config.lease_timeout.as_millis() as i64
    }
}
