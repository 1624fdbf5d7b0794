//! Serving the coordinator over gRPC: the Workers and Clients services and the standard
//! health service, behind the access gate. The services are thin: each call decodes its
//! request, authenticates its caller, calls the domain ([`crate::domain`]) and answers
//! its result, or its error as the one mapping to a status says ([`crate::error`]).
//!
//! [`Coordinator::serve`] judges every running lease from its start (a grace of one
//! lease timeout after a restart), starts the lease reaper and the collection of unused
//! datasets, and serves until its shutdown future resolves, ending long polls at once;
//! [`Coordinator::close`] then drains the writer and closes the database.

mod clients;
mod health;
mod workers;

use std::pin::Pin;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

use gptsweep_proto::pb;

use crate::access::{Gate, Role};
use crate::blobs::Chunks;
use crate::domain::Coordinator;
use crate::error::{CoordinatorError, Result};
use crate::uploads::MAX_CHUNK;

/// The largest message the Clients service decodes: an upload's chunk ([`MAX_CHUNK`]) or
/// a sweep file (1 MiB), with room for the fields beside them. The Workers service keeps
/// 64 MiB: a `Finish` carries up to 16 samples of 100,000 characters.
const MAX_CLIENT_MESSAGE: usize = MAX_CHUNK + (1 << 20);

/// A stream of messages, as a streaming call answers.
type Sent<M> = Pin<Box<dyn Stream<Item = Result<M, Status>> + Send>>;

/// A blob's `chunks` sent as messages made by `message`; a failed read ends the stream
/// with its status. The one way a download is streamed.
fn send_chunks<M: Send + 'static>(chunks: Chunks, message: fn(Vec<u8>) -> M) -> Sent<M> {
    Box::pin(chunks.map(move |c| c.map(message).map_err(Status::from)))
}

/// An upload's chunks after its first message, as the domain reads them: a stream that
/// ended in an error (the caller went away, a message over the limit) is
/// [`CoordinatorError::Interrupted`].
fn received<M>(
    stream: tonic::Streaming<M>,
    data: fn(M) -> Vec<u8>,
) -> impl Stream<Item = Result<Vec<u8>>> + Send
where
    M: Send + 'static,
{
    stream.map(move |m| m.map(data).map_err(CoordinatorError::Interrupted))
}

impl Coordinator {
    /// Serves both gRPC services on `listener` (over TLS when configured) until
    /// `shutdown` resolves: then it accepts nothing more, ends long polls at once, and
    /// returns once the requests under way are answered. Call [`Coordinator::close`] next.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<()> {
        if let Ok(addr) = listener.local_addr() {
            self.listening_on(addr)?;
        }
        self.start_leases().await?;
        let stopping = self.stopping.clone();
        let shutdown = async move {
            shutdown.await;
            stopping.send_replace(true);
        };
        let incoming = crate::listen::Incoming::new(listener);
        let workers = pb::workers_server::WorkersServer::new(workers::WorkersService(self.clone()))
            .max_decoding_message_size(64 << 20)
            .max_encoding_message_size(64 << 20);
        let clients = pb::clients_server::ClientsServer::new(clients::ClientsService(self.clone()))
            .max_decoding_message_size(MAX_CLIENT_MESSAGE)
            .max_encoding_message_size(64 << 20);
        // A ping a minute on every connection: a worker whose host vanished without closing
        // its connection (power, network) frees its descriptor after at most 80 s.
        let mut server = tonic::transport::Server::builder()
            .http2_keepalive_interval(Some(Duration::from_secs(60)))
            .http2_keepalive_timeout(Some(Duration::from_secs(20)));
        if let Some(tls) = &self.config.tls {
            server = server
                .tls_config(tls.server_config())
                .map_err(|e| CoordinatorError::Invalid(format!("TLS: {e}")))?;
        }
        server
            .add_service(self.health_service())
            .add_service(tonic::service::interceptor::InterceptedService::new(
                workers,
                Gate {
                    role: Role::Worker,
                    access: self.access.clone(),
                },
            ))
            .add_service(tonic::service::interceptor::InterceptedService::new(
                clients,
                Gate {
                    role: Role::Client,
                    access: self.access.clone(),
                },
            ))
            .serve_with_incoming_shutdown(incoming, shutdown)
            .await
            .map_err(CoordinatorError::Serve)
    }
}
