//! `gptsweep local FILE`: a coordinator and a worker in this process, on loopback gRPC
//! (the same code paths as a cluster), running one sweep to its end, then its leaderboard
//! and samples. Its size (runs, parameters, tokens, estimated time) is said first;
//! `--dry-run` stops there and a big sweep asks for `--yes`.
//!
//! Its state stays where the next command finds it ([`super::local_state`]): every run adds
//! its sweep beside the earlier ones (under a fresh name, `NAME-2`, when the file's is
//! taken), and its last lines say how to look again.

use std::path::PathBuf;

use gptsweep_coordinator::{Coordinator, CoordinatorConfig};
use serde_json::json;

use super::ctx::Ctx;
use super::output::{Document, OutputMode, print};
use super::paths::default_cache_dir;
use super::samples::SamplesDoc;
use super::status::StatusDoc;
use super::sweep_plan::{DryRunDoc, confirm, estimate_json};
use super::top::TopDoc;
use super::{local_state, status, submit, top};

/// Flags of `gptsweep local`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The sweep file (YAML).
    pub file: PathBuf,
    /// Keep the state here (database, datasets), beside the sweeps of earlier runs
    /// [$GPTSWEEP_LOCAL_STATE_DIR, else $XDG_DATA_HOME/gptsweep/local, else
    /// ~/.local/share/gptsweep/local: where `top`, `show`, `dashboard` ... look when no
    /// coordinator is given].
    #[arg(long)]
    pub state_dir: Option<PathBuf>,
    /// Devices of the local worker: cpu, cuda, cuda:0,cuda:1, wgpu, wgpu:N ...
    #[arg(long, default_value = "cpu")]
    pub devices: String,
    /// Runs shown in the leaderboard and samples at the end.
    #[arg(long, default_value_t = 3)]
    pub top: u32,
    /// Serve the dashboard on this address (port 0 picks a free one); `off` serves none.
    /// Its URL, with the token that signs the browser in, is printed at start.
    #[arg(long, default_value = "127.0.0.1:0")]
    pub dashboard: String,
    /// Once the sweep has ended, keep serving the dashboard until Ctrl-C.
    #[arg(long)]
    pub serve: bool,
    /// Check, plan and print the estimate; create and train nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Run even when the estimate is over 2 hours on the CPU reference (scripts: GPTSWEEP_YES=1).
    #[arg(long, env = "GPTSWEEP_YES", value_parser = clap::builder::FalseyValueParser::new())]
    pub yes: bool,
}

/// The end of a local sweep: its leaderboard and the best runs' samples.
struct LocalDoc<'a> {
    status: StatusDoc<'a>,
    top: TopDoc<'a>,
    samples: SamplesDoc<'a>,
    state_dir: &'a std::path::Path,
    estimate: &'a gptsweep_coordinator::sweep::Estimate,
    /// The commands that show the sweep again.
    look_again: Vec<String>,
}

impl Document for LocalDoc<'_> {
    fn text(&self) -> String {
        let commands: String = self.look_again.iter().map(|c| format!("  {c}\n")).collect();
        format!(
            "{}\n{}\nthe sweep stays in {}; to look again:\n{commands}",
            self.top.text(),
            self.samples.text(),
            self.state_dir.display()
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({
            "sweep": self.status.json(),
            "top": self.top.json(),
            "samples": self.samples.json(),
            "state_dir": self.state_dir,
            "estimate": estimate_json(self.estimate),
            "look_again": self.look_again,
        })
    }
}

/// The commands that show sweep `name` of the local state in `state_dir` again (`best`:
/// its best run, if any).
fn look_again(state_dir: &std::path::Path, name: &str, best: Option<i64>) -> Vec<String> {
    let env = local_state::env_prefix(state_dir);
    let name = local_state::shell_word(name);
    let mut commands = vec![
        format!("{env}gptsweep top {name}"),
        format!("{env}gptsweep samples {name}"),
    ];
    commands.extend(best.map(|run| format!("{env}gptsweep show {run}")));
    commands.push(format!("{env}gptsweep dashboard"));
    commands
}

/// The names of the sweeps the coordinator of `ctx` holds.
async fn sweep_names(ctx: &mut Ctx) -> anyhow::Result<Vec<String>> {
    let reply = ctx
        .client
        .list_sweeps(gptsweep_proto::pb::ListSweepsRequest {})
        .await
        .map_err(|s| ctx.err(s))?
        .into_inner();
    Ok(reply.sweeps.into_iter().map(|s| s.name).collect())
}

/// `name`, or when it is taken the first of `name-2`, `name-3` ... that is not.
fn fresh_name(name: &str, taken: &[String]) -> String {
    let mut fresh = name.to_string();
    let mut i = 1;
    while taken.contains(&fresh) {
        i += 1;
        fresh = format!("{name}-{i}");
    }
    fresh
}

/// Runs `gptsweep local`.
pub async fn run(args: Args, output: OutputMode) -> anyhow::Result<()> {
    // The file and its dataset are read and checked before anything is created.
    let mut input = submit::SweepInput::read(&args.file)?;
    let estimate = input.estimate.clone();
    if args.dry_run {
        return print(
            output,
            &DryRunDoc {
                name: &input.name,
                estimate: &estimate,
            },
        );
    }
    confirm(input.file_name(), &estimate, args.yes)?;
    if output == OutputMode::Text {
        // The size before anything trains (stdout keeps the results).
        eprint!("{}", super::terminal::escape(&estimate.text(&input.name)));
    }
    let devices = super::worker::parse_devices(&args.devices)?;
    // This process's worker is the only one: a run it cannot train is refused here.
    if input.bf16 {
        for d in &devices {
            gptsweep_gpt::backend::check_precision(*d, gptsweep_gpt::Precision::Bf16)
                .map_err(|e| super::bad_input::BadInput(format!("{}: {e}", input.file_name())))?;
        }
    }
    let state_dir = args.state_dir.unwrap_or_else(local_state::dir);
    super::bad_input::ensure(
        !args.serve || !args.dashboard.eq_ignore_ascii_case("off"),
        || {
            "--serve keeps the dashboard up after the sweep: it needs --dashboard other than off"
                .into()
        },
    )?;
    let dashboard = super::dashboard::bind(&args.dashboard).await?;
    if let Some(d) = dashboard.as_ref().and_then(|d| d.local_addr().ok())
        && !d.ip().is_loopback()
    {
        tracing::warn!("dashboard on {d} without TLS: its token crosses the network in clear text");
    }
    let coordinator = Coordinator::open(CoordinatorConfig::new(state_dir.clone())).await?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let client_token = coordinator.access().client_token.clone();
    let worker_token = coordinator.access().worker_token.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(coordinator.clone().serve(listener, async {
        let _ = stop_rx.await;
    }));
    let (wstop, _) = gptsweep_worker::stop::channel();
    // The coordinator is this process's own: the machine's kernel folder already is all it
    // could share (`new` shares none). Local polls every 5 s and warms no shapes ahead.
    let worker_config = gptsweep_worker::WorkerConfig {
        token: Some(worker_token),
        poll: std::time::Duration::from_secs(5),
        warm_ahead: Some(0),
        ..gptsweep_worker::WorkerConfig::new(
            url.clone(),
            "local".into(),
            devices,
            default_cache_dir(),
        )
    };
    let worker = tokio::spawn(gptsweep_worker::run(worker_config, wstop.clone()));
    if let Some(d) = dashboard {
        // The token in the URL signs the browser in (a cookie) and leaves the address bar.
        eprintln!(
            "dashboard: {}?token={client_token}",
            super::dashboard::url(d.local_addr()?, false)
        );
        // For `gptsweep dashboard` while this runs.
        local_state::note_dashboard(&state_dir, d.local_addr()?);
        tokio::spawn(coordinator.clone().serve_dashboard(d));
    }

    let mut ctx = Ctx::new(&url, Some(&client_token), None, output)?;
    let name = fresh_name(&input.name, &sweep_names(&mut ctx).await?);
    if name != input.name {
        eprintln!(
            "a sweep {} is already in {}: this one is {name}",
            input.name,
            state_dir.display()
        );
        input.rename(&name)?;
    }
    let sub = submit::submit_input(&mut ctx, input).await?;
    if output == OutputMode::Text {
        eprintln!(
            "sweep {} (id {}): {} on {}; state in {}",
            sub.name,
            sub.id,
            estimate.runs_text(),
            args.devices,
            state_dir.display()
        );
    }
    let info = status::watch(&mut ctx, &sub.name).await?;
    let board = top::fetch(&mut ctx, &sub.name, 0, 16).await?;
    print(
        output,
        &LocalDoc {
            status: StatusDoc(&info),
            top: TopDoc(&board),
            samples: {
                let runs = &board.rows[..board.rows.len().min(args.top as usize)];
                let columns = runs.iter().filter(|r| !r.samples.is_empty()).count();
                SamplesDoc {
                    runs,
                    width: super::samples::column_width(None, columns),
                    metric: board.sweep.metric,
                    asked: args.top as usize,
                }
            },
            state_dir: &state_dir,
            estimate: &estimate,
            look_again: look_again(
                &state_dir,
                &sub.name,
                board
                    .rows
                    .first()
                    .filter(|r| r.best_val_loss.is_some())
                    .map(|r| r.run.get()),
            ),
        },
    )?;
    // The worker goes first, so that it never sees its coordinator disappear. The sweep
    // has ended: an idle worker drains at once, and leaves the workers' list (a run of an
    // earlier sweep it may hold is handed back at its next step).
    wstop.drain_because("the local sweep ended");
    let _ = worker.await;
    if args.serve {
        eprintln!("the sweep has ended; serving the dashboard until Ctrl-C");
        let _ = tokio::signal::ctrl_c().await;
    }
    let _ = stop_tx.send(());
    let _ = server.await;
    coordinator.close().await;
    Ok(())
}
