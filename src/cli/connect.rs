//! The CLI's connection to a coordinator: address from `--coordinator`, then
//! GPTSWEEP_COORDINATOR, then the local default; errors turned into one-line messages.

use gptsweep_proto::client::{self, Clients, Stamp};

/// Where a coordinator listens when nothing else is said.
pub const DEFAULT_COORDINATOR: &str = "http://127.0.0.1:50051";

/// A Clients-service client for `url`.
pub fn clients(url: &str, token: Option<&str>) -> anyhow::Result<Clients> {
    let channel = client::channel(url).map_err(anyhow::Error::msg)?;
    let stamp = Stamp::new(token).map_err(anyhow::Error::msg)?;
    Ok(client::clients(channel, stamp))
}

/// A call the coordinator answered with an error.
#[derive(Debug)]
pub struct Remote {
    /// The gRPC status code.
    pub code: tonic::Code,
    /// The one-line message.
    pub message: String,
}

impl std::fmt::Display for Remote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Remote {}

impl Remote {
    /// Whether the caller's input was at fault (exit code 2) rather than the system.
    pub fn is_bad_input(&self) -> bool {
        use tonic::Code::*;
        matches!(
            self.code,
            InvalidArgument
                | NotFound
                | AlreadyExists
                | FailedPrecondition
                | PermissionDenied
                | Unauthenticated
        )
    }
}

/// A failed call as a one-line error that names the coordinator when it is unreachable.
pub fn status_error(url: &str, s: tonic::Status) -> anyhow::Error {
    let message = match s.code() {
        tonic::Code::Unavailable => format!(
            "cannot reach the coordinator at {url} ({}); is `gptsweep coordinator` running there?",
            s.message()
        ),
        _ => s.message().to_string(),
    };
    Remote {
        code: s.code(),
        message,
    }
    .into()
}
