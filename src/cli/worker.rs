//! `gptsweep worker`: join a coordinator and train its runs on this machine's devices.

use std::path::PathBuf;
use std::time::Duration;

use gptsweep_gpt::{DeviceSpec, detect_devices};
use gptsweep_proto::tls::PemCertificates;
use gptsweep_worker::{Ended, StopHandle, StopLevel, WorkerConfig};

use super::bad_input::{BadInput, ensure};

use super::paths::{default_cache_dir, hostname};

/// Flags of `gptsweep worker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// auto (every CUDA GPU, then every hardware wgpu adapter, else the CPU), cpu, or a list
    /// like cuda:0,cuda:1 or wgpu:0,wgpu:1.
    #[arg(long, default_value = "auto")]
    pub devices: String,
    /// Name shown in `gptsweep workers` [host name].
    #[arg(long)]
    pub name: Option<String>,
    /// Where datasets fetched from the coordinator are cached.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Seconds one poll for work waits.
    #[arg(long, default_value_t = 20.0)]
    pub poll: f64,
    /// Seconds a drain (first SIGTERM or SIGINT) may take: running runs stop at their next
    /// step, checkpoint and are handed back; a second signal exits at once.
    #[arg(long, default_value_t = 60.0)]
    pub drain_timeout: f64,
    /// Leave after this many seconds without work (for batch allocations) [never].
    #[arg(long)]
    pub idle_exit: Option<f64>,
    /// A device whose runs fail this many times in a row stops taking work.
    #[arg(long, default_value_t = 3)]
    pub max_consecutive_failures: u32,
}

/// `secs` as a duration, or a bad-input error naming `flag`.
fn seconds(flag: &str, secs: f64) -> Result<Duration, BadInput> {
    ensure(secs.is_finite() && secs > 0.0 && secs < 1e9, || {
        format!("{flag} {secs}: must be a number of seconds > 0")
    })?;
    Ok(Duration::from_secs_f64(secs))
}

/// The devices a `--devices` value names.
pub fn parse_devices(spec: &str) -> anyhow::Result<Vec<DeviceSpec>> {
    if spec == "auto" {
        return Ok(detect_devices());
    }
    let devices = spec
        .split(',')
        .map(|d| d.trim().parse::<DeviceSpec>())
        .collect::<Result<Vec<_>, _>>()?;
    anyhow::ensure!(!devices.is_empty(), "--devices: name at least one device");
    Ok(devices)
}

/// The worker settings of `args` for the coordinator at `url`.
pub fn config(
    args: &Args,
    url: &str,
    token: Option<String>,
    tls_ca: Option<PemCertificates>,
) -> anyhow::Result<WorkerConfig> {
    ensure(args.max_consecutive_failures >= 1, || {
        format!(
            "--max-consecutive-failures {}: must be at least 1",
            args.max_consecutive_failures
        )
    })?;
    Ok(WorkerConfig {
        coordinator: url.to_string(),
        token,
        tls_ca,
        name: args.name.clone().unwrap_or_else(hostname),
        devices: parse_devices(&args.devices)?,
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
        poll: seconds("--poll", args.poll)?,
        drain_timeout: seconds("--drain-timeout", args.drain_timeout)?,
        idle_exit: args
            .idle_exit
            .map(|s| seconds("--idle-exit", s))
            .transpose()?,
        max_consecutive_failures: args.max_consecutive_failures,
    })
}

/// Turns SIGTERM and SIGINT into steps of `stop`: the first drains, the second aborts.
fn forward_signals(stop: StopHandle) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    tokio::spawn(async move {
        loop {
            let name = tokio::select! {
                _ = term.recv() => "SIGTERM",
                _ = int.recv() => "SIGINT",
            };
            match stop.escalate() {
                StopLevel::Drain => eprintln!(
                    "{name}: draining (running runs are handed back at their next step); send it again to exit at once"
                ),
                _ => eprintln!("{name} again: exiting at once"),
            }
        }
    });
    Ok(())
}

/// Runs `gptsweep worker` until it is drained (SIGTERM, SIGINT), idle, or without devices.
/// Devices and the cache directory are checked first: a misconfigured node takes no work.
pub async fn run(
    args: Args,
    url: &str,
    token: Option<String>,
    tls_ca: Option<PemCertificates>,
) -> anyhow::Result<()> {
    let config = config(&args, url, token, tls_ca)?;
    gptsweep_worker::startup::check(&config.devices, &config.cache_dir)?;
    eprintln!(
        "gptsweep worker {} on {:?}, coordinator {url}",
        config.name,
        config
            .devices
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
    );
    let (stop, _) = gptsweep_worker::stop::channel();
    forward_signals(stop.clone())?;
    let ended = gptsweep_worker::run(config, stop).await?;
    eprintln!(
        "gptsweep worker: {}",
        match ended {
            Ended::Drained => "drained: every run handed back; bye",
            Ended::Idle => "no work for --idle-exit; bye",
        }
    );
    Ok(())
}
