//! The CLI's connection to a coordinator: address from `--coordinator`, then
//! GPTSWEEP_COORDINATOR, then the local default; errors turned into one-line messages.

use gptsweep_proto::client::{self, Clients, Stamp};
use gptsweep_proto::tls::PemCertificates;

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

/// A failed call as a one-line error that names the coordinator when it is unreachable,
/// with a hint when the likely cause is TLS on one side only.
pub fn status_error(url: &str, s: tonic::Status) -> anyhow::Error {
    let detail = client::error_chain(s.message().to_string(), std::error::Error::source(&s));
    // A status the transport made (it has a source) rather than one the server sent.
    let transport = std::error::Error::source(&s).is_some();
    let message = if url.starts_with("http://") && transport && s.code() != tonic::Code::Unavailable
    {
        format!(
            "the coordinator at {url} did not answer in plain HTTP/2 ({detail}); \
             if it serves TLS, use https:// (and --tls-ca for a private CA)"
        )
    } else if detail.contains("invalid peer certificate") {
        format!(
            "the coordinator at {url} presented a certificate this client does not accept \
             ({detail}); give --tls-ca with the CA that signed it (the certificate itself if \
             self-signed) and use a host name the certificate lists"
        )
    } else if s.code() == tonic::Code::Unavailable {
        format!(
            "cannot reach the coordinator at {url} ({detail}); is `gptsweep coordinator` running there?"
        )
    } else {
        s.message().to_string()
    };
    Remote {
        code: s.code(),
        message,
    }
    .into()
}
