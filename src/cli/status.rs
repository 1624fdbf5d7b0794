//! `gptsweep status SWEEP [--watch]`: counts by state and the best run so far, and the
//! queued runs no live worker's device has the memory for; with --watch, a live progress
//! bar until the sweep ends (plain lines where stderr is not a terminal), riding out a
//! coordinator that restarts.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use gptsweep_api::{MemoryShortfall, Method, SweepState, SweepStatus};
use gptsweep_proto::pb;
use gptsweep_worker::backoff::Backoff;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;

use super::connect::Remote;
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

/// How long `status --watch` keeps trying a coordinator that does not answer (a restart
/// takes seconds; a coordinator gone for longer than this is an outage to report).
const OUTAGE_LIMIT: Duration = Duration::from_secs(600);

/// The longest wait between tries of an unreachable coordinator.
const RETRY_CAP: Duration = Duration::from_secs(5);

/// Fetches a sweep's status.
pub async fn fetch(ctx: &mut Ctx, sweep: &str) -> anyhow::Result<SweepStatus> {
    let reply = ctx
        .client
        .sweep_status(pb::SweepRef {
            sweep: sweep.to_string(),
        })
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    Ok(SweepStatus::try_from(&reply)?)
}

/// A sweep's progress: one line (and one more for runs too large for every device), or
/// the sweep summary with `too_large`.
pub struct StatusDoc<'a>(pub &'a SweepStatus);

/// Says that `m`'s runs fit no live worker's device, and what they wait for.
fn too_large_line(m: &MemoryShortfall) -> String {
    format!(
        "{} queued run{} need{} more memory than any live worker's device has (at least {} to \
         train; the largest device offers {}): not leased until a worker with a larger device \
         (or a higher --device-memory) joins",
        m.runs,
        if m.runs == 1 { "" } else { "s" },
        if m.runs == 1 { "s" } else { "" },
        table::bytes(m.needs_bytes),
        table::bytes(m.largest_device_bytes)
    )
}

impl Document for StatusDoc<'_> {
    fn text(&self) -> String {
        let too_large = self
            .0
            .too_large
            .as_ref()
            .map(|m| format!("  {}\n", too_large_line(m)))
            .unwrap_or_default();
        let s = &self.0.summary;
        let r = &s.runs;
        // Only a tpe sweep makes runs after submit; the others made all of theirs then.
        let proposed = match s.method {
            Method::Tpe => format!(
                " ({} of {} proposed)",
                s.proposed,
                table::plural(s.run_cap.into(), "run")
            ),
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
        ) + &too_large
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
/// evaluations on a terminal, else (nohup, Slurm, CI) plain lines on stderr. A coordinator
/// that answered and then stops (restarting, or down) is tried again with backoff for up
/// to [`OUTAGE_LIMIT`], said once on stderr when it goes and once when it is back; any
/// other error, or a coordinator never reached, ends the watch.
pub async fn watch(ctx: &mut Ctx, sweep: &str) -> anyhow::Result<SweepStatus> {
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
    let mut answered = false;
    let mut outage: Option<(Instant, Backoff)> = None;
    let mut told_too_large = false;
    loop {
        let status = match fetch(ctx, sweep).await {
            Ok(status) => status,
            // A coordinator never reached is an address to fix, said at once; one that
            // answered before and stops is restarting or briefly down.
            Err(e) if answered && unreachable(&e) => {
                let (since, backoff) = outage.get_or_insert_with(|| {
                    bar.suspend(|| {
                        eprintln!(
                            "{}; retrying for up to {} minutes",
                            super::terminal::escape_line(&format!("{e:#}")),
                            OUTAGE_LIMIT.as_secs() / 60
                        )
                    });
                    (Instant::now(), Backoff::new(RETRY_CAP))
                });
                if since.elapsed() >= OUTAGE_LIMIT {
                    return Err(e);
                }
                backoff.wait().await;
                continue;
            }
            Err(e) => return Err(e),
        };
        answered = true;
        if let Some((since, _)) = outage.take() {
            bar.suspend(|| {
                eprintln!(
                    "the coordinator at {} answers again (after {:.0}s)",
                    ctx.url,
                    since.elapsed().as_secs_f64()
                )
            });
        }
        match &status.too_large {
            Some(m) if !told_too_large => {
                let name = super::terminal::escape_line(sweep);
                bar.suspend(|| eprintln!("{name}: {}", too_large_line(m)));
                told_too_large = true;
            }
            Some(_) => {}
            None => told_too_large = false,
        }
        let s = &status.summary;
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
                    "[{:>6.0}s] {}: {line}",
                    started.elapsed().as_secs_f64(),
                    super::terminal::escape_line(sweep)
                );
                last = Some((Instant::now(), line));
            }
        }
        bar.set_message(message);
        if done {
            bar.finish_and_clear();
            return Ok(status);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Whether `e` says that the coordinator did not answer (down, restarting, unreachable),
/// which a watch rides out, rather than that it answered with an error.
fn unreachable(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Remote>()
        .is_some_and(|r| r.code == tonic::Code::Unavailable)
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
