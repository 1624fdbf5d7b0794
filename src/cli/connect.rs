//! The CLI's connection to a coordinator: address from `--coordinator`, then
//! GPTSWEEP_COORDINATOR, then the local default; errors turned into one-line messages
//! (a call never answered: by its cause, `transport_error`).

use gptsweep_proto::client::{self, Clients, Stamp};
use gptsweep_proto::tls::PemCertificates;

use super::transport_error;

/// Where a coordinator listens when nothing else is said.
pub const DEFAULT_COORDINATOR: &str = "http://127.0.0.1:50051";

/// A Clients-service client for `url`.
pub fn clients(
    url: &str,
    token: Option<&str>,
    ca: Option<&PemCertificates>,
) -> anyhow::Result<Clients> {
    let channel = client::channel(url, ca).map_err(anyhow::Error::msg)?;
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

/// A failed call as a one-line error: an answer of the coordinator as it said it; a call
/// it never answered with its real cause ([`transport_error::cause`]: down, closed, timed
/// out, TLS on one side only, a refused certificate, headers too large).
pub fn status_error(url: &str, s: tonic::Status) -> anyhow::Error {
    let detail = client::error_chain(s.message().to_string(), std::error::Error::source(&s));
    // A status the transport made (it has a source), or one tonic made of a plain HTTP
    // answer, rather than one the coordinator sent.
    let transport = std::error::Error::source(&s).is_some()
        || s.message().starts_with("grpc-status header missing");
    let (code, message) = match transport_error::cause(&detail, &s).filter(|_| transport) {
        Some(cause) => (cause.code(s.code()), cause.message(url, &detail)),
        None if transport => (
            s.code(),
            format!("the call to the coordinator at {url} failed in transport ({detail})"),
        ),
        None => (s.code(), s.message().to_string()),
    };
    Remote { code, message }.into()
}
