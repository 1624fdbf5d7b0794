//! Every store write, one type a write (mini-redis `cmd/`): a struct holding the write's
//! arguments and a [`Write`] impl that applies it to a connection inside its savepoint.
//! [`super::Store::write`] queues any of them to the one writer; adding a write is one
//! struct and one impl, in the file of its concern:
//!
//! - [`datasets`][]: a stored corpus, and forgetting unused uploads;
//! - [`sweeps`][]: a new sweep and its runs, cancel, retry; [`extend`][]: more runs;
//!   [`delete`][]: a sweep and all it holds;
//! - [`workers`][]: registration;
//! - [`annotate`][]: a run's name and note;
//! - [`handout`][]: handing out runs (and, for a tpe sweep, proposing the next one first:
//!   [`propose`][]); [`leases`][]: renewing and expiring leases, the grace after a restart;
//! - [`reports`][]: evaluations and checkpoints of a held run; [`resumed`][]: the
//!   checkpoint step an attempt was handed;
//! - [`finishing`][]: the end of an attempt, and what follows for its run and sweep;
//! - [`probe`][]: the health probe's write;
//! - [`kernels`][]: records of the fleet's kernel cache, within its bound;
//! - [`group`][]: what a group of writes applied together needs (runs apart, placeholders).
//!
//! The writes speak only SQL that SQLite and PostgreSQL share except where noted, and take
//! the connection as their one argument, so a second backend adds a connection type and
//! reuses the rest.

mod annotate;
mod datasets;
mod delete;
mod extend;
mod finishing;
mod group;
mod handout;
mod kernels;
mod leases;
mod probe;
mod propose;
mod reports;
mod resumed;
mod sweeps;
mod warm_shapes;
mod workers;

use std::future::Future;

use sqlx::AnyConnection;

use crate::error::Result;

pub use annotate::{Annotate, Annotation};
pub use datasets::{ForgetUnusedDatasets, InsertDataset};
pub use delete::{Delete, Deleted};
pub use extend::{Extend, Extended};
pub use finishing::Finish;
pub use handout::Lease;
pub use kernels::{NewRecord, PutKernelRecords, PutKernelsOutcome};
pub use leases::{ExpireLeases, GraceLeases, Heartbeat};
pub use probe::Probe;
pub use reports::{Report, SetCheckpoint};
pub use resumed::ResumedFrom;
pub use sweeps::{Cancel, CreateSweep, NewSweep, Retry};
pub use warm_shapes::MarkShapeWarm;
pub use workers::{Deregister, DisableDevice, RegisterWorker};

/// Whether `c` is a PostgreSQL connection (else SQLite), for the few places the two differ.
fn on_postgres(c: &AnyConnection) -> bool {
    c.backend_name().eq_ignore_ascii_case("postgresql")
}

/// One write: applied by the single writer in the batch's transaction, and again inside
/// its own savepoint if a write of the batch failed, so a failing write rolls back alone
/// (`super::writer`). Hence `Clone`: the first application consumes a copy.
pub trait Write: Clone + Send + 'static {
    /// What the caller gets back.
    type Output: Send + 'static;
    /// Applies the write.
    fn apply(self, c: &mut AnyConnection) -> impl Future<Output = Result<Self::Output>> + Send;

    /// Applies the writes of this type in one batch, as if one by one in the order they
    /// came. `Err` means the transaction must be rolled back (the writer then applies each
    /// write alone, in a savepoint); an `Err` inside the answer is a write refused before it
    /// changed anything, which leaves the others standing. A write whose statements can be
    /// made set-based (one statement for many rows: a fleet's reports) overrides this to
    /// spend a few round trips to the database on the whole group instead of a few each.
    fn apply_many(
        writes: Vec<Self>,
        c: &mut AnyConnection,
    ) -> impl Future<Output = Result<Vec<Result<Self::Output>>>> + Send {
        async move {
            let mut answers = Vec::with_capacity(writes.len());
            for w in writes {
                answers.push(Ok(w.apply(c).await?));
            }
            Ok(answers)
        }
    }
}
