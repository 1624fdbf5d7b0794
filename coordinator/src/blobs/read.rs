//! Reading a blob as a stream of chunks, for the fetches (`FetchDataset`, `GetCheckpoint`,
//! `FetchRunCheckpoint`): a fetch of a GB blob holds at most [`READ_AHEAD`] chunks read
//! ahead of the one being sent, instead of the whole blob and a copy of it. Each chunk is
//! read on the blocking pool by a task that waits (without a thread) while the client is
//! slow, and ends as soon as the client is gone. The file is opened before the stream
//! starts, so a blob replaced meanwhile (a run's next checkpoint) is still read whole.

use std::io::Read;
use std::path::Path;
use std::pin::Pin;

use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;

use crate::error::{CoordinatorError, Result};

/// Chunks read ahead of the one the client is being sent.
pub const READ_AHEAD: usize = 1;

/// A blob's bytes, chunk by chunk; an error ends it.
pub type Chunks = Pin<Box<dyn Stream<Item = Result<Vec<u8>>> + Send>>;

/// The bytes of the open `file` (at `path`, for errors) in chunks of `chunk` bytes.
pub fn file_chunks(file: std::fs::File, path: &Path, chunk: usize) -> Chunks {
    let (tx, rx) = tokio::sync::mpsc::channel(READ_AHEAD);
    let path = path.to_path_buf();
    tokio::spawn(async move {
        let mut file = file;
        loop {
            let read = tokio::task::spawn_blocking(move || read_chunk(file, chunk)).await;
            let failed = match read {
                Ok((f, Ok(bytes))) => {
                    // The end, or the client is gone.
                    if bytes.is_empty() || tx.send(Ok(bytes)).await.is_err() {
                        return;
                    }
                    file = f;
                    continue;
                }
                Ok((_, Err(source))) => CoordinatorError::Io { path, source },
                // The read panicked: a bug, not the storage's fault.
                Err(source) => CoordinatorError::Task {
                    what: "reading a blob",
                    source,
                },
            };
            let _ = tx.send(Err(failed)).await;
            return;
        }
    });
    Box::pin(ReceiverStream::new(rx))
}

/// `bytes` (a corpus compiled into the binary) in chunks of `chunk` bytes, each copied as
/// it is sent.
pub fn static_chunks(bytes: &'static [u8], chunk: usize) -> Chunks {
    Box::pin(tokio_stream::iter(
        bytes.chunks(chunk).map(|c| Ok(c.to_vec())),
    ))
}

/// Up to `chunk` bytes of `file` (fewer only at its end; none past it), with the file to
/// read on from.
fn read_chunk(file: std::fs::File, chunk: usize) -> (std::fs::File, std::io::Result<Vec<u8>>) {
    let mut buf = Vec::with_capacity(chunk);
    let mut limited = file.take(chunk as u64);
    let read = limited.read_to_end(&mut buf).map(|_| buf);
    (limited.into_inner(), read)
}

/// Collects a stream of chunks (tests).
#[cfg(test)]
pub async fn collect(mut chunks: Chunks) -> Result<Vec<Vec<u8>>> {
    use tokio_stream::StreamExt;
    let mut all = Vec::new();
    while let Some(c) = chunks.next().await {
        all.push(c?);
    }
    Ok(all)
}
