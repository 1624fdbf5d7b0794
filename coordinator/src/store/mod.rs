//! The SQLite store. Reads go straight to a WAL-mode connection pool; every write goes
//! through one writer task ([`writer`]) that batches what is queued into one transaction,
//! so many workers never meet "database is locked" and leasing is serialised by
//! construction (a run cannot be handed to two workers).

mod open;
pub mod reads;
pub mod records;
mod rungs;
mod writer;
mod writes;

pub use open::open_pool;
pub use records::*;
pub use writer::{Store, WriteOp};
pub use writes::NewSweep;
