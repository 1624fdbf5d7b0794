//! Sizing the coordinator for a fleet: a thousand workers that reconnect at once (as after
//! a restart) each open a TCP connection and keep it. Three things stand in their way, and
//! this module removes each:
//!
//! - the file-descriptor limit: every connection is a descriptor, and a soft limit of 1024
//!   (the usual default) refuses the thousandth. [`raise_fd_limit`] lifts the soft limit
//!   to the hard one at start;
//! - the listen backlog: connections the kernel has completed but the server has not yet
//!   accepted wait in it; a short one drops (resets) the rest of a burst. [`bind`] listens
//!   with [`BACKLOG`] (the kernel caps it at `net.core.somaxconn`, 4096 on Linux since 5.4);
//! - accepting: [`Incoming`] sets `TCP_NODELAY` on every connection (small replies go out
//!   at once, never held back by Nagle's algorithm for the client's delayed ACK), and when
//!   descriptors run out anyway it pauses instead of spinning on `accept`.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio_stream::Stream;

/// Connections the kernel may queue for accepting (capped by `net.core.somaxconn`).
pub const BACKLOG: u32 = 4096;

/// How long accepting pauses when descriptors run out, so that connections closing can
/// free some.
const EXHAUSTED_PAUSE: Duration = Duration::from_millis(50);

/// Raises this process's soft limit on open files to its hard limit; answers the limits
/// (soft, hard) now in force, or `None` where they cannot be read.
pub fn raise_fd_limit() -> Option<(u64, u64)> {
    #[cfg(unix)]
    {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let mut limit = getrlimit(Resource::Nofile);
        // `None` is unlimited; the hard limit on open files never is on Linux.
        if let (Some(soft), Some(hard)) = (limit.current, limit.maximum)
            && soft < hard
        {
            let raised = Rlimit {
                current: Some(hard),
                maximum: Some(hard),
            };
            match setrlimit(Resource::Nofile, raised) {
                Ok(()) => limit = raised,
                Err(e) => {
                    tracing::warn!("cannot raise the open-file limit from {soft} to {hard}: {e}")
                }
            }
        }
        Some((
            limit.current.unwrap_or(u64::MAX),
            limit.maximum.unwrap_or(u64::MAX),
        ))
    }
    #[cfg(not(unix))]
    None
}

/// Binds `addr` (`host:port`; port 0 picks a free one) with a listen backlog of
/// [`BACKLOG`], trying each address the host resolves to.
pub async fn bind(addr: &str) -> io::Result<TcpListener> {
    let mut last = None;
    for a in tokio::net::lookup_host(addr).await? {
        let socket = if a.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        // As std's and tokio's own bind: a restarted coordinator may take its port back
        // while connections of the one before are in TIME_WAIT.
        #[cfg(unix)]
        socket.set_reuseaddr(true)?;
        match socket.bind(a).and_then(|()| socket.listen(BACKLOG)) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

/// The connections a listener accepts, `TCP_NODELAY` set, for tonic's
/// `serve_with_incoming`.
pub struct Incoming {
    listener: TcpListener,
    /// Set while accepting pauses after descriptors ran out.
    pause: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Incoming {
    /// Accepts from `listener`.
    pub fn new(listener: TcpListener) -> Self {
        Self {
            listener,
            pause: None,
        }
    }
}

/// Whether an accept failed for want of descriptors or memory: it will fail again at
/// once until something is closed.
fn exhausted(e: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

impl Stream for Incoming {
    type Item = io::Result<TcpStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(pause) = self.pause.as_mut() {
                if pause.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.pause = None;
            }
            return match self.listener.poll_accept(cx) {
                Poll::Ready(Ok((stream, _))) => {
                    if let Err(e) = stream.set_nodelay(true) {
                        tracing::debug!("TCP_NODELAY not set on a connection: {e}");
                    }
                    Poll::Ready(Some(Ok(stream)))
                }
                Poll::Ready(Err(e)) if exhausted(&e) => {
                    tracing::warn!(
                        "cannot accept a connection ({e}); pausing {EXHAUSTED_PAUSE:?}: raise the open-file limit (ulimit -n)"
                    );
                    self.pause = Some(Box::pin(tokio::time::sleep(EXHAUSTED_PAUSE)));
                    continue;
                }
                Poll::Ready(Err(e)) => Poll::Ready(Some(Err(e))),
                Poll::Pending => Poll::Pending,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn binds_a_free_port_and_accepts_with_nodelay() {
        use tokio_stream::StreamExt;
        let listener = bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut incoming = Incoming::new(listener);
        let _client = TcpStream::connect(addr).await.unwrap();
        let accepted = incoming.next().await.unwrap().unwrap();
        assert!(accepted.nodelay().unwrap());
    }

    #[test]
    fn the_soft_fd_limit_reaches_the_hard_one() {
        let (soft, hard) = raise_fd_limit().unwrap();
        assert_eq!(soft, hard);
    }
}
