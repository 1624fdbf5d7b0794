//! HTTPS for the dashboard: a listener that hands axum connections whose TLS handshake
//! is done. Handshakes run in tasks of their own (at most [`HANDSHAKE`] each, at most
//! [`MAX_HANDSHAKES`] at once), so a slow or silent client never holds up the others.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest a client may take over its handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);

/// Most handshakes under way at once: a flood of silent connections holds at most this
/// many descriptors (the gRPC port's workers share the limit); the rest wait in the
/// kernel's backlog.
const MAX_HANDSHAKES: usize = 128;

/// How long accepting pauses after an error (descriptors run out, say).
const ACCEPT_PAUSE: Duration = Duration::from_millis(50);

/// Connections with their handshake done, from a task that accepts and shakes hands.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: std::io::Result<SocketAddr>,
}

impl TlsListener {
    /// Accepts on `listener` with `config` until this listener is dropped.
    pub fn new(listener: TcpListener, config: Arc<rustls::ServerConfig>) -> Self {
        let local = listener.local_addr();
        let (tx, ready) = mpsc::channel(64);
        let acceptor = TlsAcceptor::from(config);
        let slots = Arc::new(tokio::sync::Semaphore::new(MAX_HANDSHAKES));
        tokio::spawn(async move {
            loop {
                let Ok(slot) = slots.clone().acquire_owned().await else {
                    return;
                };
                let accepted = tokio::select! {
                    accepted = listener.accept() => accepted,
                    _ = tx.closed() => return,
                };
                let (tcp, addr) = match accepted {
                    Ok(conn) => conn,
                    Err(e) => {
                        tracing::debug!("dashboard: accept: {e}");
                        tokio::time::sleep(ACCEPT_PAUSE).await;
                        continue;
                    }
                };
                let (acceptor, tx) = (acceptor.clone(), tx.clone());
                tokio::spawn(async move {
                    let shaken = tokio::time::timeout(HANDSHAKE, acceptor.accept(tcp)).await;
                    drop(slot);
                    match shaken {
                        Ok(Ok(tls)) => drop(tx.send((tls, addr)).await),
                        Ok(Err(e)) => tracing::debug!("dashboard: TLS handshake with {addr}: {e}"),
                        Err(_) => tracing::debug!(
                            "dashboard: {addr} took over {HANDSHAKE:?} to shake hands"
                        ),
                    }
                });
            }
        });
        Self { ready, local }
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(conn) => conn,
            // The accepting task ended (it never does while this listener lives).
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match &self.local {
            Ok(addr) => Ok(*addr),
            Err(e) => Err(std::io::Error::new(e.kind(), e.to_string())),
        }
    }
}
