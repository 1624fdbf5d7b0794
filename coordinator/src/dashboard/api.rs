//! The JSON behind the pages, each a read the CLI's verbs also make: the sweeps
//! (`gptsweep sweeps`), a sweep with its leaderboard, its axes and its importance (`top`,
//! `importance`), every run's curves, one run in full (`show`). Errors are
//! `{"error": "..."}` with 404 for what does not exist, 400 for a malformed path.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::http::header::CACHE_CONTROL;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use gptsweep_api::{ImportanceReport, LeaderboardRow, RunCurves, RunDetail, RunId, SweepSummary};

use super::Dashboard;
use super::auth::Client;
use crate::error::CoordinatorError;
use crate::store::reads;
use crate::sweep::param::{Distribution, Param};

/// A failed read, answered as JSON.
pub struct ApiError(CoordinatorError);

impl From<CoordinatorError> for ApiError {
    fn from(e: CoordinatorError) -> Self {
        Self(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            CoordinatorError::NotFound(_) => StatusCode::NOT_FOUND,
            CoordinatorError::Invalid(_) | CoordinatorError::Spec(_) => StatusCode::BAD_REQUEST,
            e if e.is_storage_fault() => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        if status.is_server_error() {
            tracing::error!("dashboard: {}", self.0);
        }
        (
            status,
            Json(serde_json::json!({ "error": self.0.to_string() })),
        )
            .into_response()
    }
}

type Answer<T> = Result<Fresh<T>, ApiError>;

/// A JSON answer that browsers must not cache: the pages poll it while runs train.
pub struct Fresh<T>(T);

impl<T: Serialize> IntoResponse for Fresh<T> {
    fn into_response(self) -> Response {
        ([(CACHE_CONTROL, "no-store")], Json(self.0)).into_response()
    }
}

/// How the parallel-coordinates plot draws one swept hyperparameter.
#[derive(Debug, Serialize)]
pub struct Axis {
    /// The hyperparameter.
    name: String,
    /// `category` (a list of values, in the file's order, or a short integer range),
    /// `log` (a log-uniform range) or `linear` (any other range).
    scale: &'static str,
    /// The listed values of a `category` axis.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    values: Vec<serde_json::Value>,
    /// The bounds of a range.
    #[serde(skip_serializing_if = "Option::is_none")]
    min: Option<f64>,
    /// The bounds of a range.
    #[serde(skip_serializing_if = "Option::is_none")]
    max: Option<f64>,
}

/// `GET /api/sweeps/{sweep}`.
#[derive(Debug, Serialize)]
pub struct SweepView {
    /// The sweep with its progress.
    summary: SweepSummary,
    /// The swept hyperparameters, in the sweep file's order of keys (sorted).
    axes: Vec<Axis>,
    /// Every run, best first.
    leaderboard: Vec<LeaderboardRow>,
    /// Parameter importance, once there are results enough.
    importance: Option<ImportanceReport>,
    /// Why there is no importance yet.
    #[serde(skip_serializing_if = "Option::is_none")]
    importance_note: Option<String>,
}

/// `GET /api/sweeps`: every sweep, newest first.
pub async fn sweeps(_: Client, State(d): State<Dashboard>) -> Answer<Vec<SweepSummary>> {
    Ok(Fresh(reads::list_sweeps(&d.coordinator.store.pool).await?))
}

/// `GET /api/sweeps/{sweep}` (by name or id).
pub async fn sweep(
    _: Client,
    State(d): State<Dashboard>,
    Path(sweep): Path<String>,
) -> Answer<SweepView> {
    let pool = &d.coordinator.store.pool;
    let id = reads::sweep_id(pool, &sweep).await?;
    let spec = reads::sweep_spec(pool, id).await?;
    let leaderboard = reads::top(pool, id, 0, 0).await?;
    let (importance, importance_note) = match reads::importance(pool, id).await {
        Ok(report) => (Some(report), None),
        // Too few results, or nothing that varies: said on the page instead.
        Err(CoordinatorError::Invalid(why)) => (None, Some(why)),
        Err(e) => return Err(e.into()),
    };
    let axes = spec
        .parameters
        .iter()
        .filter_map(|(name, param)| axis(name, param))
        .collect();
    Ok(Fresh(SweepView {
        summary: leaderboard.sweep,
        axes,
        leaderboard: leaderboard.rows,
        importance,
        importance_note,
    }))
}

/// Integer ranges up to this many values are drawn value by value, like a list.
const MAX_INT_CATEGORIES: usize = 16;

/// The axis of a swept hyperparameter; `None` for one that does not vary.
fn axis(name: &str, param: &Param) -> Option<Axis> {
    let (scale, values, min, max) = match param {
        Param::Value(_) => return None,
        Param::Values(vs) if vs.len() < 2 => return None,
        Param::Values(vs) => ("category", vs.clone(), None, None),
        Param::Range {
            min,
            max,
            distribution,
        } => match distribution {
            Distribution::IntUniform if max - min < MAX_INT_CATEGORIES as f64 => (
                "category",
                param.grid_values().unwrap_or_default(),
                None,
                None,
            ),
            Distribution::LogUniformValues => ("log", Vec::new(), Some(*min), Some(*max)),
            _ => ("linear", Vec::new(), Some(*min), Some(*max)),
        },
    };
    Some(Axis {
        name: name.to_string(),
        scale,
        values,
        min,
        max,
    })
}

/// `GET /api/sweeps/{sweep}/curves`: every run that has reported, with its losses.
pub async fn curves(
    _: Client,
    State(d): State<Dashboard>,
    Path(sweep): Path<String>,
) -> Answer<Vec<RunCurves>> {
    let pool = &d.coordinator.store.pool;
    let id = reads::sweep_id(pool, &sweep).await?;
    Ok(Fresh(reads::sweep_curves(pool, id).await?))
}

/// `GET /api/runs/{run}`: parameters, curves, samples and attempts.
pub async fn run(
    _: Client,
    State(d): State<Dashboard>,
    Path(run): Path<String>,
) -> Answer<RunDetail> {
    let id: i64 = run
        .parse()
        .map_err(|_| CoordinatorError::Invalid(format!("{run:?} is not a run id (a number)")))?;
    Ok(Fresh(
        reads::run_detail(&d.coordinator.store.pool, RunId(id)).await?,
    ))
}

/// Any other path.
pub async fn not_found() -> ApiError {
    ApiError(CoordinatorError::NotFound(
        "no such page; the dashboard is at /".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_swept_parameter_gets_its_axis_and_fixed_ones_none() {
        let scale = |p: &Param| axis("x", p).map(|a| (a.scale, a.values.len()));
        assert_eq!(scale(&Param::Value(1.into())), None);
        assert_eq!(scale(&Param::Values(vec![1.into()])), None);
        assert_eq!(
            scale(&Param::Values(vec!["a".into(), "b".into()])),
            Some(("category", 2))
        );
        assert_eq!(
            scale(&Param::range(1.0, 4.0, Distribution::IntUniform)),
            Some(("category", 4))
        );
        assert_eq!(
            scale(&Param::range(1.0, 1e9, Distribution::IntUniform)),
            Some(("linear", 0))
        );
        assert_eq!(
            scale(&Param::range(1e-4, 1e-2, Distribution::LogUniformValues)),
            Some(("log", 0))
        );
        assert_eq!(
            scale(&Param::range(0.0, 0.3, Distribution::Uniform)),
            Some(("linear", 0))
        );
    }
}
