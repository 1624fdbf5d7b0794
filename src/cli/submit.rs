//! `gptsweep submit FILE`: check the file here (line:column errors before any network),
//! upload its dataset if it is a local path, and queue the sweep.

use std::path::{Path, PathBuf};

use gptsweep_api::Submitted;
use gptsweep_coordinator::datasets::MAX_DATASET_BYTES;
use gptsweep_coordinator::sweep::{DatasetRef, parse_sweep};
use gptsweep_gpt::input_file::{MAX_SWEEP_FILE_BYTES, read_bounded, read_bounded_text};
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
            "submitted sweep {} (id {}): {} runs\n",
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

/// A sweep file read and checked here, with its dataset file if it names one: everything
/// a submit sends, read bounded before anything is sent or created.
pub struct SweepInput {
    /// The file's name as the user gave it.
    file_name: String,
    /// The file's text.
    yaml: String,
    /// The dataset's file name and bytes, when the sweep names a file.
    dataset: Option<(String, Vec<u8>)>,
}

impl SweepInput {
    /// Reads and checks `file` and reads its dataset file: each a regular file within its
    /// limit (the dataset within the coordinator's upload limit), else bad input.
    pub fn read(file: &Path) -> anyhow::Result<Self> {
        let file_name = file.display().to_string();
        let yaml = read_bounded_text("sweep file", file, MAX_SWEEP_FILE_BYTES)?;
        let spec = parse_sweep(&file_name, &yaml)?;
        let dataset = match &spec.dataset {
            DatasetRef::Path(p) => {
                let path = dataset_path(file, p);
                let bytes = read_bounded(
                    &format!("{file_name}: dataset"),
                    &path,
                    MAX_DATASET_BYTES as u64,
                )?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                Some((name, bytes))
            }
            DatasetRef::Builtin(_) => None,
        };
        Ok(Self {
            file_name,
            yaml,
            dataset,
        })
    }
}

/// Uploads the dataset of `input`, if any, and submits the sweep.
pub async fn submit_input(ctx: &mut Ctx, input: SweepInput) -> anyhow::Result<Submitted> {
    let mut sha = String::new();
    if let Some((name, bytes)) = input.dataset {
        let size = bytes.len() as u64;
        let chunks: Vec<pb::DatasetUpload> = bytes
            .chunks(1 << 20)
            .enumerate()
            .map(|(i, c)| pb::DatasetUpload {
                name: if i == 0 { name.clone() } else { String::new() },
                data: c.to_vec(),
                bytes: if i == 0 { size } else { 0 },
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
            file_name: input.file_name,
            yaml: input.yaml,
            dataset_sha256: sha,
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    Ok(Submitted::from(&reply))
}

/// Runs `gptsweep submit`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let input = SweepInput::read(&args.file)?;
    let s = submit_input(&mut ctx, input).await?;
    ctx.print(&SubmittedDoc(s))
}
