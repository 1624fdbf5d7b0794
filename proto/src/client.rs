//! Client-side plumbing shared by the worker and the CLI: a lazily connecting channel and
//! the interceptor that stamps every call with the protocol version (and a bearer token).

use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};

use crate::pb::clients_client::ClientsClient;
use crate::pb::workers_client::WorkersClient;
use crate::{AUTHORIZATION_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};

/// Adds the protocol header and, when set, `authorization: Bearer <token>`.
#[derive(Clone, Debug, Default)]
pub struct Stamp {
    token: Option<MetadataValue<Ascii>>,
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
        Ok(Self { token })
    }
}

impl Interceptor for Stamp {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut()
            .insert(PROTOCOL_HEADER, MetadataValue::from(PROTOCOL_VERSION));
        if let Some(t) = &self.token {
            req.metadata_mut().insert(AUTHORIZATION_HEADER, t.clone());
        }
        Ok(req)
    }
}

/// A channel to `url` that connects on first use and reconnects after failures.
pub fn channel(url: &str) -> Result<Channel, String> {
    let endpoint = Endpoint::from_shared(url.to_string())
        .map_err(|e| format!("coordinator address {url:?}: {e}"))?;
    Ok(endpoint
        .connect_timeout(std::time::Duration::from_secs(5))
        .tcp_nodelay(true)
        .http2_keep_alive_interval(std::time::Duration::from_secs(20))
        .connect_lazy())
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
