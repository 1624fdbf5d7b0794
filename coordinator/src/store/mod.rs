//! The store, on a SQLite file or a PostgreSQL server ([`open`]: one set of queries over
//! sqlx's `Any` driver). Reads go straight to a connection pool ([`reads`]); every
//! write is a [`write::Write`] value that goes through the one writer, a thread of its own ([`writer`]),
//! which batches what is queued into one transaction, so many workers never meet
//! "database is locked" (nor, on PostgreSQL, serialisation failures) and leasing is
//! serialised by construction (a run cannot be handed to two workers). Records are the shared API layer's (`gptsweep_api`); states are
//! strings only in SQL, read back through [`column`].

pub mod census;
mod column;
mod health;
pub mod identity;
pub mod kernels;
mod link;
mod migrations;
pub mod open;
mod progress;
pub mod reads;
mod rungs;
pub(crate) mod states_sql;
mod stored_sweep;
pub mod write;
mod writer;
mod writer_metrics;

pub use health::Writable;
pub use open::{Database, DatabaseLock, SQLITE_FILE, open_pool};
pub use write::*;
pub use writer::Store;
pub use writer_metrics::WriterMetrics;
