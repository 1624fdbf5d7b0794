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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn other_or_missing_versions_are_refused_naming_both() {
        let err = check(tonic::Request::new(())).unwrap_err();
        assert_eq!(err.code(), tonic::Code::FailedPrecondition);
        assert!(
            err.message()
                .contains("the caller speaks none, this coordinator speaks 1"),
            "{}",
            err.message()
        );
        let mut req = tonic::Request::new(());
        req.metadata_mut()
            .insert(PROTOCOL_HEADER, "7".parse().unwrap());
        assert!(
            check(req)
                .unwrap_err()
                .message()
                .contains("the caller speaks 7")
        );
        let mut req = tonic::Request::new(());
        req.metadata_mut().insert(
            PROTOCOL_HEADER,
            PROTOCOL_VERSION.to_string().parse().unwrap(),
        );
        assert!(check(req).is_ok());
    }
}
