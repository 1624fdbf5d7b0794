//! Client-side plumbing shared by the worker and the CLI: a lazily connecting channel
//! (TLS for `https://` addresses) and the interceptor that stamps every call with the
//! protocol version (and a bearer token, and a registered worker's key).

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};

use crate::pb::clients_client::ClientsClient;
use crate::pb::workers_client::WorkersClient;
use crate::tls::PemCertificates;
use crate::worker_key::{WORKER_HEADER, WorkerSlot};
use crate::{AUTHORIZATION_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};

/// Adds the protocol header and, when set, `authorization: Bearer <token>` and the
/// worker's key ([`WorkerSlot`], shared by every clone of the stamp).
#[derive(Clone, Debug, Default)]
pub struct Stamp {
    token: Option<MetadataValue<Ascii>>,
    worker: WorkerSlot,
}

impl Stamp {
    /// A stamp carrying `token`, if any.
    pub fn new(token: Option<&str>) -> Result<Self, String> {
        let token = match token {
            Some(t) => Some(
                format!("Bearer {t}")
                    .parse()
                    .map_err(|_| "the token must be printable ASCII".to_string())?,
            ),
            None => None,
        };
        Ok(Self {
            token,
            worker: WorkerSlot::default(),
        })
    }

    /// The slot whose worker id and key every call through this stamp (and its clones)
    /// carries once set: a worker sets it after registering.
    pub fn worker_slot(&self) -> WorkerSlot {
        self.worker.clone()
    }
}

impl Interceptor for Stamp {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert(PROTOCOL_HEADER, MetadataValue::from(PROTOCOL_VERSION));
        if let Some(t) = &self.token {
            req.metadata_mut().insert(AUTHORIZATION_HEADER, t.clone());
        }
        if let Some(w) = self.worker.header() {
            req.metadata_mut().insert(WORKER_HEADER, w);
        }
        Ok(req)
    }
}

/// A channel to `url` that connects on first use and reconnects after failures.
///
/// `https://` addresses speak TLS and verify the coordinator's certificate against `ca`
/// when given (a private CA or a self-signed certificate), else against the system's
/// roots; `http://` addresses are plain text and refuse a `ca`, which would otherwise be
/// silently ignored.
pub fn channel(url: &str, ca: Option<&PemCertificates>) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("coordinator address {url:?}: {e}"))?;
    let endpoint = match endpoint.uri().scheme_str() {
        Some("https") => {
            let tls = match ca {
                Some(ca) => ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca.pem())),
                None => ClientTlsConfig::new().with_native_roots(),
            };
            endpoint.tls_config(tls).map_err(|e| {
                let hint = if ca.is_none() {
                    "; give --tls-ca with the certificate of the CA that signed the coordinator's"
                } else {
                    ""
                };
                format!(
                    "TLS for {url}: {}{hint}",
                    error_chain(e.to_string(), std::error::Error::source(&e))
                )
            })?
        }
        Some("http") => {
            if let Some(ca) = ca {
                return Err(format!(
                    "--tls-ca {} is set but {url} is plain http://; use https:// for a coordinator that serves TLS",
                    ca.path().display()
                ));
            }
            endpoint
        }
        _ => {
            return Err(format!(
                "coordinator address {url:?}: must start with http:// or https://"
            ));
        }
    };
    Ok(endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(20))
        .connect_lazy())
}

/// `head` and the chain of `source`s on one line, each part once (transports repeat
/// their causes): for errors a user reads, where the cause is deep in the chain.
pub fn error_chain(head: String, source: Option<&(dyn std::error::Error + 'static)>) -> String {
    let mut text = head;
    let mut source = source;
    while let Some(inner) = source {
        let part = inner.to_string();
        if !text.contains(&part) {
            text += &format!(": {part}");
        }
        source = inner.source();
    }
    text
}

/// The Workers service client.
pub type Workers = WorkersClient<InterceptedService<Channel, Stamp>>;
/// The Clients service client.
pub type Clients = ClientsClient<InterceptedService<Channel, Stamp>>;

/// A Workers client over `channel`.
pub fn workers(channel: Channel, stamp: Stamp) -> Workers {
    WorkersClient::with_interceptor(channel, stamp)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// A Clients client over `channel`.
pub fn clients(channel: Channel, stamp: Stamp) -> Clients {
    ClientsClient::with_interceptor(channel, stamp)
        .max_decoding_message_size(64 << 20)
        .max_encoding_message_size(64 << 20)
}

/// Concatenates a stream of chunks (datasets, checkpoints).
pub async fn collect(
    mut stream: tonic::Streaming<crate::pb::Chunk>,
) -> Result<Vec<u8>, tonic::Status> {
    let mut bytes = Vec::new();
    while let Some(chunk) = stream.message().await? {
        bytes.extend_from_slice(&chunk.data);
    }
    Ok(bytes)
}
