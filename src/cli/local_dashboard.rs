//! `gptsweep dashboard`: the dashboard of `gptsweep local`'s sweeps after the run that
//! served it has ended. It opens the local state ([`super::local_state`]) in this process
//! and serves the dashboard on it until Ctrl-C (or SIGTERM); while a `gptsweep local` runs
//! on that state it serves its own, and this says where. A coordinator serves its own
//! dashboard (`gptsweep coordinator --dashboard ADDR`).

use std::io::Write;

use gptsweep_coordinator::error::CoordinatorError;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig};
use serde_json::json;

use super::bad_input::BadInput;
use super::local_state;
use super::output::{Document, OutputMode, print};

/// Flags of `gptsweep dashboard`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Serve it on this address (port 0 picks a free one).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: String,
}

/// Where the dashboard is served, with the token that signs the browser in.
struct Serving<'a> {
    url: String,
    state_dir: &'a std::path::Path,
}

impl Document for Serving<'_> {
    fn text(&self) -> String {
        format!(
            "dashboard of {}: {}\nserving until Ctrl-C\n",
            self.state_dir.display(),
            self.url
        )
    }

    fn json(&self) -> serde_json::Value {
        json!({"url": self.url, "state_dir": self.state_dir})
    }
}

/// Runs `gptsweep dashboard`; `coordinator_given`: whether `--coordinator` (or
/// GPTSWEEP_COORDINATOR) was set.
pub async fn run(args: Args, coordinator_given: bool, output: OutputMode) -> anyhow::Result<()> {
    if coordinator_given {
        return Err(BadInput(
            "gptsweep dashboard serves the local state's sweeps; a coordinator serves its own \
             dashboard (gptsweep coordinator --dashboard ADDR prints its URL)"
                .into(),
        )
        .into());
    }
    let dir = local_state::dir();
    if !local_state::exists(&dir) {
        return Err(BadInput(format!(
            "no local state in {}: `gptsweep local FILE` runs a sweep there ({} names another)",
            dir.display(),
            local_state::ENV
        ))
        .into());
    }
    let listener = super::dashboard::bind(&args.listen).await?.ok_or_else(|| {
        BadInput("--listen off: give an address to serve the dashboard on".into())
    })?;
    let coordinator = match Coordinator::open(CoordinatorConfig::new(dir.clone())).await {
        Ok(c) => c,
        Err(CoordinatorError::StateLocked { holder, .. }) => {
            let token = gptsweep_coordinator::access::Access::load(&dir)?
                .map(|a| a.client_token)
                .unwrap_or_default();
            let served = local_state::noted_dashboard(&dir).map_or_else(
                || "the URL it printed".to_string(),
                |a| format!("{}?token={token}", super::dashboard::url(a, false)),
            );
            anyhow::bail!(
                "the local state {} is in use by {holder}, a running gptsweep local: its \
                 dashboard is at {served}",
                dir.display()
            );
        }
        Err(e) => return Err(e.into()),
    };
    let url = format!(
        "{}?token={}",
        super::dashboard::url(listener.local_addr()?, false),
        coordinator.access().client_token
    );
    print(
        output,
        &Serving {
            url,
            state_dir: &dir,
        },
    )?;
    std::io::stdout().flush()?;
    let served = tokio::spawn(coordinator.clone().serve_dashboard(listener));
    stopped().await;
    coordinator.close().await;
    served.await??;
    Ok(())
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
