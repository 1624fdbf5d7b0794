//! The coordinator's domain: what each call of its services does, apart from how it
//! arrives. Every operation is a method of [`Coordinator`] that takes and returns plain
//! Rust types (the API layer's ids and records, [`crate::store`]'s results) and fails
//! with [`crate::CoordinatorError`]; none sees a tonic request or status. The gRPC
//! services ([`crate::server`]) decode a request, authenticate its caller, call one of
//! these and map the error to a status in the one place that does ([`crate::error`]).
//! So the domain is tested here without a server (see the tests module).
//!
//! - [`coordinator`]: the shared state, opened and closed;
//! - [`plan`] and [`submit`]: a sweep file checked, planned and queued;
//! - [`worker`]: registering, disabling a device, leaving;
//! - [`lease`]: the lease poll and heartbeats; [`report`]: evaluations and how an
//!   attempt ended; [`reap`]: expiring leases not renewed in time;
//! - [`checkpoint`]: a run's checkpoint stored, resumed from and fetched, within the
//!   upload limits of [`receive`];
//! - [`manage`]: a client's cancel, retry, extend and delete.

mod checkpoint;
mod coordinator;
mod lease;
mod manage;
mod plan;
mod reap;
mod receive;
mod report;
mod submit;
mod worker;

#[cfg(test)]
mod tests;

pub use checkpoint::RunCheckpoint;
pub use coordinator::Coordinator;
pub use lease::{LeaseAsk, MAX_WAIT};
pub use manage::RetryWhich;
pub use report::Ended;
pub use worker::{OfferedDevice, Registered, own_id};
