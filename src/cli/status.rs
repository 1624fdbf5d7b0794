//! `gptsweep status SWEEP [--watch]`: counts by state and the best run so far; with
//! --watch, a live progress bar until the sweep ends (plain lines where stderr is not a
//! terminal).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use gptsweep_api::{Method, SweepState, SweepSummary};
use gptsweep_proto::pb;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::ctx::Ctx;
use super::output::{Document, to_json};
use super::table;

/// Flags of `gptsweep status`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sweep name or id.
    pub sweep: String,
    /// Refresh until the sweep ends.
    #[arg(long)]
    pub watch: bool,
}

/// Fetches a sweep's status.
pub async fn fetch(ctx: &mut Ctx, sweep: &str) -> anyhow::Result<SweepSummary> {
    let reply = ctx
        .client
        .sweep_status(pb::SweepRef {
            sweep: sweep.to_string(),
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    Ok(SweepSummary::try_from(&reply)?)
}

/// A sweep's progress: one line, or the sweep summary.
pub struct StatusDoc<'a>(pub &'a SweepSummary);

impl Document for StatusDoc<'_> {
    fn text(&self) -> String {
        let s = self.0;
        let r = &s.runs;
        // Only a tpe sweep makes runs after submit; the others made all of theirs then.
        let proposed = match s.method {
            Method::Tpe => format!(" ({} of {} runs proposed)", s.proposed, s.run_cap),
            Method::Grid | Method::Random => String::new(),
        };
        format!(
            "{} [{}]{proposed}: {} queued, {} running, {} finished, {} failed, {} stopped, {} cancelled; evals {}/{}; best {} {}\n",
            s.name,
            s.state,
            r.queued,
            r.running,
            r.finished,
            r.failed,
            r.stopped,
            r.cancelled,
            s.evals_stored,
            s.evals_expected,
            s.metric,
            match (s.best, s.best_run) {
                (Some(b), Some(run)) => format!("{b:.4} (run {run})"),
                _ => "-".into(),
            }
        )
    }

    fn json(&self) -> Value {
        to_json(self.0)
    }
}

/// Plain progress lines (stderr not a terminal): at most one this often while the sweep
/// moves...
const PLAIN_EVERY: Duration = Duration::from_secs(10);
/// ...and one this often while it does not, so that a log never falls silent.
const PLAIN_QUIET: Duration = Duration::from_secs(60);

/// Shows the sweep's progress until it is no longer running: a live bar over its
/// evaluations on a terminal, else (nohup, Slurm, CI) plain lines on stderr.
pub async fn watch(ctx: &mut Ctx, sweep: &str) -> anyhow::Result<SweepSummary> {
    let plain = !std::io::stderr().is_terminal();
    let bar = if plain {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30.green/white} {pos}/{len} evals  {msg}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    let started = Instant::now();
    let mut last: Option<(Instant, String)> = None;
    loop {
        let s = fetch(ctx, sweep).await?;
        bar.set_length(s.evals_expected.max(1));
        bar.set_position(s.evals_stored);
        let r = &s.runs;
        let message = format!(
            "runs: {}/{} made, {} queued, {} running, {} finished, {} stopped, {} failed | best {}",
            s.proposed,
            s.run_cap,
            r.queued,
            r.running,
            r.finished,
            r.stopped,
            r.failed,
            table::loss(s.best)
        );
        let done = s.state != SweepState::Running;
        if plain {
            let line = format!("{}/{} evals  {message}", s.evals_stored, s.evals_expected);
            let due = match &last {
                None => true,
                Some((at, said)) if *said != line => done || at.elapsed() >= PLAIN_EVERY,
                Some((at, _)) => at.elapsed() >= PLAIN_QUIET,
            };
            if due {
                eprintln!(
                    "[{:>6.0}s] {sweep}: {line}",
                    started.elapsed().as_secs_f64()
                );
                last = Some((Instant::now(), line));
            }
        }
        bar.set_message(message);
        if done {
            bar.finish_and_clear();
            return Ok(s);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Runs `gptsweep status`.
pub async fn run(args: Args, mut ctx: Ctx) -> anyhow::Result<()> {
    let s = if args.watch {
        watch(&mut ctx, &args.sweep).await?
    } else {
        fetch(&mut ctx, &args.sweep).await?
    };
    ctx.print(&StatusDoc(&s))
}
