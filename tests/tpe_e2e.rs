//! `method: tpe` end to end with real processes: a coordinator and two workers train a tpe
//! sweep of the tiny model to its cap. The first runs are queued at submit; each later one
//! is proposed when a worker asks for work, from the results so far, with the runs still
//! training counted as the worst (so the two workers get different points). The
//! coordinator's log names each proposed run by its id, as the CLI does.

mod common;

use std::collections::BTreeSet;

use common::{Cluster, TinySweep, shakespeare};

/// Six runs over lr (log scale) and the layer count, two of them random to start.
fn tpe_sweep() -> TinySweep {
    TinySweep::new("tpe")
        .dataset("corpus.txt")
        .range("lr", 1.0e-4, 1.0e-2, "log_uniform_values")
        .range("n_layer", 1, 2, "int_uniform")
        .tpe(6, 2)
        .max_iters(20)
        .eval_interval(10)
        .no_samples()
}

#[test]
fn two_workers_run_a_tpe_sweep_to_its_cap_with_distinct_runs() {
    tpe_to_the_cap(Cluster::start(2, 10.0));
}

#[test]
fn two_workers_run_a_tpe_sweep_to_its_cap_with_distinct_runs_on_postgres() {
    if let Some(c) = Cluster::start_postgres(2, 10.0) {
        tpe_to_the_cap(c);
    }
}

fn tpe_to_the_cap(c: Cluster) {
    c.write("corpus.txt", &shakespeare(40_000));
    let sub = c.submit(&tpe_sweep());
    assert_eq!(sub["runs"], 6, "the runs it will make: {sub}");

    let status = c.json(&["status", "tpe", "--watch"]);
    assert_eq!(status["state"], "finished", "{}", c.logs());
    assert_eq!(status["runs"]["finished"], 6, "{status}\n{}", c.logs());
    assert_eq!(
        (status["proposed"].as_u64(), status["run_cap"].as_u64()),
        (Some(6), Some(6))
    );
    assert_eq!(status["evals_stored"], 12);
    let text = c.cli(&["status", "tpe"]);
    let text = String::from_utf8_lossy(&text.stdout);
    assert!(
        text.starts_with("tpe [finished] (6 of 6 runs proposed): "),
        "{text}"
    );

    let top = c.json(&["top", "tpe", "-n", "0"]);
    let rows = top.as_array().unwrap();
    assert_eq!(rows.len(), 6);
    let points: BTreeSet<String> = rows.iter().map(|r| r["params"].to_string()).collect();
    assert_eq!(points.len(), 6, "six distinct points: {points:?}");
    for r in rows {
        let lr = r["params"]["lr"].as_f64().unwrap();
        let layers = r["params"]["n_layer"].as_i64().unwrap();
        assert!(
            (1e-4..=1e-2).contains(&lr) && (1..=2).contains(&layers),
            "{r}"
        );
    }
    // Runs 3 to 6 were made as workers asked; the coordinator logs how each was chosen.
    let logs = c.logs();
    let proposed: Vec<&str> = logs.lines().filter(|l| l.contains("proposed by")).collect();
    assert_eq!(proposed.len(), 4, "{logs}");
    assert!(
        proposed
            .iter()
            .any(|l| l.contains("proposed by tpe model fit on whole runs")),
        "{proposed:#?}"
    );
    // They name the runs by the ids the CLI uses (the last four made), not by their place
    // in the sweep.
    let mut ids: Vec<i64> = rows.iter().map(|r| r["run"].as_i64().unwrap()).collect();
    ids.sort();
    let logged: BTreeSet<i64> = proposed
        .iter()
        .map(|l| {
            let field = l.split_whitespace().find_map(|w| w.strip_prefix("run="));
            field
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{l}"))
        })
        .collect();
    assert_eq!(logged, ids[2..].iter().copied().collect(), "{proposed:#?}");
}
