//! What every client verb shares: the coordinator client, its address, the output mode.

use gptsweep_proto::client::Clients;
use gptsweep_proto::tls::PemCertificates;

use super::connect::{clients, status_error};
use super::output::{Document, OutputMode, print};

/// A connected client verb's context.
pub struct Ctx {
    /// The Clients service.
    pub client: Clients,
    /// The coordinator's address, for messages.
    pub url: String,
    /// Text or JSON.
    pub output: OutputMode,
}

impl Ctx {
    /// Connects (lazily) to `url`, trusting `ca` for https:// when given.
    pub fn new(
        url: &str,
        token: Option<&str>,
        ca: Option<&PemCertificates>,
        output: OutputMode,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            client: clients(url, token, ca)?,
            url: url.to_string(),
            output,
        })
    }

    /// Maps a failed call to a readable error.
    pub fn err(&self, s: tonic::Status) -> anyhow::Error {
        status_error(&self.url, s)
    }

    /// Prints `doc` in this verb's output mode.
    pub fn print(&self, doc: &impl Document) -> anyhow::Result<()> {
        print(self.output, doc)
    }
}
