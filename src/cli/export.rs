//! `gptsweep export RUN --out DIR`: a stored run's latest checkpoint as a directory, the
//! same one `train --out` writes, for `sample --checkpoint DIR` and `train --resume DIR`.

use std::path::PathBuf;

use serde::Serialize;

use super::bad_input::ensure;
use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::run_checkpoint::fetch;

/// Flags of `gptsweep export`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Run id (from `top`).
    pub run: i64,
    /// Directory to write; it must not exist, or be empty.
    #[arg(long)]
    pub out: PathBuf,
}

#[derive(Serialize)]
struct Exported {
    run: i64,
    step: u64,
    sha256: String,
    out: PathBuf,
    /// Whether this machine had it already (nothing was downloaded).
    from_cache: bool,
}

impl Document for Exported {
    fn text(&self) -> String {
        let out = self.out.display();
        format!(
            "run {}: its checkpoint at step {} is in {out}\n  gptsweep sample --checkpoint {out}\n  gptsweep train --resume {out} ...\n",
            self.run, self.step
        )
    }

    fn json(&self) -> serde_json::Value {
        to_json(self)
    }
}

/// Runs `gptsweep export`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let empty = match std::fs::read_dir(&args.out) {
        Ok(mut entries) => entries.next().is_none(),
        Err(e) => e.kind() == std::io::ErrorKind::NotFound,
    };
    ensure(empty, || {
        format!(
            "--out {}: exists and is not an empty directory; name a new one",
            args.out.display()
        )
    })?;
    let fetched = fetch(&mut ctx, args.run).await?;
    fetched.checkpoint.save(&args.out)?;
    ctx.print(&Exported {
        run: args.run,
        step: fetched.step,
        sha256: fetched.sha256,
        out: args.out,
        from_cache: fetched.cached,
    })
}
