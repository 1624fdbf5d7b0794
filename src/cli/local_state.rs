//! Where `gptsweep local` keeps its sweeps, so that the next command finds them: one
//! state directory for every local run ([`dir`]: `$XDG_DATA_HOME/gptsweep/local`, else
//! `~/.local/share/gptsweep/local`; `GPTSWEEP_LOCAL_STATE_DIR` overrides it), which the
//! client verbs that only look (and `delete`, `cancel`) use when no coordinator is given.
//!
//! A verb reaches it through a coordinator, as it would reach any: while a `gptsweep local`
//! runs on it, that process's own (its address is in the state directory's lock file);
//! else a short-lived one of this process, on loopback, for the one verb. The state
//! directory's lock keeps it to one coordinator at a time, so concurrent commands never
//! write the store from two processes.

use std::path::{Path, PathBuf};

use gptsweep_coordinator::access::Access;
use gptsweep_coordinator::error::CoordinatorError;
use gptsweep_coordinator::state_lock::listening_address;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::ctx::Ctx;
use super::output::OutputMode;
use super::paths::default_state_dir;

/// The variable that names another local state directory.
pub const ENV: &str = "GPTSWEEP_LOCAL_STATE_DIR";

/// The local state directory: `GPTSWEEP_LOCAL_STATE_DIR`, else `local` in the data
/// directory.
pub fn dir() -> PathBuf {
    match std::env::var_os(ENV) {
        Some(d) if !d.is_empty() => PathBuf::from(d),
        _ => default_state_dir().join("local"),
    }
}

/// Whether `dir` holds a store (a coordinator has opened it: its access file is there).
pub fn exists(dir: &Path) -> bool {
    dir.join("access.json").is_file()
}

/// The coordinator of this process that serves one verb on the local state; closed by
/// [`Own::close`].
pub struct Own {
    coordinator: Coordinator,
    stop: oneshot::Sender<()>,
    server: JoinHandle<gptsweep_coordinator::error::Result<()>>,
}

impl Own {
    /// Stops serving and closes the store (every write committed).
    pub async fn close(self) {
        let _ = self.stop.send(());
        let _ = self.server.await;
        self.coordinator.close().await;
    }
}

/// A client on the local state in `dir`: the running `gptsweep local`'s coordinator if
/// one holds it, else one of this process (answered with it, to close once the verb ends).
pub async fn connect(dir: &Path, output: OutputMode) -> anyhow::Result<(Ctx, Option<Own>)> {
    match Coordinator::open(CoordinatorConfig::new(dir.to_path_buf())).await {
        Ok(coordinator) => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let url = format!("http://{}", listener.local_addr()?);
            let token = coordinator.access().client_token.clone();
            let (stop, stopped) = oneshot::channel::<()>();
            let server = tokio::spawn(coordinator.clone().serve(listener, async {
                let _ = stopped.await;
            }));
            let ctx = Ctx::new(&url, Some(&token), None, output)?;
            let own = Own {
                coordinator,
                stop,
                server,
            };
            Ok((ctx, Some(own)))
        }
        Err(CoordinatorError::StateLocked { holder, .. }) => {
            let Some(addr) = listening_address(&holder) else {
                anyhow::bail!(
                    "the local state {} is in use by {holder}, which serves no address yet: try \
                     again in a moment",
                    dir.display()
                );
            };
            let access = Access::load(dir)?
                .ok_or_else(|| anyhow::anyhow!("{}: no access.json", dir.display()))?;
            let ctx = Ctx::new(
                &format!("http://{addr}"),
                Some(&access.client_token),
                None,
                output,
            )?;
            Ok((ctx, None))
        }
        Err(e) => Err(e.into()),
    }
}

/// How to reach the local state in `state_dir` again, as a prefix of commands: none for
/// the default one, `GPTSWEEP_LOCAL_STATE_DIR=DIR ` for another.
pub fn env_prefix(state_dir: &Path) -> String {
    if state_dir == dir() {
        String::new()
    } else {
        format!("{ENV}={} ", shell_word(&state_dir.display().to_string()))
    }
}

/// `s` as one shell word: as it is when it is plain, else single-quoted.
pub fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-+:,=@%".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// The file in the state directory where a running `gptsweep local` notes its dashboard's
/// address (trusted only while it holds the directory).
const DASHBOARD_FILE: &str = "dashboard.addr";

/// Notes the address of the dashboard a `gptsweep local` serves on the state in `dir`.
/// Best effort: without it, `gptsweep dashboard` says to use the URL `local` printed.
pub fn note_dashboard(dir: &Path, addr: std::net::SocketAddr) {
    let _ = std::fs::write(dir.join(DASHBOARD_FILE), addr.to_string());
}

/// The address a running `gptsweep local` noted for its dashboard in `dir`, if any.
pub fn noted_dashboard(dir: &Path) -> Option<std::net::SocketAddr> {
    std::fs::read_to_string(dir.join(DASHBOARD_FILE))
        .ok()?
        .trim()
        .parse()
        .ok()
}
