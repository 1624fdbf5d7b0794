//! The coordinator's one error type, mapped once to gRPC statuses.

use crate::sweep::SpecErrors;

/// Everything the coordinator can refuse or fail at.
#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    /// The sweep file is invalid; nothing was stored.
    #[error("{0}")]
    Spec(#[from] SpecErrors),
    /// A wire message the domain cannot accept.
    #[error("{0}")]
    Api(#[from] gptsweep_api::ApiError),
    /// A sweep, run or dataset that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// A name already taken.
    #[error("{0}")]
    AlreadyExists(String),
    /// A request that is malformed or over a limit.
    #[error("{0}")]
    Invalid(String),
    /// The caller's lease on a run is gone (expired, or the run was handed elsewhere).
    #[error("{0}")]
    LeaseLost(String),
    /// The database failed.
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    /// Applying migrations failed.
    #[error("store migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file in the state directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// The writer task is gone (the coordinator is shutting down).
    #[error("the store's writer has stopped")]
    WriterGone,
}

/// Result alias for the coordinator.
pub type Result<T, E = CoordinatorError> = std::result::Result<T, E>;

impl From<CoordinatorError> for tonic::Status {
    fn from(e: CoordinatorError) -> Self {
        let msg = e.to_string();
        match e {
            CoordinatorError::Spec(_) | CoordinatorError::Invalid(_) | CoordinatorError::Api(_) => {
                tonic::Status::invalid_argument(msg)
            }
            CoordinatorError::NotFound(_) => tonic::Status::not_found(msg),
            CoordinatorError::AlreadyExists(_) => tonic::Status::already_exists(msg),
            CoordinatorError::LeaseLost(_) => tonic::Status::failed_precondition(msg),
            CoordinatorError::WriterGone => tonic::Status::unavailable(msg),
            _ => tonic::Status::internal(msg),
        }
    }
}
