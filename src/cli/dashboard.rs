//! The dashboard's address, shared by `gptsweep coordinator` and `gptsweep local`: `off`,
//! or a host:port to listen on (port 0 picks a free one), bound before the coordinator
//! opens its state so that a taken port leaves nothing behind.

use std::net::SocketAddr;

use tokio::net::TcpListener;

use super::bad_input::BadInput;

/// Listens on `--dashboard ADDR`; `None` for `off`.
pub async fn bind(addr: &str) -> anyhow::Result<Option<TcpListener>> {
    if addr.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let parsed: SocketAddr = tokio::net::lookup_host(addr)
        .await
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| {
            BadInput(format!(
                "--dashboard {addr}: not a host:port to listen on (or off)"
            ))
        })?;
    TcpListener::bind(parsed).await.map(Some).map_err(|e| {
        anyhow::anyhow!("--dashboard {addr}: {e} (give another address, or --dashboard off)")
    })
}

/// The URL of a dashboard listening on `addr`.
pub fn url(addr: SocketAddr, tls: bool) -> String {
    format!("{}://{addr}/", if tls { "https" } else { "http" })
}
