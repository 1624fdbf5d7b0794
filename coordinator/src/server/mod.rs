//! The coordinator process: its state (store, datasets, work signal), the submit path
//! shared by gRPC and `gptsweep local`, the lease reaper, and serving both services.

mod clients;
mod workers;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::Notify;

use gptsweep_gpt::Corpus;
use gptsweep_gpt::corpus::Split;
use gptsweep_proto::pb;

use crate::access::{Access, Gate, Role};
use crate::checkpoints::CheckpointStore;
use crate::datasets::{DatasetStore, builtin_sha};
use crate::error::{CoordinatorError, Result};
use crate::store::{CreateSweep, ExpireLeases, InsertDataset, NewSweep, Store, open_pool};
use crate::sweep::{DatasetRef, parse_sweep, plan_runs};
use crate::tls::TlsIdentity;
use gptsweep_api::{Submitted, SweepId};

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
}

impl CoordinatorConfig {
    /// Defaults: 30 s leases, 3 attempts per run, no TLS.
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            state_dir,
            lease_timeout: Duration::from_secs(30),
            max_attempts: 3,
            tls: None,
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
    pub(crate) config: CoordinatorConfig,
    /// Woken when runs become leasable (submit, retry, expiry).
    pub(crate) work: Arc<Notify>,
}

impl Coordinator {
    /// Opens the state directory (database, migrations, datasets) and starts the writer
    /// and the lease reaper.
    pub async fn open(config: CoordinatorConfig) -> Result<Self> {
        std::fs::create_dir_all(&config.state_dir).map_err(|source| CoordinatorError::Io {
            path: config.state_dir.clone(),
            source,
        })?;
        let pool = open_pool(&config.state_dir.join("gptsweep.db")).await?;
        let store = Store::start(pool);
        let datasets = DatasetStore::open(&config.state_dir.join("datasets"))?;
        let checkpoints = crate::checkpoints::open(&config.state_dir.join("checkpoints"))?;
        let access = Arc::new(Access::load_or_create(&config.state_dir)?);
        let tiny = gptsweep_gpt::corpus::BUILTIN_TINYSHAKESPEARE;
        let bytes = gptsweep_gpt::corpus::TINYSHAKESPEARE.len() as u64;
        store
            .write(InsertDataset {
                sha256: builtin_sha(tiny).to_string(),
                name: tiny.to_string(),
                bytes,
                builtin: true,
            })
            .await?;
        let c = Self {
            store,
            datasets,
            checkpoints,
            access,
            config,
            work: Arc::new(Notify::new()),
        };
        c.spawn_reaper();
        Ok(c)
    }

    fn spawn_reaper(&self) {
        let c = self.clone();
        let period = (self.config.lease_timeout / 10)
            .clamp(Duration::from_millis(100), Duration::from_secs(2));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            loop {
                tick.tick().await;
                match c
                    .store
                    .write(ExpireLeases {
                        max_attempts: c.config.max_attempts,
                    })
                    .await
                {
                    Ok(expired) if !expired.is_empty() => {
                        tracing::warn!("leases expired, runs requeued: {expired:?}");
                        c.work.notify_waiters();
                    }
                    Ok(_) => {}
                    Err(CoordinatorError::WriterGone) => return,
                    Err(e) => tracing::error!("lease reaper: {e}"),
                }
            }
        });
    }

    /// The access tokens of this coordinator.
    pub fn access(&self) -> &Access {
        &self.access
    }

    /// Checks a sweep file, plans it and queues its runs. Nothing is stored if any check fails.
    pub async fn submit(
        &self,
        file_name: &str,
        yaml: &str,
        uploaded_sha256: &str,
    ) -> Result<Submitted> {
        if yaml.len() > 1 << 20 {
            return Err(CoordinatorError::Invalid(format!(
                "{file_name}: a sweep file must be under 1 MiB"
            )));
        }
        let spec = parse_sweep(file_name, yaml)?;
        let sha = match &spec.dataset {
            DatasetRef::Builtin(name) => builtin_sha(name).to_string(),
            DatasetRef::Path(path) if uploaded_sha256.is_empty() => {
                return Err(CoordinatorError::Invalid(format!(
                    "{file_name}: dataset {path} is a path: upload it first (gptsweep submit does)"
                )));
            }
            DatasetRef::Path(_) => uploaded_sha256.to_string(),
        };
        let bytes = self.datasets.get(&sha)?;
        let corpus = Corpus::from_bytes(&sha, &bytes)
            .map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
        corpus
            .tokenizer()
            .encode(&spec.samples.options.prompt, "samples.prompt")
            .map_err(|e| CoordinatorError::Invalid(format!("{file_name}: {e}")))?;
        let vocab = corpus.tokenizer().vocab_size();
        let shortest = corpus
            .split(Split::Train)
            .len()
            .min(corpus.split(Split::Val).len());
        let runs = plan_runs(&spec, file_name, vocab, shortest)?;
        let counted = runs
            .iter()
            .map(|r| {
                (
                    r.clone(),
                    r.hyperparams.model_config(vocab).num_params() as u64,
                )
            })
            .collect::<Vec<_>>();
        let n = counted.len();
        let name = spec.name.clone();
        let sweep = NewSweep {
            spec,
            yaml: yaml.to_string(),
            file_name: file_name.to_string(),
            dataset_sha256: sha,
            runs: counted,
        };
        let id: SweepId = self.store.write(CreateSweep(Box::new(sweep))).await?;
        self.work.notify_waiters();
        Ok(Submitted {
            id,
            name,
            runs: n as u32,
        })
    }

    /// Serves both gRPC services on `listener` (over TLS when configured) until
    /// `shutdown` resolves.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let workers = pb::workers_server::WorkersServer::new(workers::WorkersService(self.clone()))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let clients = pb::clients_server::ClientsServer::new(clients::ClientsService(self.clone()))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let mut server = tonic::transport::Server::builder();
        if let Some(tls) = &self.config.tls {
            server = server
                .tls_config(tls.server_config())
                .map_err(|e| CoordinatorError::Invalid(format!("TLS: {e}")))?;
        }
        server
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
