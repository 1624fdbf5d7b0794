//! The coordinator process: its state (store, datasets, work signal), the submit path
//! shared by gRPC and `gptsweep local`, the lease reaper, and serving both services.
//!
//! Its life: [`Coordinator::open`] takes the state directory's lock and collects orphan
//! blobs; [`Coordinator::serve`] judges every running lease from then (a grace of one
//! lease timeout after a restart), starts the lease reaper and the collection of unused
//! datasets, and serves until its shutdown future resolves, ending long polls at once;
//! [`Coordinator::close`] then drains the writer and closes the database. Uploads are
//! received within the limits of [`crate::uploads`] ([`receive`]).

mod clients;
mod health;
mod reaper;
mod receive;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use gptsweep_proto::pb;

use crate::access::{Access, Gate, Role};
use crate::checkpoints::CheckpointStore;
use crate::clock::now_ms;
use crate::collect::collect_orphans;
use crate::datasets::{DatasetStore, builtin_sha};
use crate::error::{CoordinatorError, Result};
use crate::metrics::Metrics;
use crate::state_lock::StateLock;
use crate::store::{
    CreateSweep, Database, DatabaseLock, ForgetUnusedDatasets, GraceLeases, InsertDataset,
    NewSweep, Store, Writable, identity,
};
use crate::sweep::measure::measure_corpus;
use crate::sweep::{CorpusShapes, DatasetRef, SweepSpec, parse_sweep, plan_runs};
use crate::tls::TlsIdentity;
use crate::uploads::{MAX_CHUNK, UploadLimits, Uploads};
use crate::worker_keys::WorkerKeys;
use gptsweep_api::{Submitted, SweepId};

/// Chunk size of blob downloads (datasets, checkpoints).
const CHUNK: usize = 1 << 20;

/// The largest message the Clients service decodes: an upload's chunk ([`MAX_CHUNK`]) or
/// a sweep file (1 MiB), with room for the fields beside them. The Workers service keeps
/// 64 MiB: a `Finish` carries up to 16 samples of 100,000 characters.
const MAX_CLIENT_MESSAGE: usize = MAX_CHUNK + (1 << 20);

/// Settings of a coordinator.
#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    /// Where the database and datasets live.
    pub state_dir: PathBuf,
    /// A lease not renewed within this expires and its run is requeued.
    pub lease_timeout: Duration,
    /// Attempts a run gets (expired leases and failures both count) before it is failed.
    pub max_attempts: u32,
    /// Serve TLS with this certificate and key; plain text when `None`.
    pub tls: Option<TlsIdentity>,
    /// Where the store lives: the state directory's SQLite file unless told otherwise.
    /// Datasets and checkpoints stay under the state directory either way.
    pub database: Database,
    /// The quota of unused datasets, the free-space reserve, and how long an unused
    /// dataset is kept.
    pub uploads: UploadLimits,
}

impl CoordinatorConfig {
    /// Defaults: 30 s leases, 3 attempts per run, no TLS.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            lease_timeout: Duration::from_secs(30),
            max_attempts: 3,
            tls: None,
            database: Database::in_state_dir(&state_dir),
            uploads: UploadLimits::default(),
            state_dir,
        }
    }
}

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

    /// Judges every running lease from now (a grace of one lease timeout: its worker could
    /// not renew it while no coordinator answered) and starts the lease reaper. Called as
    /// serving starts, so that a slow start (a busy database, many orphans to collect)
    /// does not use up the grace before any worker can be heard.
    async fn start_leases(&self) -> Result<()> {
        let lease_ms = self.config.lease_timeout.as_millis() as i64;
        let graced = self.store.write(GraceLeases { lease_ms }).await?;
        if graced > 0 {
            tracing::info!(
                "{graced} running runs keep their leases for {:?} from now",
                self.config.lease_timeout
            );
        }
        self.spawn_reaper();
        self.spawn_collector();
        Ok(())
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

    /// Checks a sweep file, plans it and queues its runs. Nothing is stored if any check
    /// fails, and a dataset uploaded for it that no sweep uses is forgotten (row and blob).
    pub async fn submit(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
    ) -> Result<Submitted> {
        self.submit_named(file_name, yaml, uploaded_sha256, "")
            .await
    }

    /// [`Coordinator::submit`] under `name` instead of the file's name, unless it is empty
    /// (`gptsweep submit --name`: the same file again, under another name).
    pub async fn submit_named(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
        name: &str,
    ) -> Result<Submitted> {
        let started = now_ms();
        let submitted = self
            .plan_and_store(file_name, yaml, uploaded_sha256, name)
            .await;
        if submitted.is_err() && !uploaded_sha256.is_empty() {
            self.forget_upload(uploaded_sha256, started).await;
        }
        submitted
    }

    /// Forgets the dataset `sha256` if no sweep uses it and it was not uploaded again
    /// after `started` (a submit of the same corpus may be under way).
    async fn forget_upload(&self, sha256: &str, started: i64) {
        // As the collection does: no upload of the same corpus is between blob and row.
        let _commit = self.uploads.commit_lock.lock().await;
        let forgotten = self
            .store
            .write(ForgetUnusedDatasets {
                only: Some(sha256.to_string()),
                uploaded_before: started + 1,
            })
            .await;
        match forgotten {
            Ok(shas) => shas.iter().for_each(|sha| self.datasets.remove(sha)),
            Err(e) => tracing::warn!("keeping dataset {sha256} of a refused submit: {e}"),
        }
    }

    /// [`Coordinator::submit`] without the clean-up of a refusal.
    async fn plan_and_store(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
        name: &str,
    ) -> Result<Submitted> {
        if yaml.len() > 1 << 20 {
            return Err(CoordinatorError::Invalid(format!(
                "{file_name}: a sweep file must be under 1 MiB"
            )));
        }
        let mut spec = parse_sweep(file_name, yaml)?;
        if !name.is_empty() {
            if let Some(problem) = crate::sweep::name_problem(name) {
                return Err(CoordinatorError::Invalid(format!("--name: {problem}")));
            }
            spec.name = name.to_string();
        }
        let sha = match &spec.dataset {
            DatasetRef::Builtin(name) => builtin_sha(name).to_string(),
            DatasetRef::Path(path) if uploaded_sha256.is_empty() => {
                return Err(CoordinatorError::Invalid(format!(
                    "{file_name}: dataset {path} is a path: upload it first (gptsweep submit does)"
                )));
            }
            DatasetRef::Path(_) => uploaded_sha256.to_string(),
        };
        let shapes = self.measure_corpus(file_name, &spec, &sha).await?;
        let runs = plan_runs(&spec, file_name, &shapes)?;
        let counted = runs
            .iter()
            .map(|r| {
                let (params, memory) = shapes.estimates(&r.hyperparams);
                (r.clone(), params, memory)
            })
            .collect::<Vec<_>>();
        let name = spec.name.clone();
        let sweep = NewSweep {
            spec,
            yaml: yaml.to_string(),
            file_name: file_name.to_string(),
            dataset_sha256: sha,
            runs: counted,
            shapes,
        };
        let n = sweep.run_cap();
        let id: SweepId = self.store.write(CreateSweep(Box::new(sweep))).await?;
        self.work.notify_waiters();
        Ok(Submitted {
            id,
            name,
            runs: n as u32,
        })
    }

    /// The corpus `sha` under each tokenizer `spec` uses, with the sample prompt checked
    /// against each (a character vocabulary may lack one of its characters). Tokenising
    /// is CPU work of up to seconds for a large corpus: it runs off the async threads.
    async fn measure_corpus(
        &self,
        file_name: &str,
        spec: &SweepSpec,
        sha: &str,
    ) -> Result<CorpusShapes> {
        let bytes = self.datasets.get(sha)?;
        let (spec, sha, file_name) = (spec.clone(), sha.to_string(), file_name.to_string());
        tokio::task::spawn_blocking(move || {
            let (shapes, problems) =
                measure_corpus(&spec, &sha, &bytes).map_err(CoordinatorError::Invalid)?;
            match problems.first() {
                Some(p) => Err(CoordinatorError::Invalid(format!("{file_name}: {p}"))),
                None => Ok(shapes),
            }
        })
        .await
        .map_err(|e| CoordinatorError::Storage(format!("measuring the corpus failed: {e}")))?
    }

    /// Serves both gRPC services on `listener` (over TLS when configured) until
    /// `shutdown` resolves: then it accepts nothing more, ends long polls at once, and
    /// returns once the requests under way are answered. Call [`Coordinator::close`] next.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        if let Ok(addr) = listener.local_addr() {
            self.listening_on(addr)?;
        }
        self.start_leases().await?;
        let stopping = self.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            stopping.send_replace(true);
        };
        let incoming = crate::listen::Incoming::new(listener);
        let workers = pb::workers_server::WorkersServer::new(workers::WorkersService(self.clone()))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let clients = pb::clients_server::ClientsServer::new(clients::ClientsService(self.clone()))
            .max_decoding_message_size(MAX_CLIENT_MESSAGE)
            .max_encoding_message_size(64 << 20);
        // A ping a minute on every connection: a worker whose host vanished without closing
        // its connection (power, network) frees its descriptor after at most 80 s.
        let mut server = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(60)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)));
        if let Some(tls) = &self.config.tls {
            server = server
                .tls_config(tls.server_config())
                .map_err(|e| CoordinatorError::Invalid(format!("TLS: {e}")))?;
        }
        server
            .add_service(self.health_service())
            .add_service(tonic::service::interceptor::InterceptedService::new(
                workers,
                Gate {
                    role: Role::Worker,
                    access: self.access.clone(),
                },
            ))
            .add_service(tonic::service::interceptor::InterceptedService::new(
                clients,
                Gate {
                    role: Role::Client,
                    access: self.access.clone(),
                },
            ))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(|e| CoordinatorError::Invalid(format!("gRPC server: {e}")))
    }
}
