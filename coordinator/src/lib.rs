//! gptsweep's coordinator: reads sweep files, plans runs, hands them to workers over gRPC
//! and keeps its records in SQLite or PostgreSQL, its checkpoints and uploads in a state
//! directory.
//!
//! - [`sweep`]: sweep files, checks with line and column, planning;
//! - [`store`]: SQLite or PostgreSQL through one batching writer;
//! - [`metrics`]: what Prometheus scrapes;
//! - [`domain`]: what the coordinator does (submit, plan, lease, report, reap, ...), in
//!   plain types; [`server`]: the thin gRPC services for workers and clients over it;
//! - [`config`]: a coordinator's settings and their one set of defaults;
//! - [`access`]: the tokens of the two roles; [`worker_keys`]: which worker is calling;
//! - [`listen`]: the port and the open-file limit sized for a thousand workers;
//! - [`datasets`]: corpora stored by sha256 under the state directory;
//! - [`tls`]: the certificate and key the port serves, checked up front;
//! - [`state_lock`]: one coordinator per state directory;
//! - [`collect`]: removing blobs nothing refers to, at start and while serving;
//! - [`uploads`]: what uploads may take of memory and disk (slots, quota, reserve:
//!   [`disk_space`]).

pub mod access;
pub mod blobs;
pub mod byte_size;
pub mod checkpoints;
pub mod clock;
pub mod collect;
pub mod config;
pub mod dashboard;
pub mod datasets;
pub mod disk_space;
pub mod domain;
pub mod error;
pub mod kernels;
pub mod listen;
pub mod metrics;
pub mod server;
pub mod state_lock;
pub mod store;
pub mod sweep;
pub mod tls;
pub mod uploads;
pub mod warm_shapes;
pub mod worker_keys;

pub use config::CoordinatorConfig;
pub use domain::Coordinator;
pub use error::{CoordinatorError, Result};
