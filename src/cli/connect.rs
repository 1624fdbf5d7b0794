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

/// A failed call as a one-line error that names the coordinator when it is unreachable.
pub fn status_error(url: &str, s: tonic::Status) -> anyhow::Error {
    match s.code() {
        tonic::Code::Unavailable => anyhow::anyhow!(
            "cannot reach the coordinator at {url} ({}); is `gptsweep coordinator` running there?",
            s.message()
        ),
        _ => anyhow::anyhow!("{}", s.message()),
    }
}
