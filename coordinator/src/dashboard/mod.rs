//! The dashboard: a read-only web view of the store, served by the coordinator on a port
//! of its own (HTTP/1, over TLS when the coordinator serves TLS) beside gRPC. People who
//! run sweeps look at curves, not tables: the pages show the sweeps, a sweep's loss curves
//! (live while it trains), a parallel-coordinates plot of its swept hyperparameters
//! against the metric, its parameter importance and leaderboard, one run in full, and the
//! samples of chosen runs side by side.
//!
//! The page, its script and the charting library (Apache ECharts, from npm) are embedded in
//! the binary ([`assets`]): it works offline, no CDN. The pages read JSON from [`api`],
//! the same reads the CLI's verbs make. Everything but the static files is behind the
//! client token ([`auth`]): the bearer header, or a cookie set by the sign-in form or by
//! opening the URL `gptsweep local` prints (`/?token=...`). Prometheus scrapes
//! `/metrics` there too ([`metrics`]).

mod api;
mod assets;
mod auth;
mod metrics;
mod tls;

use axum::Router;
use axum::routing::{get, post};
use tokio::net::TcpListener;

use crate::domain::Coordinator;
use crate::error::{CoordinatorError, Result};

pub use auth::COOKIE;

/// What every handler sees: the coordinator, and whether the page is served over TLS
/// (its cookie is then `Secure`).
#[derive(Clone, Debug)]
struct Dashboard {
    coordinator: Coordinator,
    secure: bool,
}

fn router(state: Dashboard) -> Router {
    Router::new()
        .route("/", get(auth::index))
        .route("/login", post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/api/sweeps", get(api::sweeps))
        .route("/api/sweeps/{sweep}", get(api::sweep))
        .route("/api/sweeps/{sweep}/curves", get(api::curves))
        .route("/api/runs/{run}", get(api::run))
        .route("/metrics", get(metrics::metrics))
        .route("/static/{*file}", get(assets::file))
        .fallback(api::not_found)
        .with_state(state)
}

impl Coordinator {
    /// Serves the dashboard on `listener` (over TLS when the coordinator has a
    /// certificate) until the coordinator stops serving gRPC: then it accepts nothing
    /// more and returns once the pages under way are answered.
    pub async fn serve_dashboard(self, listener: TcpListener) -> Result<()> {
        let mut stopping = self.stopping.subscribe();
        let shutdown = async move {
            let _ = stopping.wait_for(|s| *s).await;
        };
        let tls = self.config.tls.clone();
        let app = router(Dashboard {
            secure: tls.is_some(),
            coordinator: self,
        });
        let served = match tls {
            Some(identity) => {
                let listener = tls::TlsListener::new(listener, identity.rustls_server_config()?);
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
            None => {
                axum::serve(listener, app)
                    .with_graceful_shutdown(shutdown)
                    .await
            }
        };
        served.map_err(|e| CoordinatorError::Invalid(format!("dashboard server: {e}")))
    }
}
