//! A coordinator's settings, and the one place their defaults are written: the CLI's flags
//! take theirs from here ([`DEFAULT_LEASE_TIMEOUT`], [`DEFAULT_MAX_ATTEMPTS`]), so
//! `gptsweep coordinator` and `gptsweep local` cannot drift apart.

use std::path::PathBuf;
use std::time::Duration;

use crate::store::Database;
use crate::tls::TlsIdentity;
use crate::uploads::UploadLimits;

/// How long a lease lasts without a renewal, unless told otherwise.
pub const DEFAULT_LEASE_TIMEOUT: Duration = Duration::from_secs(30);

/// Attempts a run gets before it is failed, unless told otherwise.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 3;

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
    /// Defaults: [`DEFAULT_LEASE_TIMEOUT`], [`DEFAULT_MAX_ATTEMPTS`], no TLS, the state
    /// directory's SQLite file, [`UploadLimits::default`].
    pub fn new(state_dir: PathBuf) -> Self {
        Self {
            lease_timeout: DEFAULT_LEASE_TIMEOUT,
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            tls: None,
            database: Database::in_state_dir(&state_dir),
            uploads: UploadLimits::default(),
            state_dir,
        }
    }
}
