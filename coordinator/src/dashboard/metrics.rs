//! `GET /metrics`: the coordinator's Prometheus metrics ([`crate::metrics`]) as
//! OpenMetrics text, behind the client token like the rest of the dashboard's data.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::Dashboard;
use super::auth::Client;
use crate::clock::now_ms;
use crate::store::census::census;

/// The exposition format's media type.
const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// One scrape. A store that cannot be read still gets its counters and
/// `gptsweep_store_writable` scraped (the gauges read from it keep their last values).
pub async fn metrics(_: Client, State(state): State<Dashboard>) -> Response {
    let c = &state.coordinator;
    let horizon = now_ms() - c.config.lease_timeout.as_millis() as i64;
    let counted = census(&c.store.pool, horizon).await;
    if let Err(e) = &counted {
        tracing::warn!("metrics: the store could not be counted: {e}");
    }
    let writable = c.store.writable().borrow().is_yes();
    let text = c
        .metrics
        .render(counted.as_ref().ok(), &c.config.state_dir, writable);
    ([(CONTENT_TYPE, OPENMETRICS)], text).into_response()
}
