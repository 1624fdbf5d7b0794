//! A stored run's checkpoint on this machine, for `sample RUN` and `export RUN`: fetched
//! from the coordinator (`FetchRunCheckpoint`) and kept in the checkpoint cache under its
//! sha256, with a note of which blob each coordinator's run had last. Asking again sends
//! that sha256; while the run's latest checkpoint is still that one, nothing is
//! downloaded. Bytes are checked against their hash before they are kept or used (a
//! cached copy that no longer matches is fetched again); a run's newer checkpoint
//! replaces its older one in the cache.

use std::path::{Path, PathBuf};

use gptsweep_coordinator::blobs::sha256_hex;
use gptsweep_gpt::Checkpoint;
use gptsweep_proto::pb;

use super::ctx::Ctx;
use super::paths::checkpoint_cache_dir;

/// A run's checkpoint as fetched.
pub struct Fetched {
    /// The checkpoint, verified.
    pub checkpoint: Checkpoint,
    /// Its blob's sha256.
    pub sha256: String,
    /// Completed steps it holds.
    pub step: u64,
    /// Whether it came from the cache.
    pub cached: bool,
}

/// The note of the blob that run `run` of the coordinator at `url` had last.
fn note(dir: &Path, url: &str, run: i64) -> PathBuf {
    let coordinator = &sha256_hex(url.as_bytes())[..16];
    dir.join("runs").join(format!("{coordinator}-{run}"))
}

/// Writes `bytes` to `path` whole or not at all (a failed write leaves nothing behind).
fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension(format!("partial-{}", std::process::id()));
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// Fetches the latest checkpoint of `run`, from the cache when it is current.
pub async fn fetch(ctx: &mut Ctx, run: i64) -> anyhow::Result<Fetched> {
    let dir = checkpoint_cache_dir();
    let note = note(&dir, &ctx.url, run);
    // The blob the note names, if it is still there and whole.
    let noted = std::fs::read_to_string(&note)
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|sha| sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
    let cached = noted.as_ref().and_then(|sha| {
        std::fs::read(dir.join(sha))
            .ok()
            .filter(|bytes| sha256_hex(bytes) == *sha)
            .map(|bytes| (sha.clone(), bytes))
    });
    let cached_sha256 = cached
        .as_ref()
        .map(|(sha, _)| sha.clone())
        .unwrap_or_default();
    let mut stream = ctx
        .client
        .fetch_run_checkpoint(pb::RunCheckpointRequest {
            run_id: run,
            cached_sha256,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    let head = stream
        .message()
        .await
        .map_err(|s| ctx.err(s))?
        .ok_or_else(|| anyhow::anyhow!("run {run}: the coordinator sent no checkpoint"))?;
    let bytes = if head.cached {
        cached.map(|(_, bytes)| bytes).ok_or_else(|| {
            anyhow::anyhow!(
                "run {run}: the coordinator said a copy is cached, but none was offered"
            )
        })?
    } else {
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.message().await.map_err(|s| ctx.err(s))? {
            bytes.extend_from_slice(&chunk.data);
        }
        let got = sha256_hex(&bytes);
        anyhow::ensure!(
            got == head.sha256,
            "run {run}: the checkpoint arrived corrupt (sha256 {got}, expected {})",
            head.sha256
        );
        // A cache that cannot be written costs a download next time, nothing else.
        if let Err(e) = write_atomic(&dir.join(&head.sha256), &bytes)
            .and_then(|()| write_atomic(&note, head.sha256.as_bytes()))
        {
            tracing::warn!("not caching the checkpoint in {}: {e}", dir.display());
        } else if let Some(old) = noted.filter(|old| *old != head.sha256) {
            // The run's older checkpoint: a newer one replaces it (a run elsewhere with the
            // very same bytes would fetch them again).
            let _ = std::fs::remove_file(dir.join(old));
        }
        bytes
    };
    let checkpoint = Checkpoint::from_bytes(&bytes, &format!("checkpoint of run {run}"))?;
    Ok(Fetched {
        checkpoint,
        sha256: head.sha256,
        step: head.step,
        cached: head.cached,
    })
}
