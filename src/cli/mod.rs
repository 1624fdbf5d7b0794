//! The command tree. Each verb is a module with an `Args` struct and a `run` function;
//! `run` here builds the async runtime for the verbs that talk gRPC.

mod annotate;
mod ask;
mod bad_input;
mod cancel;
mod connect;
mod coordinator;
mod ctx;
mod dashboard;
mod delete;
mod export;
mod extend;
mod flags;
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
mod usage;
mod worker;
mod workers;

use anyhow::Context;
use clap::{Parser, Subcommand};
use gptsweep_coordinator::access::Role;
use gptsweep_proto::tls::PemCertificates;

use flags::{Client, Connected, Connection, Mode, NoArgs, Printing, TableOutput};
pub use output::OutputMode;
pub use usage::usage_error;

/// Hyperparameter sweeps for character-level GPTs.
#[derive(Debug, Parser)]
#[command(name = "gptsweep", version, about, long_about = None)]
pub struct Cli {
    /// The verb.
    #[command(subcommand)]
    pub command: Command,
}

/// The verbs. Each takes the shared flags that mean something to it (`flags`):
/// `--output` where it prints a result, the connection flags where it connects.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train one GPT, no coordinator: losses as it goes, a checkpoint in --out.
    Train(Box<Printing<train::Args>>),
    /// Continue a prompt with a trained checkpoint: a directory, or a stored run's latest.
    Sample(Client<sample::Args>),
    /// Write a checkpoint out: a directory (for sample and train --resume), or the model as
    /// safetensors for PyTorch.
    Export(Client<export::Args>),
    /// Run a coordinator: sweeps, scheduling and the SQLite store.
    Coordinator(coordinator::Args),
    /// Join a coordinator and train its runs on this machine's devices.
    Worker(Connected<worker::Args>),
    /// Run one sweep here: coordinator and worker in this process, then top and samples.
    Local(Printing<local::Args>),
    /// Serve the dashboard of `gptsweep local`'s sweeps until Ctrl-C.
    Dashboard(Printing<local_dashboard::Args>),
    /// Check a sweep file and queue its runs.
    Submit(Client<submit::Args>),
    /// List sweeps.
    Sweeps(Client<NoArgs>),
    /// Progress of a sweep.
    Status(Client<status::Args>),
    /// Leaderboard of a sweep by its metric.
    Top(Client<top::Args, TableOutput>),
    /// The best runs' generated text, side by side.
    Samples(Client<samples::Args>),
    /// Everything about one run.
    Show(Client<show::Args>),
    /// Registered workers.
    Workers(Client<NoArgs>),
    /// What the fleet's kernel cache holds: compiled GPU kernels and autotune results, by
    /// device and build.
    Kernels(Client<NoArgs>),
    /// Cancel a sweep.
    Cancel(Client<cancel::Args>),
    /// Queue a sweep's failed or stopped runs again.
    Retry(Client<retry::Args>),
    /// Delete a sweep: its runs, evaluations, samples and checkpoints.
    Delete(Client<delete::Args>),
    /// Which swept hyperparameters mattered (PED-ANOVA).
    Importance(Client<importance::Args>),
    /// More runs for a random or tpe sweep, from every result so far.
    Extend(Client<extend::Args>),
    /// Name a run, or note something on it: shown by show, top and the dashboard.
    Annotate(Client<annotate::Args>),
    /// One run of a worker's slot, in a process of its own (started by `gptsweep worker`).
    #[command(hide = true)]
    SlotChild(slot_child::Args),
}

impl Command {
    /// How this verb prints its result, and its errors (text for verbs without
    /// `--output`: their output is a log).
    pub fn output(&self) -> OutputMode {
        use Command::*;
        match self {
            Train(c) => c.output.mode(),
            Local(c) => c.output.mode(),
            Dashboard(c) => c.output.mode(),
            Top(c) => c.output.mode(),
            Sample(c) => c.output.mode(),
            Export(c) => c.output.mode(),
            Submit(c) => c.output.mode(),
            Sweeps(c) | Workers(c) | Kernels(c) => c.output.mode(),
            Status(c) => c.output.mode(),
            Samples(c) => c.output.mode(),
            Show(c) => c.output.mode(),
            Cancel(c) => c.output.mode(),
            Retry(c) => c.output.mode(),
            Delete(c) => c.output.mode(),
            Importance(c) => c.output.mode(),
            Extend(c) => c.output.mode(),
            Annotate(c) => c.output.mode(),
            Coordinator(_) | Worker(_) | SlotChild(_) => OutputMode::Text,
        }
    }
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

/// The async runtime; `threads`: its worker threads (tokio's default, one a core, when
/// `None`).
fn runtime(threads: Option<usize>) -> std::io::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = threads {
        builder.worker_threads(n);
    }
    builder.enable_all().build()
}

/// The CA certificates `--tls-ca` names, read and checked.
fn tls_ca(conn: &Connection) -> anyhow::Result<Option<PemCertificates>> {
    conn.tls_ca
        .as_deref()
        .map(|p| -> anyhow::Result<PemCertificates> {
            let pem = gptsweep_gpt::input_file::read_bounded(
                "--tls-ca",
                p,
                gptsweep_gpt::input_file::MAX_PEM_FILE_BYTES,
            )?;
            Ok(PemCertificates::from_pem("--tls-ca", p, pem).map_err(bad_input::BadInput)?)
        })
        .transpose()
}

/// Runs a client verb: connects with its flags and runs `verb` with its own. With no
/// coordinator given (no `--coordinator`, no `GPTSWEEP_COORDINATOR`), a verb that may
/// (`local_ok`: those that look, and those that end, remove or annotate a sweep's runs;
/// not those that queue runs, which no worker would train) uses `gptsweep local`'s state
/// where it exists.
fn connected<A, O, F, Fut>(c: Client<A, O>, local_ok: bool, verb: F) -> anyhow::Result<()>
where
    A: clap::Args,
    O: clap::Args + Mode,
    F: FnOnce(A, ctx::Ctx) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    logging::init("warn", logging::LogFormat::Text);
    let ca = tls_ca(&c.conn)?;
    let rt = runtime(None)?;
    let _guard = rt.enter();
    let token = token::resolve(c.conn.token_file.as_deref(), Role::Client)?;
    let mode = c.output.mode();
    let local = Some(local_state::dir())
        .filter(|d| local_ok && c.conn.coordinator.is_none() && local_state::exists(d));
    rt.block_on(async move {
        let (ctx, own) = match &local {
            Some(dir) => local_state::connect(dir, mode).await?,
            None => (
                ctx::Ctx::new(c.conn.address(), token.as_deref(), ca.as_ref(), mode)?,
                None,
            ),
        };
        let done = verb(c.args, ctx).await;
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

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    // Before any GPU work: the warm-up of a GPU (kernel compilation, autotune) is paid once
    // per machine and shape, not once per process.
    gptsweep_gpt::use_kernel_cache(&paths::kernel_cache_dir());
    match cli.command {
        Command::Train(c) => train::run(c.args, c.output.mode),
        Command::SlotChild(args) => {
            logging::init("info", args.log_format);
            slot_child::run(args)
        }
        Command::Sample(c) if c.args.run.is_none() => sample::run(c.args, c.output.mode),
        Command::Export(c) if c.args.run.is_none() => export::run_local(c.args, c.output.mode),
        Command::Coordinator(args) => {
            logging::init("info", args.log_format);
            runtime(Some(coordinator_threads()))?.block_on(coordinator::run(args))
        }
        Command::Worker(c) => {
            logging::init("info", c.args.log_format);
            let ca = tls_ca(&c.conn)?;
            let token = token::resolve(c.conn.token_file.as_deref(), Role::Worker)?;
            runtime(None)?.block_on(worker::run(c.args, c.conn.address(), token, ca))
        }
        Command::Local(c) => {
            logging::init("warn", logging::LogFormat::Text);
            runtime(None)?.block_on(local::run(c.args, c.output.mode))
        }
        Command::Dashboard(c) => {
            logging::init("warn", logging::LogFormat::Text);
            // A coordinator named in the environment serves its own dashboard.
            let given = std::env::var_os("GPTSWEEP_COORDINATOR").is_some_and(|v| !v.is_empty());
            runtime(None)?.block_on(local_dashboard::run(c.args, given, c.output.mode))
        }
        Command::Submit(c) => connected(c, false, submit::run),
        Command::Sweeps(c) => connected(c, true, |_, ctx| sweeps::run(ctx)),
        Command::Status(c) => connected(c, true, status::run),
        Command::Top(c) => connected(c, true, top::run),
        Command::Samples(c) => connected(c, true, samples::run),
        Command::Show(c) => connected(c, true, show::run),
        Command::Workers(c) => connected(c, true, |_, ctx| workers::run(ctx)),
        Command::Kernels(c) => connected(c, true, |_, ctx| kernels::run(ctx)),
        Command::Cancel(c) => connected(c, true, cancel::run),
        Command::Retry(c) => connected(c, false, retry::run),
        Command::Delete(c) => connected(c, true, delete::run),
        Command::Extend(c) => connected(c, false, extend::run),
        Command::Annotate(c) => connected(c, true, annotate::run),
        Command::Importance(c) => connected(c, true, importance::run),
        Command::Sample(c) => connected(c, true, sample::run_stored),
        Command::Export(c) => connected(c, true, export::run),
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
