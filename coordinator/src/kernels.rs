//! The fleet's kernel cache: compiled GPU kernels and autotune results, which every node
//! would otherwise pay for again (minutes a model shape on an H100), kept here for the
//! whole fleet as the records of cubecl's cache files ([`gptsweep_api::kernel_entries`]),
//! by scope (the device, driver and build they are valid for). A worker fetches what is
//! new in its scope before it trains and uploads what it compiled after; a record is
//! stored once by its digest (uploads racing each other store it once), one that is not a
//! record is refused alone, and past the bound (`--kernel-cache-size`) the oldest records
//! go first. The records live in the database: they are small (kernels of tens of KB,
//! autotune lines of a hundred bytes), and a store that is backed up keeps them too.

use std::pin::Pin;

use sqlx::AnyPool;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::Status;

use gptsweep_api::kernel_entries::{self, MAX_ENTRY_BYTES};
use gptsweep_proto::pb;

use crate::error::{CoordinatorError, Result};
use crate::store::NewRecord;
use crate::store::kernels::records_after;

/// The bound of the cache by default: a shape of the lecture's model is ~50 MB of kernels
/// at cubecl's `minimal` autotune level on an H100 (BENCHMARKS.md), so ~40 shapes.
pub const DEFAULT_KERNEL_CACHE: u64 = 2 << 30;

/// Most bytes of records one `PutKernels` call may carry: a worker sends more in several
/// calls, and the coordinator holds at most this much a call in memory.
pub const MAX_PUT_BYTES: usize = 64 << 20;

/// Records read from the store at a time while a fetch streams them.
const PAGE: i64 = 16;

/// The records of one `PutKernels` call, checked: those to store, and those refused.
#[derive(Debug, Default)]
pub struct Received {
    /// Their scope.
    pub scope: String,
    /// Records to store.
    pub records: Vec<NewRecord>,
    /// How many were not records.
    pub refused: u64,
    /// Why the first of them was refused.
    pub refusal: String,
}

/// Reads a `PutKernels` stream: the first message names the scope; every message is one
/// record, checked as [`kernel_entries::key_of`] does. More than [`MAX_PUT_BYTES`] is
/// refused whole (INVALID_ARGUMENT) before it is all read.
pub async fn receive(
    mut stream: impl Stream<Item = std::result::Result<pb::KernelUpload, Status>> + Unpin,
) -> std::result::Result<Received, Status> {
    let mut received = Received::default();
    let mut total = 0usize;
    let mut first = true;
    while let Some(message) = stream.next().await {
        let m = message?;
        if first {
            kernel_entries::check_scope(&m.scope)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
            received.scope = m.scope;
            first = false;
        }
        total += m.data.len();
        if total > MAX_PUT_BYTES {
            return Err(Status::invalid_argument(format!(
                "kernel records of one upload past {} MiB: send them in several",
                MAX_PUT_BYTES >> 20
            )));
        }
        match kernel_entries::key_of(&m.file, &m.data) {
            Ok(_) => received.records.push(NewRecord {
                digest: kernel_entries::digest(&m.file, &m.data),
                file: m.file,
                data: m.data,
            }),
            Err(e) => {
                if received.refused == 0 {
                    received.refusal = e.to_string();
                }
                received.refused += 1;
            }
        }
    }
    if first {
        return Err(Status::invalid_argument("empty kernel upload"));
    }
    Ok(received)
}

/// The records of `scope` stored after `after_seq`, streamed a page at a time (at most
/// [`PAGE`] records, each at most [`MAX_ENTRY_BYTES`], held at once).
pub fn records_stream(
    pool: AnyPool,
    scope: String,
    after_seq: i64,
) -> Pin<Box<dyn Stream<Item = std::result::Result<pb::KernelRecord, Status>> + Send>> {
    const _: () = assert!(MAX_ENTRY_BYTES <= 8 << 20);
    let (tx, rx) = tokio::sync::mpsc::channel(PAGE as usize);
    tokio::spawn(async move {
        let mut after = after_seq;
        loop {
            let page = match records_after(&pool, &scope, after, PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    let _ = tx.send(Err(Status::from(e))).await;
                    return;
                }
            };
            let last = page.len() < PAGE as usize;
            for r in page {
                after = r.seq;
                let record = pb::KernelRecord {
                    seq: r.seq,
                    file: r.file,
                    data: r.data,
                };
                if tx.send(Ok(record)).await.is_err() {
                    return;
                }
            }
            if last {
                return;
            }
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// Refuses a scope that is not one (INVALID_ARGUMENT).
pub fn check_scope(scope: &str) -> Result<()> {
    kernel_entries::check_scope(scope).map_err(|e| CoordinatorError::Invalid(e.to_string()))
}
