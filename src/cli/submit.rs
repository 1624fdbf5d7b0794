//! `gptsweep submit FILE`: check and plan the file here (every problem at its line and
//! column before any network), say its size (runs, parameters, tokens, estimated time;
//! `--dry-run` stops there, a big sweep asks for `--yes`), upload its dataset if it is a
//! local path, and queue the sweep.

use std::path::{Path, PathBuf};

use gptsweep_api::Submitted;
use gptsweep_api::transfer::chunked;
use gptsweep_coordinator::datasets::{MAX_DATASET_BYTES, builtin_by_sha, builtin_sha};
use gptsweep_coordinator::sweep::{DatasetRef, Estimate, check_and_plan};
use gptsweep_gpt::input_file::{MAX_SWEEP_FILE_BYTES, read_bounded, read_bounded_text};
use gptsweep_proto::pb;
use serde_json::Value;

use super::bad_input::BadInput;
use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::sweep_plan::{DryRunDoc, confirm, estimate_json};

/// Flags of `gptsweep submit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sweep file (YAML).
    pub file: PathBuf,
    /// Check, plan and print the estimate; store nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Submit even when the estimate is over 2 hours on the CPU reference (scripts: GPTSWEEP_YES=1).
    #[arg(long, env = "GPTSWEEP_YES", value_parser = clap::builder::FalseyValueParser::new())]
    pub yes: bool,
    /// The sweep's name [the file's `name:`, else its file name]: to submit the same file
    /// again beside the first.
    #[arg(long)]
    pub name: Option<String>,
}

/// What a submit queued: its estimate and a line, or `{id, name, runs, estimate}`.
struct SubmittedDoc<'a>(Submitted, &'a Estimate);

impl Document for SubmittedDoc<'_> {
    fn text(&self) -> String {
        let s = &self.0;
        format!(
            "{}submitted sweep {} (id {}): {}\n",
            self.1.text(&s.name),
            s.name,
            s.id,
            self.1.runs_text()
        )
    }

    fn json(&self) -> Value {
        let mut v = to_json(&self.0);
        v["queued"] = self.1.queued.into();
        v["later"] = self.1.later.into();
        v["dropped"] = self.1.dropped.into();
        v["estimate"] = estimate_json(self.1);
        v
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
    /// The sweep's name.
    pub name: String,
    /// Its size, as planned here.
    pub estimate: Estimate,
    /// Whether `name` was given (`--name`) rather than the file's.
    renamed: bool,
    /// Whether any run may train in bf16 (`precision:` fixed or swept).
    pub bf16: bool,
}

impl SweepInput {
    /// Reads and checks `file` and reads its dataset file: each a regular file within its
    /// limit (the dataset within the coordinator's upload limit), else bad input.
    pub fn read(file: &Path) -> anyhow::Result<Self> {
        let file_name = file.display().to_string();
        let yaml = read_bounded_text("sweep file", file, MAX_SWEEP_FILE_BYTES)?;
        let mut dataset = None;
        let checked = check_and_plan(&file_name, &yaml, |d| match d {
            DatasetRef::Builtin(name) => {
                let sha = builtin_sha(name);
                let text = builtin_by_sha(sha).ok_or_else(|| format!("no built-in {name}"))?;
                Ok((sha.to_string(), text.as_bytes().to_vec()))
            }
            DatasetRef::Path(p) => {
                let path = dataset_path(file, p);
                let bytes = read_bounded("dataset", &path, MAX_DATASET_BYTES as u64)
                    .map_err(|e| format!("{e:#}"))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                dataset = Some((name, bytes.clone()));
                Ok((gptsweep_coordinator::datasets::sha256_hex(&bytes), bytes))
            }
        })?;
        let bf16 = checked.spec.may_train_in(gptsweep_gpt::Precision::Bf16);
        Ok(Self {
            file_name,
            yaml,
            dataset,
            name: checked.spec.name,
            estimate: gptsweep_coordinator::sweep::Estimate::of(&checked.plan, &checked.shapes),
            renamed: false,
            bf16,
        })
    }

    /// Names the sweep `name` instead of what the file says; a name that breaks the rule
    /// of a sweep's name is bad input.
    pub fn rename(&mut self, name: &str) -> Result<(), BadInput> {
        if let Some(problem) = gptsweep_coordinator::sweep::name_problem(name) {
            return Err(BadInput(format!("--name: {problem}")));
        }
        self.name = name.to_string();
        self.renamed = true;
        Ok(())
    }

    /// The file's name as the user gave it.
    pub fn file_name(&self) -> &str {
        &self.file_name
    }
}

/// Uploads the dataset of `input`, if any, and submits the sweep.
pub async fn submit_input(ctx: &mut Ctx, input: SweepInput) -> anyhow::Result<Submitted> {
    let mut sha = String::new();
    if let Some((name, bytes)) = input.dataset {
        let size = bytes.len() as u64;
        let chunks = chunked(&bytes, |first, data| pb::DatasetUpload {
            name: if first { name.clone() } else { String::new() },
            data,
            bytes: if first { size } else { 0 },
        });
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
            name: if input.renamed {
                input.name
            } else {
                String::new()
            },
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    Ok(Submitted::from(&reply))
}

/// Runs `gptsweep submit`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let mut input = SweepInput::read(&args.file)?;
    if let Some(name) = &args.name {
        input.rename(name)?;
    }
    let estimate = input.estimate.clone();
    if args.dry_run {
        return ctx.print(&DryRunDoc {
            name: &input.name,
            estimate: &estimate,
        });
    }
    confirm(&input.file_name, &estimate, args.yes)?;
    let s = submit_input(&mut ctx, input).await?;
    ctx.print(&SubmittedDoc(s, &estimate))
}
