//! `gptsweep export`: a checkpoint, a stored run's latest (`export RUN`) or a directory
//! (`export --checkpoint DIR`), written out for another program. `--format dir` (the
//! default) writes the directory `train --out` writes, for `sample --checkpoint DIR` and
//! `train --resume DIR`; `--format safetensors` writes the model alone as one safetensors
//! file under a PyTorch GPT's state_dict names (`--layout`), with the architecture and
//! vocabulary in its metadata ([`gptsweep_gpt::export`]).

use std::path::{Path, PathBuf};

use gptsweep_gpt::Checkpoint;
use gptsweep_gpt::export::{Layout, to_safetensors};
use serde::Serialize;

use super::bad_input::{BadInput, ensure};
use super::ctx::Ctx;
use super::output::{Document, OutputMode, print, to_json};
use super::run_checkpoint::fetch;

/// Flags of `gptsweep export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id (from `top`): its latest checkpoint, from the coordinator.
    #[arg(conflicts_with = "checkpoint", required_unless_present = "checkpoint")]
    pub run: Option<i64>,
    /// A checkpoint directory instead (the --out of train, or of export).
    #[arg(long)]
    pub checkpoint: Option<PathBuf>,
    /// Where to write: a new (or empty) directory for `dir`, a new file for `safetensors`.
    #[arg(long)]
    pub out: PathBuf,
    /// `dir`: the checkpoint as train writes it; `safetensors`: the model's weights for
    /// PyTorch, with its architecture and vocabulary in the metadata.
    #[arg(long, value_enum, default_value_t = Format::Dir)]
    pub format: Format,
    /// The PyTorch names of a safetensors file: `lecture` (the lecture's gpt.py, a module
    /// per head) or `fused` (bench/torch_gpt.py, one qkv projection) [default: lecture].
    #[arg(long, value_enum)]
    pub layout: Option<LayoutArg>,
}

/// What `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// A checkpoint directory.
    Dir,
    /// One safetensors file of the model's weights.
    Safetensors,
}

/// `--layout`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LayoutArg {
    /// The lecture's gpt.py: `token_embedding_table`, `blocks.N.sa.heads.H.key`, ...
    Lecture,
    /// bench/torch_gpt.py: `tok`, `blocks.N.attn.qkv`, ...
    Fused,
}

impl From<LayoutArg> for Layout {
    fn from(l: LayoutArg) -> Self {
        match l {
            LayoutArg::Lecture => Layout::Lecture,
            LayoutArg::Fused => Layout::Fused,
        }
    }
}

#[derive(Serialize)]
struct Exported {
    #[serde(skip_serializing_if = "Option::is_none")]
    run: Option<i64>,
    step: u64,
    format: Format,
    #[serde(skip_serializing_if = "Option::is_none")]
    layout: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    out: PathBuf,
    /// Whether this machine had it already (nothing was downloaded).
    #[serde(skip_serializing_if = "Option::is_none")]
    from_cache: Option<bool>,
}

impl Document for Exported {
    fn text(&self) -> String {
        let out = self.out.display();
        let whose = match self.run {
            Some(run) => format!("run {run}: its"),
            None => "the".to_string(),
        };
        match self.format {
            Format::Dir => format!(
                "{whose} checkpoint at step {} is in {out}\n  gptsweep sample --checkpoint {out}\n  gptsweep train --resume {out} ...\n",
                self.step
            ),
            Format::Safetensors => format!(
                "{whose} model at step {} is in {out} ({} layout; architecture and vocabulary in its metadata)\n  \
                 from safetensors.torch import load_file; model.load_state_dict(load_file(\"{out}\"))\n",
                self.step,
                self.layout.unwrap_or_default()
            ),
        }
    }

    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

/// Refuses flags that do not go together, and an `--out` that would overwrite something,
/// before anything is fetched or read.
fn check(args: &Args) -> Result<(), BadInput> {
    ensure(
        args.format == Format::Safetensors || args.layout.is_none(),
        || "--layout applies to --format safetensors only".into(),
    )?;
    match args.format {
        Format::Dir => {
            let empty = match std::fs::read_dir(&args.out) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) => e.kind() == std::io::ErrorKind::NotFound,
            };
            ensure(empty, || {
                format!(
                    "--out {}: exists and is not an empty directory; name a new one",
                    args.out.display()
                )
            })
        }
        Format::Safetensors => ensure(std::fs::symlink_metadata(&args.out).is_err(), || {
            format!(
                "--out {}: exists; name a new file (export does not overwrite)",
                args.out.display()
            )
        }),
    }
}

/// Writes `checkpoint` to `args.out` in `args.format`.
fn write(args: &Args, checkpoint: &Checkpoint) -> anyhow::Result<()> {
    match args.format {
        Format::Dir => checkpoint.save(&args.out)?,
        Format::Safetensors => {
            let layout = args.layout.map_or_else(Layout::default, Layout::from);
            let bytes = to_safetensors(checkpoint, layout)?;
            write_new(&args.out, &bytes).map_err(|e| {
                BadInput(format!(
                    "--out {}: cannot write it: {e}",
                    args.out.display()
                ))
            })?;
        }
    }
    Ok(())
}

/// Writes `bytes` to the new file `path` whole or not at all.
fn write_new(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut name = path
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".partial-{}", std::process::id()));
    let tmp = path.with_file_name(name);
    let written = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

fn report(args: &Args, step: usize) -> Exported {
    Exported {
        run: args.run,
        step: step as u64,
        format: args.format,
        layout: (args.format == Format::Safetensors).then(|| {
            args.layout
                .map_or_else(Layout::default, Layout::from)
                .name()
        }),
        sha256: None,
        out: args.out.clone(),
        from_cache: None,
    }
}

/// Runs `gptsweep export --checkpoint DIR`: no coordinator.
pub fn run_local(args: Args, output: OutputMode) -> anyhow::Result<()> {
    check(&args)?;
    let dir = args
        .checkpoint
        .as_deref()
        .expect("clap requires --checkpoint without a run");
    let checkpoint = Checkpoint::load(dir)?;
    write(&args, &checkpoint)?;
    print(output, &report(&args, checkpoint.meta.step))
}

/// Runs `gptsweep export RUN`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    check(&args)?;
    let run = args.run.expect("clap requires a run without --checkpoint");
    let fetched = fetch(&mut ctx, run).await?;
    tokio::task::block_in_place(|| write(&args, &fetched.checkpoint))?;
    ctx.print(&Exported {
        sha256: Some(fetched.sha256),
        from_cache: Some(fetched.cached),
        step: fetched.step,
        ..report(&args, 0)
    })
}
