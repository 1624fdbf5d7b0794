//! The coordinator's Prometheus metrics, served as OpenMetrics text at `/metrics` on the
//! dashboard's port (behind the client token: Prometheus sends it with
//! `authorization: {credentials_file: client.token}`).
//!
//! Counters count what this process did since it started (Prometheus' `rate()` and
//! `increase()` handle the restarts); gauges are read at each scrape from the store
//! ([`crate::store::census`]) and the state directory, so they are exact. Names follow
//! Prometheus' conventions: `gptsweep_` prefix, `_total` on counters, base units
//! (seconds, bytes).

use std::path::Path;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use crate::store::WriterMetrics;
use crate::store::census::Census;

/// A label naming what kind of thing a figure is about.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct Kind {
    /// `dataset` or `checkpoint`.
    pub kind: &'static str,
}

/// A run's (or an attempt's) state.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct State {
    /// The state's name, as `gptsweep status` prints it.
    pub state: String,
}

/// The coordinator's metrics; clones share them.
#[derive(Clone, Debug)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// Runs handed to a worker.
    pub leases: Counter,
    /// Leases the reaper expired (their workers went quiet).
    pub leases_expired: Counter,
    /// Reports stored (each a batch of evaluations of one run).
    pub reports: Counter,
    /// Evaluations in stored reports.
    pub reported_evaluations: Counter,
    /// Attempts ended by their worker, by outcome.
    pub attempts_ended: Family<State, Counter>,
    /// Uploads stored, by kind.
    pub uploads: Family<Kind, Counter>,
    /// Bytes of uploads stored, by kind.
    pub upload_bytes: Family<Kind, Counter>,
    runs: Family<State, Gauge>,
    evaluations: Gauge,
    workers_alive: Gauge,
    devices_disabled: Gauge,
    blob_bytes: Family<Kind, Gauge>,
    store_writable: Gauge,
}

impl Metrics {
    /// The metrics, the store writer's among them.
    pub fn new(writer: &WriterMetrics) -> Self {
        let mut registry = Registry::default();
        let r = registry.sub_registry_with_prefix("gptsweep");
        let m = Self {
            registry: Arc::new(Registry::default()),
            leases: Counter::default(),
            leases_expired: Counter::default(),
            reports: Counter::default(),
            reported_evaluations: Counter::default(),
            attempts_ended: Family::default(),
            uploads: Family::default(),
            upload_bytes: Family::default(),
            runs: Family::default(),
            evaluations: Gauge::default(),
            workers_alive: Gauge::default(),
            devices_disabled: Gauge::default(),
            blob_bytes: Family::default(),
            store_writable: Gauge::default(),
        };
        r.register("leases", "Runs handed to workers", m.leases.clone());
        r.register(
            "leases_expired",
            "Leases expired because their worker went quiet (the run requeued or failed)",
            m.leases_expired.clone(),
        );
        r.register(
            "reports",
            "Reports of evaluations stored",
            m.reports.clone(),
        );
        r.register(
            "reported_evaluations",
            "Evaluations in stored reports (a retried report counts again; the evaluations gauge does not)",
            m.reported_evaluations.clone(),
        );
        r.register(
            "attempts_ended",
            "Attempts their worker ended, by outcome",
            m.attempts_ended.clone(),
        );
        r.register("uploads", "Uploads stored, by kind", m.uploads.clone());
        r.register(
            "upload_bytes",
            "Bytes of uploads stored, by kind",
            m.upload_bytes.clone(),
        );
        r.register("runs", "Runs by state", m.runs.clone());
        r.register("evaluations", "Evaluations stored", m.evaluations.clone());
        r.register(
            "workers_alive",
            "Workers that have not left and were heard from within a lease timeout",
            m.workers_alive.clone(),
        );
        r.register(
            "devices_disabled",
            "Devices that alive workers disabled after failing runs in a row",
            m.devices_disabled.clone(),
        );
        r.register(
            "blob_bytes",
            "Bytes of blobs in the state directory, by kind",
            m.blob_bytes.clone(),
        );
        r.register(
            "store_writable",
            "1 while the store's writer commits, 0 while its writes fail (the health service says NOT_SERVING)",
            m.store_writable.clone(),
        );
        writer.register(r);
        Self {
            registry: Arc::new(registry),
            ..m
        }
    }

    /// The text of one scrape, with the gauges set from `census` (kept as they were when
    /// the store could not be read), the blob folders under `state_dir`, and whether the
    /// store is `writable`.
    pub fn render(&self, census: Option<&Census>, state_dir: &Path, writable: bool) -> String {
        if let Some(census) = census {
            self.runs.clear();
            for (state, n) in &census.runs {
                self.runs
                    .get_or_create(&State {
                        state: state.clone(),
                    })
                    .set(*n);
            }
            self.evaluations.set(census.evaluations);
            self.workers_alive.set(census.workers_alive);
            self.devices_disabled.set(census.devices_disabled);
        }
        for (kind, dir) in [("dataset", "datasets"), ("checkpoint", "checkpoints")] {
            self.blob_bytes
                .get_or_create(&Kind { kind })
                .set(folder_bytes(&state_dir.join(dir)));
        }
        self.store_writable.set(i64::from(writable));
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// Bytes of the files directly in `dir` (0 if it cannot be read).
fn folder_bytes(dir: &Path) -> i64 {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len() as i64)
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scrape_names_every_metric_by_the_conventions() {
        let writer = crate::store::WriterMetrics::default_for_tests();
        let m = Metrics::new(&writer);
        m.leases.inc();
        m.uploads.get_or_create(&Kind { kind: "dataset" }).inc();
        let census = Census {
            runs: [("finished".to_string(), 2)].into_iter().collect(),
            evaluations: 7,
            workers_alive: 1,
            devices_disabled: 0,
        };
        let text = m.render(Some(&census), Path::new("/nonexistent"), true);
        for line in [
            "gptsweep_leases_total 1",
            "gptsweep_uploads_total{kind=\"dataset\"} 1",
            "gptsweep_runs{state=\"finished\"} 2",
            "gptsweep_evaluations 7",
            "gptsweep_store_writable 1",
            "# TYPE gptsweep_store_batch_duration_seconds histogram",
        ] {
            assert!(text.lines().any(|l| l == line), "{line:?} in:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"), "{text}");
    }
}
