//! `gptsweep extend` end to end with real processes: a finished random sweep gets more
//! runs that continue its seeded draws (the same points a larger cap would have drawn), a
//! finished tpe sweep gets a higher cap that the model fills as the worker asks, and a
//! grid or an unknown sweep is refused with exit code 2 and nothing changed.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

use common::{Cluster, TinySweep};

fn random_sweep(name: &str, run_cap: u32) -> TinySweep {
    TinySweep::new(name)
        .range("lr", 1.0e-4, 1.0e-2, "log_uniform_values")
        .random(run_cap)
        .train("seed", 7u64)
        .no_samples()
}

/// Each run's swept parameters, in plan order.
fn points(c: &Cluster, sweep: &str) -> Vec<String> {
    let top = c.json(&["top", sweep, "-n", "0"]);
    let mut rows: Vec<&Value> = top.as_array().unwrap().iter().collect();
    rows.sort_by_key(|r| r["run"].as_i64());
    rows.iter().map(|r| r["params"].to_string()).collect()
}

fn finished(c: &Cluster, sweep: &str, runs: u64) -> Value {
    let status = c.json(&["status", sweep, "--watch"]);
    assert_eq!(status["state"], "finished", "{status}\n{}", c.logs());
    assert_eq!(status["runs"]["finished"], runs, "{status}\n{}", c.logs());
    status
}

#[test]
fn extend_adds_runs_to_finished_random_and_tpe_sweeps() {
    extend_sweeps(Cluster::start(1, 10.0));
}

#[test]
fn extend_adds_runs_to_finished_random_and_tpe_sweeps_on_postgres() {
    if let Some(c) = Cluster::start_postgres(1, 10.0) {
        extend_sweeps(c);
    }
}

fn extend_sweeps(c: Cluster) {
    // Random: 3 runs, then 2 more, drawn as a 5-run sweep with the same seed draws them.
    c.submit(&random_sweep("rand", 3));
    finished(&c, "rand", 3);
    let before = points(&c, "rand");
    let e = c.json(&["extend", "rand", "--runs", "2"]);
    assert_eq!(
        (&e["run_cap_before"], &e["run_cap"], &e["queued"]),
        (&Value::from(3), &Value::from(5), &Value::from(2)),
        "{e}"
    );
    finished(&c, "rand", 5);
    let after = points(&c, "rand");
    assert_eq!(after[..3], before[..], "the first runs are untouched");
    c.submit(&random_sweep("rand5", 5));
    finished(&c, "rand5", 5);
    assert_eq!(
        after,
        points(&c, "rand5"),
        "extended = planned with the larger cap"
    );

    // Tpe: the cap rises and the model proposes the new runs as the worker asks.
    let tpe = TinySweep::new("tpe")
        .range("lr", 1.0e-4, 1.0e-2, "log_uniform_values")
        .tpe(3, 2)
        .no_samples();
    c.submit(&tpe);
    finished(&c, "tpe", 3);
    let text = c.cli(&["extend", "tpe", "--runs", "2"]);
    assert!(text.status.success(), "{text:?}");
    assert_eq!(
        String::from_utf8_lossy(&text.stdout),
        "tpe: run cap 3 -> 5; each new run is proposed by tpe when a worker asks\n"
    );
    let status = finished(&c, "tpe", 5);
    assert_eq!(
        (status["proposed"].as_u64(), status["run_cap"].as_u64()),
        (Some(5), Some(5))
    );
    let distinct: BTreeSet<String> = points(&c, "tpe").into_iter().collect();
    assert_eq!(distinct.len(), 5);

    // Refused, exit code 2, nothing changed: a grid, an unknown sweep, zero runs.
    c.submit(&TinySweep::new("grid").grid("lr", &[1.0e-3]));
    finished(&c, "grid", 1);
    for (args, says) in [
        (
            vec!["extend", "grid", "--runs", "1"],
            "extend grid: a grid sweep has run every point of its grid",
        ),
        (vec!["extend", "nope", "--runs", "1"], "nope"),
        (vec!["extend", "rand", "--runs", "0"], "--runs"),
    ] {
        let out = c.cli(&args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let status = finished(&c, "grid", 1);
    assert_eq!(status["run_cap"].as_u64(), Some(1), "{status}");
}
