//! gptsweep's wire format: the code generated from `gptsweep.proto`, re-exported as one
//! module and never edited, plus the protocol version every call carries. The generated code
//! is checked in (`src/generated/`, kept current by `tests/generated_code.rs`) instead of
//! made by a build script, so building gptsweep compiles no protobuf compiler.
//! Domain types and their conversions live in the `gptsweep-api` crate; this crate knows
//! nothing of training (it does not depend on burn).

pub mod client;
pub mod tls;
pub mod worker_key;

/// Generated messages and services of package `gptsweep.v1`.
#[allow(missing_docs)]
pub mod v1 {
    include!("generated/gptsweep.v1.rs");
}

pub use v1 as pb;

/// Version of the protocol; a coordinator refuses calls of any other. 2: workers send
/// their key ([`worker_key`]) and calls about a lease are bound to its worker.
pub const PROTOCOL_VERSION: u32 = 2;

/// Metadata header that carries [`PROTOCOL_VERSION`] on every call.
pub const PROTOCOL_HEADER: &str = "gptsweep-protocol";

/// Metadata header that carries the bearer token.
pub const AUTHORIZATION_HEADER: &str = "authorization";
