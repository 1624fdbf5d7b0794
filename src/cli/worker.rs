//! `gptsweep worker`: join a coordinator and train its runs on this machine's devices.

use std::path::PathBuf;
use std::time::Duration;

use gptsweep_gpt::{DeviceSpec, detect_devices};
use gptsweep_proto::tls::PemCertificates;
use gptsweep_worker::memory::CudaMemory;
use gptsweep_worker::slot_process::SlotMode;
use gptsweep_worker::worker::{
    DEFAULT_DRAIN_TIMEOUT, DEFAULT_MAX_CONSECUTIVE_FAILURES, DEFAULT_POLL,
};
use gptsweep_worker::{Ended, StopHandle, StopLevel, WorkerConfig};

use super::bad_input::{BadInput, ensure};

use super::paths::{default_cache_dir, hostname, kernel_cache_dir};

/// Flags of `gptsweep worker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// auto (every CUDA GPU, then every hardware wgpu adapter, else the CPU), cpu, or a list
    /// like cuda:0,cuda:1 or wgpu:0,wgpu:1.
    #[arg(long, default_value = "auto")]
    pub devices: String,
    /// How log lines on stderr look: text, or one JSON object a line.
    #[arg(long, value_enum, default_value = "text", env = "GPTSWEEP_LOG_FORMAT")]
    pub log_format: super::logging::LogFormat,
    /// Name shown in `gptsweep workers` [host name].
    #[arg(long)]
    pub name: Option<String>,
    /// Where datasets fetched from the coordinator are cached.
    #[arg(long)]
    pub cache_dir: Option<PathBuf>,
    /// Seconds one poll for work waits.
    #[arg(long, default_value_t = DEFAULT_POLL.as_secs_f64())]
    pub poll: f64,
    /// Seconds a drain (first SIGTERM or SIGINT) may take: running runs stop at their next
    /// step, checkpoint and are handed back; a second signal exits at once.
    #[arg(long, default_value_t = DEFAULT_DRAIN_TIMEOUT.as_secs_f64())]
    pub drain_timeout: f64,
    /// Leave after this many seconds without work (for batch allocations) [never].
    #[arg(long)]
    pub idle_exit: Option<f64>,
    /// A device whose runs fail this many times in a row stops taking work.
    #[arg(long, default_value_t = DEFAULT_MAX_CONSECUTIVE_FAILURES)]
    pub max_consecutive_failures: u32,
    /// Runs trained at once on each device: a number, or auto (as many as fit the device's
    /// memory by each run's training-memory estimate, at most 2 on a GPU and one per core on
    /// the CPU; NVIDIA GPUs are measured with nvidia-smi at start: their free memory). On a
    /// GPU, several slots train in processes of their own (--slot-processes): threads of one
    /// process share its launch path and leave the GPU mostly idle.
    #[arg(long, default_value = "1")]
    pub runs_per_device: String,
    /// Where each slot's run trains: auto (in a child process of its own, with its own
    /// device context, when a GPU has two or more slots; on a thread of the worker on the
    /// CPU and for one slot), always (processes, the CPU too), or never (threads). Either
    /// way the worker is one worker: its drain, faults and leases cover every slot; a child
    /// that crashes fails its run only.
    #[arg(long, value_enum, default_value = "auto")]
    pub slot_processes: SlotProcesses,
    /// Memory runs may use on each device when packing (e.g. 20GiB, 512MB) [the machine's
    /// RAM for the CPU; for NVIDIA GPUs what nvidia-smi says is free at start; else
    /// unknown: one run at a time].
    #[arg(long)]
    pub device_memory: Option<String>,
    /// Keep compiled GPU kernels and autotune results to this machine: neither fetch the
    /// fleet's (the coordinator's kernel cache) before a run nor upload this node's after.
    #[arg(long)]
    pub no_fleet_kernels: bool,
    /// Warm-up processes that compile the kernels of queued runs' shapes while the devices
    /// train (each trains 2 steps of a shape not yet warm in this node's kernel scope, then
    /// uploads what it compiled): a number, or auto (none on CPUs, which compile no kernels;
    /// on GPUs min(2, cores the training slots leave idle)). Needs the fleet's kernel cache.
    #[arg(long, default_value = "auto")]
    pub warm_ahead: String,
}

/// `--slot-processes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SlotProcesses {
    /// Processes for two or more slots on a GPU; threads otherwise.
    Auto,
    /// Always processes.
    Always,
    /// Always threads.
    Never,
}

impl From<SlotProcesses> for SlotMode {
    fn from(p: SlotProcesses) -> Self {
        match p {
            SlotProcesses::Auto => Self::Auto,
            SlotProcesses::Always => Self::Always,
            SlotProcesses::Never => Self::Never,
        }
    }
}

/// `--runs-per-device`: a count (1 to 64), or `None` for auto.
fn runs_per_device(text: &str) -> Result<Option<usize>, BadInput> {
    if text == "auto" {
        return Ok(None);
    }
    match text.parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(Some(n)),
        _ => Err(BadInput(format!(
            "--runs-per-device {text}: must be auto or a number from 1 to 64"
        ))),
    }
}

/// A size like `512MB`, `20GiB` or `1048576` in bytes.
fn bytes(flag: &str, text: &str) -> Result<u64, BadInput> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let scale: u64 = match unit.trim() {
        "" | "B" => 1,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => 0,
    };
    match number.parse::<f64>() {
        Ok(n) if scale > 0 && n.is_finite() && n >= 1.0 && n * (scale as f64) < 1e18 => {
            Ok((n * scale as f64) as u64)
        }
        _ => Err(BadInput(format!(
            "{flag} {text}: expected a size such as 512MB, 20GiB or a number of bytes"
        ))),
    }
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
    let slots = runs_per_device(&args.runs_per_device)?;
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
        runs_per_device: slots.unwrap_or(1),
        pack_by_memory: slots.is_none(),
        device_memory: args
            .device_memory
            .as_deref()
            .map(|m| bytes("--device-memory", m))
            .transpose()?,
        cuda_memory: CudaMemory::default(),
        kernel_dir: (!args.no_fleet_kernels).then(kernel_cache_dir),
        slot_processes: args.slot_processes.into(),
        log_json: args.log_format == super::logging::LogFormat::Json,
        warm_ahead: warm_ahead(&args.warm_ahead)?,
    })
}

/// `--warm-ahead`: `None` for auto, else a number of processes.
fn warm_ahead(text: &str) -> Result<Option<usize>, BadInput> {
    if text == "auto" {
        return Ok(None);
    }
    match text.parse::<usize>() {
        Ok(n) if n <= 64 => Ok(Some(n)),
        _ => Err(BadInput(format!(
            "--warm-ahead {text}: expected auto or a number of processes from 0 to 64"
        ))),
    }
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
    // GPU memory is measured before anything here touches a GPU (`--devices auto` and the
    // start-up checks open a CUDA context on each), so that nvidia-smi counts only what
    // other processes hold.
    let cuda_memory = if gptsweep_gpt::backend::CUDA_BUILT
        && args.device_memory.is_none()
        && (args.devices == "auto" || args.devices.contains("cuda"))
    {
        CudaMemory::measure().await
    } else {
        CudaMemory::default()
    };
    let mut config = config(&args, url, token, tls_ca)?;
    config.cuda_memory = cuda_memory;
    gptsweep_worker::startup::check(&config.devices, &config.cache_dir)?;
    let json = args.log_format == super::logging::LogFormat::Json;
    super::logging::say(
        json,
        &format!(
            "gptsweep worker {} on {}, coordinator {url}",
            super::terminal::escape_line(&config.name),
            config
                .devices
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let (stop, _) = gptsweep_worker::stop::channel();
    forward_signals(stop.clone())?;
    let ended = gptsweep_worker::run(config, stop).await?;
    super::logging::say(
        json,
        &format!(
            "gptsweep worker: {}",
            match ended {
                Ended::Drained => "drained: every run handed back; bye",
                Ended::Idle => "no work for --idle-exit; bye",
            }
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_slot_counts_parse_or_are_refused() {
        assert_eq!(bytes("f", "1MiB").unwrap(), 1 << 20);
        assert_eq!(bytes("f", "512MB").unwrap(), 512_000_000);
        assert_eq!(bytes("f", "1.5GiB").unwrap(), 3 << 29);
        assert_eq!(bytes("f", "4096").unwrap(), 4096);
        assert!(bytes("f", "lots").is_err() && bytes("f", "1TiB").is_err());
        assert!(bytes("f", "0").is_err());
        assert_eq!(runs_per_device("auto").unwrap(), None);
        assert_eq!(runs_per_device("4").unwrap(), Some(4));
        assert!(runs_per_device("0").is_err() && runs_per_device("65").is_err());
    }
}
