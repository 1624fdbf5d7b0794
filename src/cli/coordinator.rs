//! `gptsweep coordinator`: serve sweeps to workers and clients from a state directory,
//! until SIGTERM or SIGINT: then it accepts nothing more, answers the requests under way
//! (for at most [`DRAIN`]; a second signal cuts that short), commits every queued write
//! and exits 0.

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use gptsweep_coordinator::config::{DEFAULT_LEASE_TIMEOUT, DEFAULT_MAX_ATTEMPTS};
use gptsweep_coordinator::store::{Database, Writable};
use gptsweep_coordinator::tls::TlsIdentity;
use gptsweep_coordinator::uploads::UploadLimits;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig, byte_size, listen};

use super::bad_input::{BadInput, ensure};
use super::paths::default_state_dir;

/// Where the dashboard listens unless told.
const DEFAULT_DASHBOARD: &str = "127.0.0.1:50052";

/// Longest the coordinator waits for requests under way once told to stop.
const DRAIN: Duration = Duration::from_secs(10);

/// Open files below which the coordinator warns that a fleet of workers will not fit
/// (a thousand connections, the database, the WAL, blobs being read).
const FLEET_FDS: u64 = 1100;

/// Flags of `gptsweep coordinator`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (port 0 picks a free one; the chosen address is printed).
    #[arg(long, default_value = "127.0.0.1:50051", env = "GPTSWEEP_LISTEN")]
    pub listen: String,
    /// Where the SQLite database, datasets and checkpoints live [~/.local/share/gptsweep].
    #[arg(long, env = "GPTSWEEP_STATE_DIR")]
    pub state_dir: Option<PathBuf>,
    /// Keep runs, workers and results in this database instead of the state dir's SQLite
    /// file: postgres://USER[:PASSWORD]@HOST[:PORT]/DB, or a SQLite file path. Datasets and
    /// checkpoints stay in --state-dir.
    #[arg(long, env = "GPTSWEEP_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// Seconds after which a silent worker's run is requeued.
    #[arg(long, default_value_t = DEFAULT_LEASE_TIMEOUT.as_secs_f64())]
    pub lease_timeout: f64,
    /// Attempts a run gets (expired leases and failures both count) before it is failed.
    #[arg(long, default_value_t = DEFAULT_MAX_ATTEMPTS)]
    pub max_attempts: u32,
    /// Serve TLS with this PEM certificate chain (leaf first); clients then use https://.
    #[arg(long, requires = "tls_key", env = "GPTSWEEP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of --tls-cert.
    #[arg(long, requires = "tls_cert", env = "GPTSWEEP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Serve the dashboard (curves, parallel coordinates, samples; behind the client
    /// token) on this address, over TLS when --tls-cert is given; `off` serves none
    /// [127.0.0.1:50052, skipped with a warning when that port is taken].
    #[arg(long, env = "GPTSWEEP_DASHBOARD")]
    pub dashboard: Option<String>,
    /// How log lines on stderr look: text, or one JSON object a line.
    #[arg(long, value_enum, default_value = "text", env = "GPTSWEEP_LOG_FORMAT")]
    pub log_format: super::logging::LogFormat,
    /// Bytes of uploaded datasets that no sweep uses yet (uploads under way included) held
    /// at once; an upload past it is refused [4GiB].
    #[arg(long, env = "GPTSWEEP_DATASET_QUOTA", value_name = "SIZE")]
    pub dataset_quota: Option<String>,
    /// Free space that uploads (datasets, checkpoints) must leave on the state dir's
    /// filesystem, for the database: one that would cross it is refused, a worker's
    /// checkpoint retried later [256MiB or 1% of the filesystem, whichever is larger].
    #[arg(long, env = "GPTSWEEP_DISK_RESERVE", value_name = "SIZE")]
    pub disk_reserve: Option<String>,
    /// Bytes of compiled GPU kernels and autotune results the fleet's kernel cache keeps
    /// (in the database; the oldest go first past it) [2GiB].
    #[arg(long, env = "GPTSWEEP_KERNEL_CACHE_SIZE", value_name = "SIZE")]
    pub kernel_cache_size: Option<String>,
    /// Seconds an uploaded dataset that no sweep uses is kept (a client between its upload
    /// and its submit); unused ones are collected every half of it, at most a minute apart.
    #[arg(
        long,
        env = "GPTSWEEP_UNUSED_DATASET_GRACE",
        value_name = "SECS",
        default_value_t = 600.0
    )]
    pub unused_dataset_grace: f64,
}

/// Runs `gptsweep coordinator` until SIGTERM or SIGINT.
pub async fn run(args: Args) -> anyhow::Result<()> {
    ensure(
        args.lease_timeout.is_finite() && (0.2..=1e9).contains(&args.lease_timeout),
        || {
            format!(
                "--lease-timeout {}: must be a number of seconds from 0.2 to 1e9",
                args.lease_timeout
            )
        },
    )?;
    ensure(args.max_attempts >= 1, || {
        format!("--max-attempts {}: must be at least 1", args.max_attempts)
    })?;
    ensure(
        args.unused_dataset_grace.is_finite() && (0.0..=1e9).contains(&args.unused_dataset_grace),
        || {
            format!(
                "--unused-dataset-grace {}: must be a number of seconds from 0 to 1e9",
                args.unused_dataset_grace
            )
        },
    )?;
    let size = |flag: &str, text: &Option<String>| {
        text.as_deref()
            .map(|t| byte_size::parse(t).map_err(|e| BadInput(format!("{flag} {e}"))))
            .transpose()
    };
    let dataset_quota = size("--dataset-quota", &args.dataset_quota)?;
    let disk_reserve = size("--disk-reserve", &args.disk_reserve)?;
    let kernel_cache = size("--kernel-cache-size", &args.kernel_cache_size)?;
    // From here on a signal stops the coordinator in order, never half-way through opening.
    let mut signals = Signals::new()?;
    // Checked before anything is created or bound, so a bad file leaves nothing behind.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(TlsIdentity::load(cert, key)?),
        _ => None,
    };
    let state_dir = args.state_dir.unwrap_or_else(default_state_dir);
    let database = match &args.database {
        Some(text) => Database::parse(text).map_err(|e| BadInput(format!("--database {e}")))?,
        None => Database::in_state_dir(&state_dir),
    };
    // Every worker holds a connection, hence a descriptor: the soft limit (often 1024)
    // goes up to the hard one, and the listen backlog takes a fleet reconnecting at once.
    match listen::raise_fd_limit() {
        Some((soft, _)) if soft < FLEET_FDS => tracing::warn!(
            "the open-file limit is {soft} (hard limit included): fewer than {FLEET_FDS} workers can connect at once; raise it with ulimit -Hn or LimitNOFILE="
        ),
        Some((soft, hard)) => tracing::debug!("open-file limit raised to {soft} (hard {hard})"),
        None => {}
    }
    let listener = listen::bind(&args.listen)
        .await
        .map_err(|e| anyhow::anyhow!("--listen {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    let dashboard = match &args.dashboard {
        Some(addr) => super::dashboard::bind(addr).await?,
        // Not asked for: a taken default port (a second coordinator on this host) costs
        // the dashboard, not the coordinator.
        None => super::dashboard::bind(DEFAULT_DASHBOARD)
            .await
            .unwrap_or_else(|e| {
                tracing::warn!("no dashboard: {e:#}");
                None
            }),
    };
    let mut config = CoordinatorConfig::new(state_dir.clone());
    config.lease_timeout = Duration::from_secs_f64(args.lease_timeout);
    config.max_attempts = args.max_attempts;
    config.database = database.clone();
    let defaults = UploadLimits::default();
    config.uploads = UploadLimits {
        dataset_quota: dataset_quota.unwrap_or(defaults.dataset_quota),
        disk_reserve,
        unused_dataset_grace: Duration::from_secs_f64(args.unused_dataset_grace),
        kernel_cache: kernel_cache.unwrap_or(defaults.kernel_cache),
    };
    if tls.is_none() && !addr.ip().is_loopback() {
        tracing::warn!(
            "listening on {addr} without TLS: tokens, datasets and checkpoints cross the \
             network in clear text; give --tls-cert and --tls-key"
        );
    }
    if let Some(d) = dashboard.as_ref().and_then(|d| d.local_addr().ok())
        && tls.is_none()
        && !d.ip().is_loopback()
    {
        tracing::warn!(
            "dashboard on {d} without TLS: the client token crosses the network in clear text; \
             give --tls-cert and --tls-key"
        );
    }
    let scheme = if tls.is_some() { "https" } else { "http" };
    config.tls = tls;
    let coordinator = Coordinator::open(config).await?;
    coordinator.listening_on(addr)?;
    println!(
        "gptsweep coordinator listening on {addr} ({scheme}://; state in {}, database {database})",
        state_dir.display()
    );
    if let Some(d) = &dashboard {
        println!(
            "dashboard on {} (sign in with the client token: {})",
            super::dashboard::url(d.local_addr()?, scheme == "https"),
            state_dir.join("client.token").display()
        );
    }
    std::io::stdout().flush()?;
    if let Some(d) = dashboard {
        let c = coordinator.clone();
        tokio::spawn(async move {
            if let Err(e) = c.serve_dashboard(d).await {
                tracing::error!("{e}");
            }
        });
    }
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(coordinator.clone().serve(listener, async {
        let _ = stopped.await;
    }));
    let served = tokio::select! {
        name = signals.next() => {
            tracing::info!("{name}: accepting nothing more, draining");
            let _ = stop.send(());
            tokio::select! {
                ended = tokio::time::timeout(DRAIN, &mut server) => match ended {
                    Ok(served) => served,
                    Err(_) => {
                        tracing::warn!("requests still open after {DRAIN:?}; closing anyway");
                        server.abort();
                        Ok(Ok(()))
                    }
                },
                name = signals.next() => {
                    tracing::warn!("{name} again: closing without waiting for open requests");
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
        served = &mut server => served,
    };
    let writable = coordinator.close().await;
    served??;
    match writable {
        Writable::Yes => tracing::info!("stopped; every acknowledged write is committed"),
        Writable::No { since, reason } => tracing::error!(
            "stopped while the store refused writes (for the last {:.1} s: {reason}); every \
             acknowledged write is committed, the refused ones were answered as failures",
            since.elapsed().as_secs_f64()
        ),
    }
    Ok(())
}

/// The signals that stop the coordinator: SIGTERM (what Slurm, Kubernetes and systemd
/// send) and SIGINT (Ctrl-C).
struct Signals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl Signals {
    /// Starts listening for both.
    fn new() -> anyhow::Result<Self> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            Ok(Self {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(Self {})
    }

    /// The next one to arrive, by name.
    async fn next(&mut self) -> &'static str {
        #[cfg(unix)]
        {
            tokio::select! {
                _ = self.term.recv() => "SIGTERM",
                _ = self.int.recv() => "SIGINT",
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}
