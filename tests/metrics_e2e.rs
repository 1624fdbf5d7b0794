//! The coordinator's Prometheus metrics on the real binary, scraped and parsed by
//! `prometheus_client`'s OpenMetrics parser (Python): after a sweep, the counters and
//! gauges match what the sweep did, exactly.

mod common;

use std::process::Command;

use common::http::get;
use common::{Cluster, TinySweep, python};
use serde_json::Value;

/// Every sample of one scrape, as `(name, labels, value)`.
fn scrape(c: &Cluster) -> Option<Vec<(String, Value, f64)>> {
    let python = python::python()?;
    let out = Command::new(python)
        .arg(python::script("metrics.py"))
        .arg(&c.dashboard)
        .arg(c.state().join("client.token"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "metrics.py: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["name"].as_str().unwrap().to_string(),
                    v["labels"].clone(),
                    v["value"].as_f64().unwrap(),
                )
            })
            .collect(),
    )
}

/// The value of sample `name` whose labels include `labels` (`[]` for none).
fn value(samples: &[(String, Value, f64)], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l[*k] == *v))
        .unwrap_or_else(|| panic!("no sample {name} {labels:?} in {samples:?}"))
        .2
}

#[test]
fn metrics_parse_with_prometheus_client_and_match_a_sweep_exactly() {
    let c = Cluster::start(2, 5.0);
    let unauthorised = get(&c.dashboard, "/metrics", None);
    assert_eq!(unauthorised.status, 401, "behind the client token");
    let corpus = common::shakespeare(20_000);
    c.write("corpus.txt", &corpus);
    let file = TinySweep::new("counted")
        .dataset("corpus.txt")
        .grid("lr", &[1e-3, 2e-3, 3e-3])
        .max_iters(40)
        .eval_interval(10)
        .write_in(c.dir.path());
    c.json(&["submit", file.to_str().unwrap()]);
    let status = c.json(&["status", "counted", "--watch"]);
    assert_eq!(status["runs"]["finished"], 3, "{status}");
    let Some(samples) = scrape(&c) else {
        return;
    };
    let attempts: usize = c
        .json(&["top", "counted"])
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            let show = c.json(&["show", &row["run"].to_string()]);
            show["attempts"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(attempts, 3, "one attempt a run");
    assert_eq!(value(&samples, "gptsweep_leases_total", &[]), 3.0);
    assert_eq!(
        value(&samples, "gptsweep_runs", &[("state", "finished")]),
        3.0
    );
    assert_eq!(value(&samples, "gptsweep_evaluations", &[]), 12.0);
    assert_eq!(
        value(
            &samples,
            "gptsweep_attempts_ended_total",
            &[("state", "finished")]
        ),
        3.0
    );
    assert!(value(&samples, "gptsweep_reported_evaluations_total", &[]) >= 12.0);
    assert_eq!(
        value(&samples, "gptsweep_uploads_total", &[("kind", "dataset")]),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "gptsweep_upload_bytes_total",
            &[("kind", "dataset")]
        ),
        corpus.len() as f64
    );
    assert_eq!(
        value(&samples, "gptsweep_blob_bytes", &[("kind", "dataset")]),
        corpus.len() as f64
    );
    assert_eq!(value(&samples, "gptsweep_leases_expired_total", &[]), 0.0);
    assert_eq!(value(&samples, "gptsweep_workers_alive", &[]), 2.0);
    assert_eq!(value(&samples, "gptsweep_devices_disabled", &[]), 0.0);
    assert_eq!(value(&samples, "gptsweep_store_writable", &[]), 1.0);
    assert!(
        value(
            &samples,
            "gptsweep_store_batches_total",
            &[("result", "committed")]
        ) > 0.0
    );
    assert!(value(&samples, "gptsweep_store_batch_duration_seconds_count", &[]) > 0.0);
}
