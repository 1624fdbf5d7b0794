//! `gptsweep submit FILE`: check the file here (line:column errors before any network),
//! upload its dataset if it is a local path, and queue the sweep.

use std::path::{Path, PathBuf};

use gptsweep_api::Submitted;
use gptsweep_coordinator::sweep::{DatasetRef, parse_sweep};
use gptsweep_proto::pb;
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};

/// Flags of `gptsweep submit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sweep file (YAML).
    pub file: PathBuf,
}

/// What a submit queued: a line, or `{id, name, runs}`.
struct SubmittedDoc(Submitted);

impl Document for SubmittedDoc {
    fn text(&self) -> String {
        let s = &self.0;
        format!(
            "submitted sweep {} (id {}): {} runs queued\n",
            s.name, s.id, s.runs
        )
    }

    fn json(&self) -> Value {
        to_json(&self.0)
    }
}

/// A dataset path of a sweep file resolves against the file's directory.
pub fn dataset_path(file: &Path, dataset: &str) -> PathBuf {
    let p = Path::new(dataset);
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        file.parent().unwrap_or(Path::new(".")).join(p)
    }
}

/// Reads, checks, uploads and submits `file`.
pub async fn submit_file(ctx: &mut Ctx, file: &Path) -> anyhow::Result<Submitted> {
    let file_name = file.display().to_string();
    let yaml = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{file_name}: {e}"))?;
    let spec = parse_sweep(&file_name, &yaml)?;
    let mut sha = String::new();
    if let DatasetRef::Path(p) = &spec.dataset {
        let path = dataset_path(file, p);
        let bytes = std::fs::read(&path)
            .map_err(|e| anyhow::anyhow!("{file_name}: dataset {}: {e}", path.display()))?;
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let chunks: Vec<pb::DatasetUpload> = bytes
            .chunks(1 << 20)
            .enumerate()
            .map(|(i, c)| pb::DatasetUpload {
                name: if i == 0 { name.clone() } else { String::new() },
                data: c.to_vec(),
            })
            .collect();
        let reply = ctx
            .client
            .upload_dataset(tokio_stream::iter(chunks))
            .await
            .map_err(|s| ctx.err(s))?
            .into_inner();
        sha = reply.sha256;
    }
    let reply = ctx
        .client
        .submit(pb::SubmitRequest {
            file_name,
            yaml,
            dataset_sha256: sha,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    Ok(Submitted::from(&reply))
}

/// Runs `gptsweep submit`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let s = submit_file(&mut ctx, &args.file).await?;
    ctx.print(&SubmittedDoc(s))
}
