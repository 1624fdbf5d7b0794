//! Receiving an upload (a dataset from a client, a checkpoint from a worker) into a staged
//! blob, within the limits of [`crate::uploads`]: a slot first, then each chunk checked
//! against the chunk and size limits, the free-space reserve (and for a dataset the quota)
//! before it is written, validated as it passes (UTF-8 text; the checkpoint format and
//! its hashes) and written on the blocking pool. Any refusal or failure, and a client gone
//! mid-stream, drops the staged blob and with it its file: nothing is left behind. Only a
//! whole, valid upload is named by its sha256. The chunks come as a plain stream: a
//! transport that loses its caller ends it with the error to answer
//! ([`CoordinatorError::Interrupted`] for gRPC).

use tokio_stream::{Stream, StreamExt};

use gptsweep_api::RunId;
use gptsweep_core::checkpoint::BlobCheck;
use gptsweep_core::text_check::TextCheck;

use super::Coordinator;
use crate::blobs::StagedBlob;
use crate::checkpoints::MAX_CHECKPOINT_BYTES;
use crate::datasets::MAX_DATASET_BYTES;
use crate::error::{CoordinatorError, Result};
use crate::store::{InsertDataset, reads};
use crate::uploads::MAX_CHUNK;

/// A check made of an upload's bytes as they pass.
trait Check: Send + 'static {
    /// Checks the next chunk.
    fn feed(&mut self, chunk: &[u8]) -> gptsweep_core::Result<()>;
}

impl Check for TextCheck {
    fn feed(&mut self, chunk: &[u8]) -> gptsweep_core::Result<()> {
        TextCheck::feed(self, chunk)
    }
}

impl Check for BlobCheck {
    fn feed(&mut self, chunk: &[u8]) -> gptsweep_core::Result<()> {
        BlobCheck::feed(self, chunk)
    }
}

/// An upload being received: its staged blob and the check of what it holds.
struct Sink<C> {
    staged: StagedBlob,
    check: C,
}

impl<C: Check> Sink<C> {
    /// Checks and writes `data` on the blocking pool; a refused chunk drops the sink
    /// there, and with it the staged file.
    async fn write(mut self, data: Vec<u8>) -> Result<Self> {
        blocking(move || {
            self.check
                .feed(&data)
                .map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
            self.staged.write(&data)?;
            Ok(self)
        })
        .await?
    }
}

/// Runs `f` on the blocking pool.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|source| CoordinatorError::Task {
            what: "writing an upload",
            source,
        })
}

impl Coordinator {
    /// Receives the dataset `name` (`declared` bytes long, 0 if unknown), whose first
    /// chunk is `first` and the others `rest`, waiting for a dataset slot; stores it under
    /// its sha256 and records it. Refused (`NoRoom`) beyond the quota of unused datasets
    /// or the free-space reserve; refused (`Invalid`) if it is not a corpus. Answers its
    /// sha256 and size.
    pub(crate) async fn receive_dataset(
        &self,
        name: &str,
        declared: u64,
        first: Vec<u8>,
        rest: impl Stream<Item = Result<Vec<u8>>> + Send,
    ) -> Result<(String, u64)> {
        let what = format!("dataset {name}");
        if declared > MAX_DATASET_BYTES as u64 {
            return Err(CoordinatorError::Invalid(format!(
                "{what}: {declared} bytes is over the limit of {MAX_DATASET_BYTES}"
            )));
        }
        let uploads = &self.uploads;
        let _slot = uploads.dataset_slot().await;
        let unused = reads::unused_dataset_bytes(&self.store.pool, "").await?;
        uploads.check_quota(name, unused, declared)?;
        uploads.reserve.check(&what, declared)?;
        let mut counted = uploads.in_flight();
        let sink = Sink {
            staged: self.datasets.stage()?,
            check: TextCheck::new(name),
        };
        let limit = MAX_DATASET_BYTES as u64;
        let Sink { staged, check } = self
            .receive(&what, sink, first, rest, limit, |received, n| {
                if declared > 0 && received > declared {
                    return Err(CoordinatorError::Invalid(format!(
                        "{what}: more than the {declared} bytes announced arrived"
                    )));
                }
                counted.add(name, unused, n)
            })
            .await?;
        let n = check
            .finish()
            .map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
        if declared > 0 && n != declared {
            return Err(CoordinatorError::Invalid(format!(
                "{what}: {n} bytes arrived of the {declared} announced"
            )));
        }
        // From the rename to the row, no collection may take the blob.
        let _commit = uploads.commit_lock.lock().await;
        let sha = staged.sha256();
        let pool = &self.store.pool;
        if !reads::dataset_in_use(pool, &sha).await? {
            let others = reads::unused_dataset_bytes(pool, &sha).await?;
            uploads.within_quota(name, others.saturating_add(n))?;
        }
        let sha = blocking(move || staged.commit()).await??;
        let recorded = self
            .store
            .write(InsertDataset {
                sha256: sha.clone(),
                name: name.to_string(),
                bytes: n,
                builtin: false,
            })
            .await;
        if let Err(e) = recorded {
            // No row, no blob: unless an earlier upload of the same corpus has its row.
            if matches!(reads::dataset(pool, &sha).await, Ok(None)) {
                self.datasets.remove(&sha);
            }
            return Err(e);
        }
        self.count_upload("dataset", n);
        Ok((sha, n))
    }

    /// Counts a stored upload of `bytes` for Prometheus.
    fn count_upload(&self, kind: &'static str, bytes: u64) {
        let kind = crate::metrics::Kind { kind };
        self.metrics.uploads.get_or_create(&kind).inc();
        self.metrics.upload_bytes.get_or_create(&kind).inc_by(bytes);
    }

    /// Receives a checkpoint of `run` whose first chunk is `first` and the others `rest`;
    /// refused at once (`NoRoom`) when every checkpoint slot is taken or the disk is at its
    /// reserve, and (`Invalid`) if it is not a whole, intact checkpoint blob. Stores it
    /// under its sha256, which it answers; recording it is the caller's.
    pub(crate) async fn receive_checkpoint(
        &self,
        run: RunId,
        first: Vec<u8>,
        rest: impl Stream<Item = Result<Vec<u8>>> + Send,
    ) -> Result<String> {
        let what = format!("checkpoint of run {run}");
        let _slot = self.uploads.checkpoint_slot()?;
        self.uploads.reserve.check(&what, 0)?;
        let sink = Sink {
            staged: self.checkpoints.stage()?,
            check: BlobCheck::new(&format!("upload of run {run}")),
        };
        let limit = MAX_CHECKPOINT_BYTES as u64;
        let Sink { staged, check } = self
            .receive(&what, sink, first, rest, limit, |_, _| Ok(()))
            .await?;
        check
            .finish()
            .map_err(|e| CoordinatorError::Invalid(e.to_string()))?;
        let n = staged.len();
        let sha = blocking(move || staged.commit()).await??;
        self.count_upload("checkpoint", n);
        Ok(sha)
    }

    /// Writes `first` and then every chunk of `rest` into `sink`, each checked first: no
    /// larger than [`MAX_CHUNK`], the whole within `limit` bytes, `each(received, n)` (the
    /// caller's rules; `received` counts this chunk's `n` bytes), and the free-space
    /// reserve. Answers the sink once the stream ends.
    async fn receive<C: Check>(
        &self,
        what: &str,
        mut sink: Sink<C>,
        first: Vec<u8>,
        rest: impl Stream<Item = Result<Vec<u8>>> + Send,
        limit: u64,
        mut each: impl FnMut(u64, u64) -> Result<()>,
    ) -> Result<Sink<C>> {
        let mut rest = std::pin::pin!(rest);
        let mut next = Some(first);
        loop {
            let data = match next.take() {
                Some(data) => data,
                None => match rest.next().await {
                    None => return Ok(sink),
                    Some(Err(e)) => return Err(e),
                    Some(Ok(data)) => data,
                },
            };
            if data.is_empty() {
                continue;
            }
            let n = data.len() as u64;
            if data.len() > MAX_CHUNK {
                return Err(CoordinatorError::Invalid(format!(
                    "{what}: a chunk of {n} bytes is over the limit of {MAX_CHUNK}"
                )));
            }
            let received = sink.staged.len() + n;
            if received > limit {
                return Err(CoordinatorError::Invalid(format!(
                    "{what}: over the limit of {limit} bytes"
                )));
            }
            each(received, n)?;
            self.uploads.reserve.check(what, n)?;
            sink = sink.write(data).await?;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use gptsweep_core::checkpoint::CheckpointMeta;
    use gptsweep_core::{Corpus, Hyperparams, TokenizerKind};

    use super::*;
    use crate::CoordinatorConfig;
    use crate::blobs::sha256_hex;
    use crate::blobs::tests::files_in;
    use crate::uploads::UploadLimits;

    /// A coordinator on a fresh state directory in `dir`, with these upload limits.
    async fn coordinator(dir: &Path, limits: UploadLimits) -> Coordinator {
        let mut config = CoordinatorConfig::new(dir.to_path_buf());
        config.uploads = limits;
        Coordinator::open(config).await.unwrap()
    }

    /// `bytes` as the rest of an upload, in chunks of `size`.
    fn chunks(bytes: &[u8], size: usize) -> impl Stream<Item = Result<Vec<u8>>> + Send + use<> {
        let chunks: Vec<_> = bytes.chunks(size).map(|c| Ok(c.to_vec())).collect();
        tokio_stream::iter(chunks)
    }

    /// A checkpoint blob as a worker sends it (`Checkpoint::to_bytes`), with made-up
    /// weights: the coordinator checks the format and the hashes, not the model.
    fn checkpoint_blob() -> Vec<u8> {
        let corpus = Corpus::from_text(
            "t.txt",
            &"to be or not to be\n".repeat(30),
            TokenizerKind::Char,
        )
        .unwrap();
        let hp = Hyperparams {
            max_iters: 10,
            ..Hyperparams::default()
        };
        let (model, optim) = (vec![3u8; 5000], vec![4u8; 3000]);
        let mut meta = CheckpointMeta::new(&hp, &corpus, 5, Vec::new(), 0.5);
        meta.model_sha256 = sha256_hex(&model);
        meta.optim_sha256 = sha256_hex(&optim);
        let meta = serde_json::to_vec(&meta).unwrap();
        let mut blob = b"GPTSWCK1".to_vec();
        for part in [&meta, &model, &optim] {
            blob.extend_from_slice(&(part.len() as u64).to_le_bytes());
            blob.extend_from_slice(part);
        }
        blob
    }

    #[tokio::test]
    async fn a_streamed_checkpoint_is_stored_whole_and_a_damaged_or_cut_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let c = coordinator(dir.path(), UploadLimits::default()).await;
        let stored = dir.path().join("checkpoints");
        let blob = checkpoint_blob();
        let run = RunId(7);

        let mut damaged = blob.clone();
        let at = damaged.len() - 4000;
        damaged[at] ^= 1;
        let refused = c
            .receive_checkpoint(run, damaged[..100].to_vec(), chunks(&damaged[100..], 1000))
            .await
            .unwrap_err();
        assert_eq!(
            refused.to_string(),
            "checkpoint upload of run 7: corrupt: a blob's sha256 does not match its metadata"
        );
        assert!(matches!(refused, CoordinatorError::Invalid(_)));
        assert_eq!(files_in(&stored), Vec::<String>::new());

        let cut = c
            .receive_checkpoint(
                run,
                blob[..100].to_vec(),
                chunks(&blob[100..blob.len() - 1], 1000),
            )
            .await
            .unwrap_err();
        assert_eq!(
            cut.to_string(),
            "checkpoint upload of run 7: truncated inside optim.mpk"
        );
        let gone = tokio_stream::iter(vec![
            Ok(blob[100..2000].to_vec()),
            Err(CoordinatorError::Interrupted(tonic::Status::cancelled(
                "the worker went away",
            ))),
        ]);
        let interrupted = c
            .receive_checkpoint(run, blob[..100].to_vec(), gone)
            .await
            .unwrap_err();
        assert!(
            matches!(&interrupted, CoordinatorError::Interrupted(s) if s.code() == tonic::Code::Cancelled),
            "{interrupted}"
        );
        assert_eq!(files_in(&stored), Vec::<String>::new());

        let sha = c
            .receive_checkpoint(run, blob[..100].to_vec(), chunks(&blob[100..], 1000))
            .await
            .unwrap();
        assert_eq!(sha, sha256_hex(&blob));
        assert_eq!(files_in(&stored), vec![format!("{sha}.ckpt")]);
        assert_eq!(
            std::fs::read(stored.join(format!("{sha}.ckpt"))).unwrap(),
            blob
        );
        c.close().await;
    }

    #[tokio::test]
    async fn datasets_are_checked_as_they_stream_and_refused_past_the_quota() {
        let dir = tempfile::tempdir().unwrap();
        let limits = UploadLimits {
            dataset_quota: 10_000,
            ..UploadLimits::default()
        };
        let c = coordinator(dir.path(), limits).await;
        let stored = dir.path().join("datasets");
        let text = "é".repeat(3000);
        // Cut inside a character at every chunk: 6,000 bytes in chunks of 999.
        let (sha, n) = c
            .receive_dataset("a.txt", 6000, Vec::new(), chunks(text.as_bytes(), 999))
            .await
            .unwrap();
        assert_eq!(
            (sha.as_str(), n),
            (sha256_hex(text.as_bytes()).as_str(), 6000)
        );
        assert_eq!(
            reads::unused_dataset_bytes(&c.store.pool, "")
                .await
                .unwrap(),
            6000
        );

        let mut latin1 = "ab".repeat(2000).into_bytes();
        latin1[3001] = 0xe9;
        let not_text = c
            .receive_dataset("l.txt", 0, Vec::new(), chunks(&latin1, 1000))
            .await
            .unwrap_err();
        assert_eq!(
            not_text.to_string(),
            "dataset l.txt: not UTF-8 text: invalid byte at offset 3001"
        );
        let over = |announced| {
            c.receive_dataset("b.txt", announced, Vec::new(), chunks(&[b'x'; 5000], 1000))
        };
        let refused = over(5000).await.unwrap_err();
        assert!(matches!(refused, CoordinatorError::NoRoom(_)), "{refused}");
        assert!(
            refused
                .to_string()
                .starts_with("dataset b.txt refused: uploaded datasets no sweep uses yet would total 10.7 KiB (11000 bytes), over the quota of 9.8 KiB (10000 bytes, --dataset-quota)"),
            "{refused}"
        );
        // Not announced, it is refused once its bytes pass the quota.
        let refused = over(0).await.unwrap_err();
        assert!(matches!(refused, CoordinatorError::NoRoom(_)), "{refused}");
        let short = c
            .receive_dataset("c.txt", 3000, Vec::new(), chunks(&[b'x'; 2000], 1000))
            .await
            .unwrap_err();
        assert_eq!(
            short.to_string(),
            "dataset c.txt: 2000 bytes arrived of the 3000 announced"
        );
        assert_eq!(files_in(&stored), vec![format!("{sha}.txt")]);
        c.close().await;
    }

    #[tokio::test]
    async fn an_upload_that_would_cross_the_disk_reserve_is_refused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let free = crate::disk_space::space(dir.path()).unwrap().unwrap().free;
        let limits = UploadLimits {
            disk_reserve: Some(free.saturating_sub(8 << 20)),
            ..UploadLimits::default()
        };
        let c = coordinator(dir.path(), limits).await;
        // Not announced: refused before the chunk that would cross the reserve (or before
        // the first, if the filesystem filled meanwhile).
        let bytes = vec![b'x'; 64 << 20];
        let refused = c
            .receive_dataset("big.txt", 0, Vec::new(), chunks(&bytes, 1 << 20))
            .await
            .unwrap_err();
        assert!(matches!(refused, CoordinatorError::NoRoom(_)), "{refused}");
        assert!(refused.to_string().contains("--disk-reserve"), "{refused}");
        assert_eq!(files_in(&dir.path().join("datasets")), Vec::<String>::new());
        c.close().await;

        // A checkpoint is refused before any of it is read when the reserve is crossed.
        let dir = tempfile::tempdir().unwrap();
        let limits = UploadLimits {
            disk_reserve: Some(free + (1 << 30)),
            ..UploadLimits::default()
        };
        let c = coordinator(dir.path(), limits).await;
        let blob = checkpoint_blob();
        let refused = c
            .receive_checkpoint(RunId(1), blob.clone(), chunks(&[], 1))
            .await
            .unwrap_err();
        assert!(matches!(refused, CoordinatorError::NoRoom(_)), "{refused}");
        assert!(
            refused
                .to_string()
                .starts_with("checkpoint of run 1 refused: "),
            "{refused}"
        );
        assert_eq!(
            files_in(&dir.path().join("checkpoints")),
            Vec::<String>::new()
        );
        c.close().await;
    }
}
