//! `gptsweep worker`: join a coordinator and train its runs on this machine's devices.

use std::path::PathBuf;
use std::time::Duration;

use gptsweep_gpt::{DeviceSpec, detect_devices};
use gptsweep_proto::tls::PemCertificates;
use gptsweep_worker::WorkerConfig;

use super::paths::{default_cache_dir, hostname};

/// Flags of `gptsweep worker`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// auto (every GPU, else the CPU), cpu, or a list like cuda:0,cuda:1.
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
    anyhow::ensure!(
        args.poll.is_finite() && args.poll > 0.0,
        "--poll {}: must be > 0",
        args.poll
    );
    Ok(WorkerConfig {
        coordinator: url.to_string(),
        token,
        tls_ca,
        name: args.name.clone().unwrap_or_else(hostname),
        devices: parse_devices(&args.devices)?,
        cache_dir: args.cache_dir.clone().unwrap_or_else(default_cache_dir),
        poll: Duration::from_secs_f64(args.poll),
    })
}

/// Runs `gptsweep worker` until Ctrl-C.
pub async fn run(
    args: Args,
    url: &str,
    token: Option<String>,
    tls_ca: Option<PemCertificates>,
) -> anyhow::Result<()> {
    let config = config(&args, url, token, tls_ca)?;
    eprintln!(
        "gptsweep worker {} on {:?}, coordinator {url}",
        config.name,
        config
            .devices
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
    );
    gptsweep_worker::run(config, async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
