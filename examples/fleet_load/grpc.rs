//! The simulated workers' side of the wire: unary gRPC calls straight on an HTTP/2
//! connection (the `h2` crate that tonic's transport is built on), one connection a worker.
//!
//! Why not tonic's client, as a real worker uses: on the 2-core bench machine the fleet and
//! the coordinator share both cores, so every microsecond the load generator spends is
//! one the coordinator does not get. tonic's channel takes each call through a buffer task,
//! hyper's dispatch task and a body-pipe task, and writes a request's HEADERS and DATA
//! frames in two system calls (the body waits for flow-control capacity the connection task
//! grants once the HEADERS are out). Here a call is one stream whose HEADERS and DATA leave
//! in one write. The coordinator sees the same frames, headers and messages either way.
//!
//! `tests/forged_reports_e2e.rs` uses it too (by path), as a client that is not gptsweep's
//! worker: it sends whatever worker id and key it is given.

use std::cell::RefCell;
use std::time::Duration;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use gptsweep_proto::worker_key::{WORKER_HEADER, header_value};
use gptsweep_proto::{AUTHORIZATION_HEADER, PROTOCOL_HEADER, PROTOCOL_VERSION};
use h2::client::SendRequest;
use prost::Message;
use tokio::sync::watch;
use tonic::{Code, Status};

/// A simulated worker's connection to the coordinator: opened on first use, and again on
/// the call after one that failed on it (as tonic's channel reconnects), so a worker rides
/// out a coordinator restart. Used from one thread (the shard's).
pub struct Conn {
    addr: String,
    token: String,
    /// The `gptsweep-worker` header every call carries once set ([`Conn::set_worker`]).
    worker: RefCell<Option<String>>,
    open: RefCell<Option<Open>>,
}

/// An open connection: where calls go, and whether its task has ended (a call on a
/// connection the coordinator had closed waited forever: the `--restart` run hung so
/// before each call also watched for the end).
#[derive(Clone)]
struct Open {
    send: SendRequest<Bytes>,
    ended: watch::Receiver<bool>,
}

/// How long connecting may take before the call fails (and is retried).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Conn {
    /// A connection to `addr` (host:port) whose calls carry `token`; nothing is opened yet.
    pub fn new(addr: &str, token: &str) -> Self {
        Self {
            addr: addr.to_string(),
            token: format!("Bearer {token}"),
            worker: RefCell::new(None),
            open: RefCell::new(None),
        }
    }

    /// Makes every later call name `worker_id` with `key` (as Register answered them, for
    /// a worker of ours).
    pub fn set_worker(&self, worker_id: i64, key: &str) {
        *self.worker.borrow_mut() = Some(header_value(worker_id, key));
    }

    /// Calls `path` (`/package.Service/Method`) with `req`; answers the reply, or the
    /// call's status when it is not OK. A failure of the connection itself closes it.
    pub async fn unary<Req: Message, Reply: Message + Default>(
        &self,
        path: &str,
        req: &Req,
    ) -> Result<Reply, Status> {
        let open = self.open.borrow().clone();
        let open = match open {
            Some(open) if !*open.ended.borrow() => open,
            _ => {
                let open = self.connect().await?;
                *self.open.borrow_mut() = Some(open.clone());
                open
            }
        };
        let mut ended = open.ended.clone();
        let answer = tokio::select! {
            biased;
            answer = self.call(open.send, path, req) => answer,
            _ = ended.wait_for(|&ended| ended) => Err(Failed::Ended),
        };
        if let Err(Failed::Connection(_) | Failed::Ended) = &answer {
            self.open.borrow_mut().take();
        }
        answer.map_err(Failed::status)
    }

    /// Opens the connection; its task runs on the current runtime.
    async fn connect(&self) -> Result<Open, Status> {
        let addr = &self.addr;
        let unavailable = |e: String| Status::unavailable(format!("connect {addr}: {e}"));
        let tcp = tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| unavailable("timed out".into()))?
            .map_err(|e| unavailable(e.to_string()))?;
        tcp.set_nodelay(true)
            .map_err(|e| unavailable(e.to_string()))?;
        let (send, connection) = h2::client::handshake(tcp)
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let (end, ended) = watch::channel(false);
        tokio::spawn(async move {
            let _ = connection.await;
            end.send_replace(true);
        });
        Ok(Open { send, ended })
    }

    /// One call on `send`: HEADERS and the DATA frame queued together, so they leave in
    /// one write; then the answer's message and trailers.
    async fn call<Req: Message, Reply: Message + Default>(
        &self,
        send: SendRequest<Bytes>,
        path: &str,
        req: &Req,
    ) -> Result<Reply, Failed> {
        let mut request = http::Request::post(format!("http://{}{path}", self.addr))
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .header(PROTOCOL_HEADER, PROTOCOL_VERSION)
            .header(AUTHORIZATION_HEADER, &self.token);
        if let Some(worker) = self.worker.borrow().as_deref() {
            request = request.header(WORKER_HEADER, worker);
        }
        let request = request
            .body(())
            .map_err(|e| Failed::Call(Status::internal(e.to_string())))?;
        let mut send = send.ready().await?;
        let (response, mut body_tx) = send.send_request(request, false)?;
        body_tx.send_data(frame(req), true)?;
        let response = response.await?;
        if let Some(status) = grpc_status(response.headers()) {
            return Err(Failed::Call(status)); // a trailers-only answer: an error
        }
        let mut body = response.into_body();
        let mut message = BytesMut::new();
        while let Some(data) = body.data().await {
            let data = data?;
            let _ = body.flow_control().release_capacity(data.len());
            message.extend_from_slice(&data);
        }
        match body.trailers().await? {
            None => Err(Failed::Call(Status::internal("the answer had no trailers"))),
            Some(trailers) => match grpc_status(&trailers) {
                Some(status) => Err(Failed::Call(status)),
                None => unframe(message.freeze()).map_err(Failed::Call),
            },
        }
    }
}

/// How a call failed: on the connection, or with it closed under the call (either way
/// the next call opens another), or with a status from the coordinator.
enum Failed {
    Connection(h2::Error),
    Ended,
    Call(Status),
}

impl From<h2::Error> for Failed {
    fn from(e: h2::Error) -> Self {
        Failed::Connection(e)
    }
}

impl Failed {
    /// As tonic's client reports it: a broken connection is `Unavailable` (retried by the
    /// worker's backoff).
    fn status(self) -> Status {
        match self {
            Failed::Connection(e) => Status::unavailable(format!("HTTP/2: {e}")),
            Failed::Ended => Status::unavailable("the coordinator closed the connection"),
            Failed::Call(status) => status,
        }
    }
}

/// A message as gRPC frames it: not compressed, its length, its bytes.
fn frame(m: &impl Message) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + m.encoded_len());
    out.put_u8(0);
    out.put_u32(m.encoded_len() as u32);
    m.encode(&mut out).expect("the buffer was sized for it");
    out.freeze()
}

/// The one message of a unary answer.
fn unframe<M: Message + Default>(mut b: Bytes) -> Result<M, Status> {
    if b.len() < 5 || b[0] != 0 {
        return Err(Status::internal("a malformed gRPC answer"));
    }
    b.advance(1);
    let len = b.get_u32() as usize;
    if b.len() != len {
        return Err(Status::internal("a gRPC answer of the wrong length"));
    }
    M::decode(b).map_err(|e| Status::internal(e.to_string()))
}

/// The status `headers` carry, decoded as tonic's client does: `None` for OK or none.
fn grpc_status(headers: &http::HeaderMap) -> Option<Status> {
    Status::from_header_map(headers).filter(|s| s.code() != Code::Ok)
}
