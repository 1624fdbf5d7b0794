//! The command tree. Each verb is a module with an `Args` struct and a `run` function;
//! `run` here builds the async runtime for the verbs that talk gRPC.

mod annotate;
mod bad_input;
mod cancel;
mod connect;
mod coordinator;
mod ctx;
mod dashboard;
mod delete;
mod export;
mod extend;
mod importance;
mod kernels;
mod local;
mod local_dashboard;
mod local_state;
mod logging;
mod output;
mod params_table;
mod paths;
mod progress;
mod rename;
mod retry;
mod run_checkpoint;
mod run_progress;
mod sample;
mod samples;
mod show;
mod slot_child;
mod status;
mod submit;
mod sweep_plan;
mod sweeps;
mod table;
mod terminal;
mod token;
mod top;
mod train;
mod transport_error;
mod worker;
mod workers;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gptsweep_proto::tls::PemCertificates;

pub use output::OutputMode;

/// Hyperparameter sweeps for character-level GPTs.
#[derive(Debug, Parser)]
#[command(name = "gptsweep", version, about, long_about = None)]
pub struct Cli {
    /// How listings and results are printed.
    #[arg(long, global = true, value_enum, default_value_t = OutputMode::Text, env = "GPTSWEEP_OUTPUT")]
    pub output: OutputMode,
    /// Coordinator address for client and worker verbs [http://127.0.0.1:50051; verbs that
    /// only look, and delete and cancel, use `gptsweep local`'s state when none is given
    /// and that state exists].
    #[arg(long, global = true, env = "GPTSWEEP_COORDINATOR")]
    pub coordinator: Option<String>,
    /// Bearer token file: worker.token, client.token, or the coordinator's access.json.
    #[arg(long, global = true, env = "GPTSWEEP_TOKEN_FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// PEM certificate(s) of the CA to trust for an https:// coordinator [system roots].
    #[arg(long, global = true, env = "GPTSWEEP_TLS_CA")]
    pub tls_ca: Option<std::path::PathBuf>,
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one GPT, no coordinator: losses as it goes, a checkpoint in --out.
    Train(Box<train::Args>),
    /// Continue a prompt with a trained checkpoint: a directory, or a stored run's latest.
    Sample(sample::Args),
    /// Write a checkpoint out: a directory (for sample and train --resume), or the model as
    /// safetensors for PyTorch.
    Export(export::Args),
    /// Run a coordinator: sweeps, scheduling and the SQLite store.
    Coordinator(coordinator::Args),
    /// Join a coordinator and train its runs on this machine's devices.
    Worker(worker::Args),
    /// Run one sweep here: coordinator and worker in this process, then top and samples.
    Local(local::Args),
    /// Serve the dashboard of `gptsweep local`'s sweeps until Ctrl-C.
    Dashboard(local_dashboard::Args),
    /// Check a sweep file and queue its runs.
    Submit(submit::Args),
    /// List sweeps.
    Sweeps,
    /// Progress of a sweep.
    Status(status::Args),
    /// Leaderboard of a sweep by its metric.
    Top(top::Args),
    /// The best runs' generated text, side by side.
    Samples(samples::Args),
    /// Everything about one run.
    Show(show::Args),
    /// Registered workers.
    Workers,
    /// What the fleet's kernel cache holds: compiled GPU kernels and autotune results, by
    /// device and build.
    Kernels,
    /// Cancel a sweep.
    Cancel(cancel::Args),
    /// Queue a sweep's failed or stopped runs again.
    Retry(retry::Args),
    /// Delete a sweep: its runs, evaluations, samples and checkpoints.
    Delete(delete::Args),
    /// Which swept hyperparameters mattered (PED-ANOVA).
    Importance(importance::Args),
    /// More runs for a random or tpe sweep, from every result so far.
    Extend(extend::Args),
    /// Name a run, or note something on it: shown by show, top and the dashboard.
    Annotate(annotate::Args),
    /// One run of a worker's slot, in a process of its own (started by `gptsweep worker`).
    #[command(hide = true)]
    SlotChild(slot_child::Args),
}

/// The coordinator's gRPC threads: one fewer than the machine's cores, at least one
/// (`TOKIO_WORKER_THREADS` overrides). Its store's writer and database connection run on
/// threads of their own, one batch after another; on a core of their own they are not
/// kept waiting by the connections' tasks. On the 2-core bench machine, one thread instead
/// of two: 10% more leases a second for 15% less CPU (BENCHMARKS.md, "1,000 workers").
fn coordinator_threads() -> usize {
    let env = std::env::var("TOKIO_WORKER_THREADS").ok();
    match env.and_then(|v| v.trim().parse::<usize>().ok()) {
        Some(n) if n > 0 => n,
        _ => std::thread::available_parallelism().map_or(1, |n| n.get().saturating_sub(1).max(1)),
    }
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Before any GPU work: the warm-up of a GPU (kernel compilation, autotune) is paid once
    // per machine and shape, not once per process.
    gptsweep_gpt::use_kernel_cache(&paths::kernel_cache_dir());
    // `threads`: the runtime's worker threads (tokio's default, one a core, when `None`).
    let runtime = |threads: Option<usize>| {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = threads {
            builder.worker_threads(n);
        }
        builder.enable_all().build()
    };
    let rt = || runtime(None);
    let url = cli
        .coordinator
        .clone()
        .unwrap_or_else(|| connect::DEFAULT_COORDINATOR.to_string());
    let tls_ca = cli
        .tls_ca
        .as_deref()
        .map(|p| -> anyhow::Result<PemCertificates> {
            let pem = gptsweep_gpt::input_file::read_bounded(
                "--tls-ca",
                p,
                gptsweep_gpt::input_file::MAX_PEM_FILE_BYTES,
            )?;
            Ok(PemCertificates::from_pem("--tls-ca", p, pem).map_err(bad_input::BadInput)?)
        })
        .transpose()?;
    if cli.output == OutputMode::Csv && !matches!(cli.command, Command::Top(_)) {
        return Err(bad_input::BadInput(output::CSV_VERBS.into()).into());
    }
    match cli.command {
        Command::Train(args) => train::run(*args, cli.output),
        Command::SlotChild(args) => {
            logging::init("info", args.log_format);
            slot_child::run(args)
        }
        Command::Sample(args) if args.run.is_none() => sample::run(args, cli.output),
        Command::Export(args) if args.run.is_none() => export::run_local(args, cli.output),
        Command::Coordinator(args) => {
            logging::init("info", args.log_format);
            runtime(Some(coordinator_threads()))?.block_on(coordinator::run(args))
        }
        Command::Worker(args) => {
            logging::init("info", args.log_format);
            let token = token::resolve(
                cli.token_file.as_deref(),
                gptsweep_coordinator::access::Role::Worker,
            )?;
            rt()?.block_on(worker::run(args, &url, token, tls_ca))
        }
        Command::Local(args) => {
            logging::init("warn", logging::LogFormat::Text);
            rt()?.block_on(local::run(args, cli.output))
        }
        Command::Dashboard(args) => {
            logging::init("warn", logging::LogFormat::Text);
            let given = cli.coordinator.is_some();
            rt()?.block_on(local_dashboard::run(args, given, cli.output))
        }
        command => {
            logging::init("warn", logging::LogFormat::Text);
            let rt = rt()?;
            let _guard = rt.enter();
            let token = token::resolve(
                cli.token_file.as_deref(),
                gptsweep_coordinator::access::Role::Client,
            )?;
            // No coordinator given: the local state, if there is one, for the verbs it serves.
            let local = Some(local_state::dir()).filter(|d| {
                cli.coordinator.is_none() && on_local_state(&command) && local_state::exists(d)
            });
            rt.block_on(async move {
                let (ctx, own) = match &local {
                    Some(dir) => local_state::connect(dir, cli.output).await?,
                    None => (
                        ctx::Ctx::new(&url, token.as_deref(), tls_ca.as_ref(), cli.output)?,
                        None,
                    ),
                };
                let done = client_verb(command, ctx).await;
                if let Some(own) = own {
                    own.close().await;
                }
                match &local {
                    Some(dir) => done.with_context(|| {
                        format!(
                            "in the local state {} (no --coordinator given)",
                            dir.display()
                        )
                    }),
                    None => done,
                }
            })
        }
    }
}

/// Whether `command`, given no coordinator, uses the local state: the verbs that look, and
/// those that end, remove or annotate a sweep's runs. Those that queue runs (submit, retry, extend) do not:
/// no worker would train them.
fn on_local_state(command: &Command) -> bool {
    matches!(
        command,
        Command::Sweeps
            | Command::Status(_)
            | Command::Top(_)
            | Command::Samples(_)
            | Command::Show(_)
            | Command::Workers
            | Command::Kernels
            | Command::Cancel(_)
            | Command::Delete(_)
            | Command::Annotate(_)
            | Command::Importance(_)
            | Command::Sample(_)
            | Command::Export(_)
    )
}

/// Runs a client verb on `ctx`.
async fn client_verb(command: Command, ctx: ctx::Ctx) -> anyhow::Result<()> {
    match command {
        Command::Submit(a) => submit::run(a, ctx).await,
        Command::Sweeps => sweeps::run(ctx).await,
        Command::Status(a) => status::run(a, ctx).await,
        Command::Top(a) => top::run(a, ctx).await,
        Command::Samples(a) => samples::run(a, ctx).await,
        Command::Show(a) => show::run(a, ctx).await,
        Command::Workers => workers::run(ctx).await,
        Command::Kernels => kernels::run(ctx).await,
        Command::Cancel(a) => cancel::run(a, ctx).await,
        Command::Retry(a) => retry::run(a, ctx).await,
        Command::Delete(a) => delete::run(a, ctx).await,
        Command::Extend(a) => extend::run(a, ctx).await,
        Command::Annotate(a) => annotate::run(a, ctx).await,
        Command::Importance(a) => importance::run(a, ctx).await,
        Command::Sample(a) => sample::run_stored(a, ctx).await,
        Command::Export(a) => export::run(a, ctx).await,
        _ => unreachable!("handled above"),
    }
}

/// Prints a failed verb's error: one line on stderr (its control characters, line feeds
/// included, escaped; a sweep file's problems a line each), and under `--output json` also the error object on stdout.
pub fn report_error(err: &anyhow::Error, code: u8, output: OutputMode) {
    match err.downcast_ref::<gptsweep_coordinator::sweep::SpecErrors>() {
        // A sweep file's problems: one line each, `file:line:column: message`.
        Some(spec) => {
            for line in spec.to_string().lines() {
                eprintln!("error: {}", terminal::escape_line(line));
            }
        }
        None => eprintln!("error: {}", terminal::escape_line(&format!("{err:#}"))),
    }
    if output == OutputMode::Json {
        println!(
            "{}",
            serde_json::to_string_pretty(&output::error_json(err, code)).expect("errors serialise")
        );
    }
}

/// Ends the process for a command line clap refused: help and version as clap prints
/// them; a usage error (exit 2) also as a JSON error object when JSON output was asked for.
pub fn usage_error(usage: clap::Error) -> ! {
    use clap::error::ErrorKind;
    let json_wanted = {
        let args: Vec<String> = std::env::args().collect();
        args.windows(2)
            .any(|w| w[0] == "--output" && w[1] == "json")
            || args.iter().any(|a| a == "--output=json")
            || std::env::var("GPTSWEEP_OUTPUT").is_ok_and(|v| v == "json")
    };
    if json_wanted
        && !matches!(
            usage.kind(),
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion
        )
    {
        let message = usage.kind().as_str().unwrap_or("invalid command line");
        let detail = usage.to_string();
        let first = detail
            .lines()
            .find(|l| l.starts_with("error:"))
            .map(|l| l.trim_start_matches("error:").trim())
            .unwrap_or(message);
        println!(
            "{}",
            serde_json::json!({"error": {"kind": "usage", "message": first, "exit_code": 2}})
        );
    }
    usage.exit()
}

/// Exit code for an error: 2 for bad input (config, dataset, prompt, device, checkpoint,
/// sweep file), 1 for anything else.
pub fn exit_code(err: &anyhow::Error) -> u8 {
    use gptsweep_gpt::GptError;
    if err
        .downcast_ref::<gptsweep_coordinator::sweep::SpecErrors>()
        .is_some()
    {
        return 2;
    }
    if err.downcast_ref::<bad_input::BadInput>().is_some() {
        return 2;
    }
    // A coordinator's own files that break a rule (an access.json edited by hand).
    // ...and a database that belongs to another store than the state directory.
    if let Some(
        gptsweep_coordinator::error::CoordinatorError::Invalid(_)
        | gptsweep_coordinator::error::CoordinatorError::StoreMismatch(_),
    ) = err.downcast_ref::<gptsweep_coordinator::error::CoordinatorError>()
    {
        return 2;
    }
    if let Some(gptsweep_worker::WorkerError::Setup(_)) =
        err.downcast_ref::<gptsweep_worker::WorkerError>()
    {
        return 2;
    }
    if let Some(remote) = err.downcast_ref::<connect::Remote>() {
        return if remote.is_bad_input() { 2 } else { 1 };
    }
    match err.downcast_ref::<GptError>() {
        Some(GptError::Io { .. } | GptError::Diverged { .. }) => 1,
        Some(_) => 2,
        None => 1,
    }
}
