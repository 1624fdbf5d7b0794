//! What the writer counts for Prometheus ([`crate::metrics`]): batches committed and
//! refused, writes committed, how long a batch takes from its first write's arrival to
//! its answers, and the writes waiting in its queue. Kept by the writer itself, so the
//! figures are its own and cost a few atomic adds a batch.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// A batch's fate.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct BatchResult {
    /// `committed` or `refused`.
    pub result: &'static str,
}

/// The writer's counters; clones share them.
#[derive(Clone, Debug)]
pub struct WriterMetrics {
    pub(super) batches: Family<BatchResult, Counter>,
    pub(super) writes: Counter,
    pub(super) batch_seconds: Histogram,
    pub(super) queued: Gauge,
}

impl WriterMetrics {
    /// New, zeroed, outside a store (tests of what renders them).
    #[doc(hidden)]
    pub fn default_for_tests() -> Self {
        Self::new()
    }

    /// New, zeroed.
    pub(super) fn new() -> Self {
        Self {
            batches: Family::default(),
            writes: Counter::default(),
            // 0.25 ms to 4 s.
            batch_seconds: Histogram::new(exponential_buckets(0.000_25, 2.0, 15)),
            queued: Gauge::default(),
        }
    }

    /// Registers them under `registry` (prefixed `store_`).
    pub fn register(&self, registry: &mut Registry) {
        let r = registry.sub_registry_with_prefix("store");
        r.register(
            "batches",
            "Batches of writes the store's writer ended, by whether they committed or were refused (every write of a refused batch was answered as failed)",
            self.batches.clone(),
        );
        r.register(
            "writes",
            "Writes committed by the store's writer",
            self.writes.clone(),
        );
        r.register(
            "batch_duration_seconds",
            "Time from taking a batch off the queue to answering its writes",
            self.batch_seconds.clone(),
        );
        r.register(
            "queued_writes",
            "Writes waiting in the writer's queue",
            self.queued.clone(),
        );
    }

    /// A batch of `writes` ended after `seconds`.
    pub(super) fn batch(&self, committed: bool, writes: usize, seconds: f64) {
        let result = if committed { "committed" } else { "refused" };
        self.batches.get_or_create(&BatchResult { result }).inc();
        if committed {
            self.writes.inc_by(writes as u64);
        }
        self.batch_seconds.observe(seconds);
    }
}
