//! The protocol-version check every call passes first.

use gptsweep_proto::{PROTOCOL_HEADER, PROTOCOL_VERSION};

/// Refuses calls whose `gptsweep-protocol` header is missing or not ours, naming both versions.
#[allow(clippy::result_large_err)]
pub fn check(req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
    let theirs = req
        .metadata()
        .get(PROTOCOL_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    if theirs != PROTOCOL_VERSION.to_string() {
        return Err(tonic::Status::failed_precondition(format!(
            "protocol version mismatch: the caller speaks {theirs}, this coordinator speaks {PROTOCOL_VERSION}; use the same gptsweep release on both ends"
        )));
    }
    Ok(req)
}
