//! The coordinator's one error type, mapped once to gRPC statuses.

use sqlx::postgres::PgDatabaseError;

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
    /// A worker call without a worker's id and key, or with ones this coordinator does not
    /// know.
    #[error("{0}")]
    Unauthenticated(String),
    /// A worker's call about what is not its own: another worker's lease, id or device.
    #[error("{0}")]
    Forbidden(String),
    /// No room for an upload now: the free-space reserve, the quota of unused datasets, or
    /// every upload slot taken. Answered `RESOURCE_EXHAUSTED`; the caller may retry later.
    #[error("{0}")]
    NoRoom(String),
    /// An upload's stream ended in an error (the client went away, or sent a message over
    /// the size limit): answered with the status it ended with.
    #[error("upload interrupted: {}", .0.message())]
    Interrupted(tonic::Status),
    /// The database failed. Faults of the storage under it (I/O, a full disk, a lost
    /// file) are the coordinator's and answered as `UNAVAILABLE`, see [`storage_fault`].
    #[error("store: {0}")]
    Store(#[from] sqlx::Error),
    /// The coordinator's storage failed in a way that names no single file (a commit).
    #[error("coordinator storage: {0}")]
    Storage(String),
    /// Applying migrations failed.
    #[error("store migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// A file in the state directory could not be read or written: the coordinator's
    /// storage, never the caller's fault.
    #[error("coordinator storage: {path}: {source}")]
    Io {
        /// The file or directory.
        path: std::path::PathBuf,
        /// The failure.
        source: std::io::Error,
    },
    /// A write of the request's batch panicked in the writer (a bug): the batch was rolled
    /// back and refused, the panic logged, and the writer went on.
    #[error(
        "a write of this request's batch panicked in the store's writer (a bug: the coordinator's log has the panic); nothing of the batch was stored"
    )]
    WriteAborted,
    /// The writer thread is gone (the coordinator is shutting down).
    #[error("the store's writer has stopped")]
    WriterGone,
    /// The coordinator stopped serving while the call waited (a lease poll): answered
    /// `UNAVAILABLE`, the caller retries elsewhere or later.
    #[error("the coordinator is shutting down; retry")]
    ShuttingDown,
    /// Work the coordinator ran on a blocking thread did not come back (it panicked, a
    /// bug, or the runtime is shutting down): neither the caller's input nor a storage
    /// fault, answered `INTERNAL`.
    #[error("{what} failed: {source}")]
    Task {
        /// What the task was doing ("measuring the corpus").
        what: &'static str,
        /// How it ended.
        source: tokio::task::JoinError,
    },
    /// The gRPC server failed while serving (its listener, a TLS handshake set-up): the
    /// coordinator's own trouble, never bad input.
    #[error("gRPC server: {0}")]
    Serve(#[source] tonic::transport::Error),
    /// The database and the state directory are not one store (an empty database beside
    /// a state directory of blobs, two stores' ids, another program's tables): nothing was
    /// changed. The operator's flags name the wrong pair: bad input.
    #[error("{0}")]
    StoreMismatch(String),
    /// The database cannot be used as it is (not a SQLite file, or damaged): nothing was
    /// changed.
    #[error("{0}")]
    StoreDamaged(String),
    /// Another coordinator holds the PostgreSQL database's advisory lock.
    #[error(
        "database {0} is in use by another coordinator; stop it, or give this one another --database"
    )]
    DatabaseLocked(String),
    /// Another coordinator holds the state directory's lock.
    #[error(
        "state dir {dir} is in use: held by {holder}; stop that coordinator or give another --state-dir"
    )]
    StateLocked {
        /// The state directory.
        dir: std::path::PathBuf,
        /// Who holds it, as its lock file says ("pid N (listening on ADDR)").
        holder: String,
    },
}

impl CoordinatorError {
    /// Whether this is a fault of the coordinator's own storage (files, database), which a
    /// caller should retry rather than take as its own.
    pub fn is_storage_fault(&self) -> bool {
        match self {
            CoordinatorError::Io { .. } | CoordinatorError::Storage(_) => true,
            CoordinatorError::Store(e) => storage_fault(e),
            _ => false,
        }
    }

    /// Whether the caller should keep what it was doing and try again later: the
    /// coordinator's storage failed ([`CoordinatorError::is_storage_fault`]) or it has no
    /// room now ([`CoordinatorError::NoRoom`]). Neither is the caller's fault.
    pub fn is_coordinators(&self) -> bool {
        self.is_storage_fault() || matches!(self, CoordinatorError::NoRoom(_))
    }
}

/// Whether a database error comes from the storage under it rather than from a query:
/// I/O, a full disk, a file that cannot be opened, a read-only or corrupt file, a busy
/// lock, or a pool that cannot hand out connections.
pub fn storage_fault(e: &sqlx::Error) -> bool {
    // SQLite's primary result codes (the low byte of an extended code).
    const BUSY: i64 = 5;
    const LOCKED: i64 = 6;
    const NOMEM: i64 = 7;
    const READONLY: i64 = 8;
    const IOERR: i64 = 10;
    const CORRUPT: i64 = 11;
    const FULL: i64 = 13;
    const CANTOPEN: i64 = 14;
    const NOTADB: i64 = 26;
    match e {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) if db.try_downcast_ref::<PgDatabaseError>().is_some() => {
            db.code().is_some_and(|c| pg_storage_class(&c))
        }
        sqlx::Error::Database(db) => {
            db.code()
                .and_then(|c| c.parse::<i64>().ok())
                .is_some_and(|c| {
                    matches!(
                        c & 0xff,
                        BUSY | LOCKED
                            | NOMEM
                            | READONLY
                            | IOERR
                            | CORRUPT
                            | FULL
                            | CANTOPEN
                            | NOTADB
                    )
                })
        }
        _ => false,
    }
}

/// Whether a PostgreSQL SQLSTATE is the server's or its storage's trouble rather than the
/// query's: connection exceptions (08), insufficient resources such as a full disk (53),
/// operator intervention such as a shutdown (57), system errors such as I/O (58), and
/// internal errors such as corruption (XX).
fn pg_storage_class(sqlstate: &str) -> bool {
    ["08", "53", "57", "58", "XX"]
        .iter()
        .any(|class| sqlstate.starts_with(class))
}

/// Result alias for the coordinator.
pub type Result<T, E = CoordinatorError> = std::result::Result<T, E>;

impl From<CoordinatorError> for tonic::Status {
    fn from(e: CoordinatorError) -> Self {
        let msg = e.to_string();
        if e.is_storage_fault() {
            // Retryable: the worker keeps its run and tries again; nothing is its fault.
            let msg = match e {
                CoordinatorError::Store(_) => format!("coordinator storage: {msg}"),
                _ => msg,
            };
            return tonic::Status::unavailable(format!(
                "{msg} (the coordinator's storage failed; retry)"
            ));
        }
        match e {
            CoordinatorError::Spec(_) | CoordinatorError::Invalid(_) | CoordinatorError::Api(_) => {
                tonic::Status::invalid_argument(msg)
            }
            CoordinatorError::NotFound(_) => tonic::Status::not_found(msg),
            CoordinatorError::AlreadyExists(_) => tonic::Status::already_exists(msg),
            CoordinatorError::LeaseLost(_) => tonic::Status::failed_precondition(msg),
            CoordinatorError::Unauthenticated(_) => tonic::Status::unauthenticated(msg),
            CoordinatorError::Forbidden(_) => tonic::Status::permission_denied(msg),
            CoordinatorError::NoRoom(_) => tonic::Status::resource_exhausted(msg),
            CoordinatorError::Interrupted(status) => status,
            CoordinatorError::WriterGone | CoordinatorError::ShuttingDown => {
                tonic::Status::unavailable(msg)
            }
            _ => tonic::Status::internal(msg),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_task_that_did_not_come_back_is_internal_not_a_storage_fault() {
        let source = tokio::task::spawn_blocking(|| panic!("boom"))
            .await
            .unwrap_err();
        let e = CoordinatorError::Task {
            what: "measuring the corpus",
            source,
        };
        assert!(!e.is_storage_fault() && !e.is_coordinators());
        let msg = e.to_string();
        assert!(
            msg.starts_with("measuring the corpus failed: task ")
                && msg.ends_with(" panicked with message \"boom\""),
            "{msg}"
        );
        let status = tonic::Status::from(e);
        assert_eq!(
            (status.code(), status.message()),
            (tonic::Code::Internal, msg.as_str())
        );
    }

    #[test]
    fn a_poll_ended_by_a_shutdown_is_unavailable() {
        let status = tonic::Status::from(CoordinatorError::ShuttingDown);
        assert_eq!(
            (status.code(), status.message()),
            (
                tonic::Code::Unavailable,
                "the coordinator is shutting down; retry"
            )
        );
    }
}
