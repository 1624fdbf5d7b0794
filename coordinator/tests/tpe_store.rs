//! A tpe sweep's store side in-process, with made-up results in place of training: runs
//! are made when a worker asks (inside the lease's write) up to `run_cap`, leases with no
//! result between them get different points, the sweep stays open until every run is made
//! and has ended, runs stopped at a rung count, and the rungs judge a run by its best value
//! so far. On SQLite and on a throwaway PostgreSQL server.

mod common;

use std::collections::BTreeSet;

use common::postgres::Postgres;
use common::{lease as lease_for, submitted};

use gptsweep_api::{Directive, Evaluation, LeasedRun, Outcome, SweepState, WorkerId};
use gptsweep_coordinator::store::{Finish, Report, Store, reads};

/// Six runs: two random ones at submit, four proposed. Four evaluations a run (steps 10
/// to 40); `early` adds rungs at evaluations 1 and 2.
fn sweep(early: bool) -> String {
    let mut yaml = String::from(
        "name: t
method: tpe
run_cap: 6
seed: 3
tpe: {n_startup: 2}
parameters:
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
  n_layer: {min: 1, max: 2}
train: {n_embd: 16, n_head: 2, block_size: 16, batch_size: 8, max_iters: 40, eval_interval: 10, eval_iters: 2}
",
    );
    if early {
        yaml += "early_terminate: {type: hyperband, min_iter: 1, eta: 2}\n";
    }
    yaml
}

/// A made-up loss curve: lower the nearer lr is to 1e-3.
fn val_loss(run: &LeasedRun, step: u64) -> f32 {
    let hp: serde_json::Value = serde_json::from_str(&run.hyperparams_json).unwrap();
    let lr = hp["lr"].as_f64().unwrap();
    ((lr.ln() - 1e-3f64.ln()).abs() + 2.0 - step as f64 / 40.0) as f32
}

/// Reports the evaluations at `steps` as `worker` (stopping at the first stop directive),
/// then ends the attempt finished or stopped accordingly; answers whether it was stopped.
async fn train(store: &Store, worker: WorkerId, run: &LeasedRun, steps: &[u64]) -> bool {
    let mut stopped = false;
    for &step in steps {
        let e = Evaluation {
            step,
            train_loss: 2.0,
            val_loss: val_loss(run, step),
            train_bpc: 0.0,
            val_bpc: 0.0,
            tokens_per_sec: 1.0,
            train_secs: 1.0,
        };
        let d = store
            .write(Report {
                run: run.run,
                lease: run.lease,
                worker,
                evals: vec![e],
                lease_ms: 60_000,
            })
            .await
            .unwrap();
        if d != Directive::Continue {
            stopped = true;
            break;
        }
    }
    store
        .write(Finish {
            run: run.run,
            lease: run.lease,
            worker,
            outcome: if stopped {
                Outcome::Stopped
            } else {
                Outcome::Finished
            },
            error: String::new(),
            samples: Vec::new(),
            summary_json: String::new(),
            max_attempts: 3,
        })
        .await
        .unwrap();
    stopped
}

#[tokio::test]
async fn a_tpe_sweep_makes_its_runs_as_workers_ask_up_to_its_cap() {
    runs_to_the_cap(None, false).await;
}

#[tokio::test]
async fn a_tpe_sweep_makes_its_runs_as_workers_ask_up_to_its_cap_on_postgres() {
    if let Some(pg) = Postgres::start() {
        runs_to_the_cap(Some(&pg), false).await;
    }
}

#[tokio::test]
async fn a_tpe_sweep_with_early_termination_proposes_past_stopped_runs_and_ends() {
    runs_to_the_cap(None, true).await;
}

#[tokio::test]
async fn a_tpe_sweep_with_early_termination_proposes_past_stopped_runs_and_ends_on_postgres() {
    if let Some(pg) = Postgres::start() {
        runs_to_the_cap(Some(&pg), true).await;
    }
}

async fn runs_to_the_cap(pg: Option<&Postgres>, early: bool) {
    let dir = tempfile::tempdir().unwrap();
    let (store, pool, id, worker) = submitted(dir.path(), pg, &sweep(early)).await;
    let info = reads::sweep_info(&pool, id).await.unwrap();
    assert_eq!((info.proposed, info.run_cap, info.runs.queued), (2, 6, 2));
    assert_eq!(
        info.evals_expected, 24,
        "unmade runs count at the base length"
    );

    // Three workers ask before anyone reports: the two startup runs, then a third made
    // on the spot (random: no startup run has a result yet), each a different point.
    let mut leased = Vec::new();
    for _ in 0..3 {
        leased.push(
            lease_for(&store, worker, 60_000)
                .await
                .expect("a run for every ask"),
        );
    }
    let points: BTreeSet<&str> = leased.iter().map(|r| r.hyperparams_json.as_str()).collect();
    assert_eq!(points.len(), 3, "{points:?}");
    let info = reads::sweep_info(&pool, id).await.unwrap();
    assert_eq!(
        (info.proposed, info.runs.running, info.runs.queued),
        (3, 3, 0)
    );

    let steps = [10, 20, 30, 40];
    let mut stopped = 0;
    for run in &leased {
        stopped += usize::from(train(&store, worker, run, &steps).await);
    }
    // Every run made so far has ended, but three are still to be made: the sweep is open.
    let info = reads::sweep_info(&pool, id).await.unwrap();
    assert_eq!(info.state, SweepState::Running);
    assert_eq!(info.proposed, 3);

    let mut all: Vec<LeasedRun> = leased;
    while let Some(run) = lease_for(&store, worker, 60_000).await {
        stopped += usize::from(train(&store, worker, &run, &steps).await);
        all.push(run);
    }
    let info = reads::sweep_info(&pool, id).await.unwrap();
    assert_eq!(info.state, SweepState::Finished, "{info:?}");
    assert_eq!((info.proposed, info.run_cap), (6, 6));
    assert_eq!(info.runs.finished as usize + stopped, 6);
    assert_eq!(info.runs.stopped as usize, stopped);
    let points: BTreeSet<&str> = all.iter().map(|r| r.hyperparams_json.as_str()).collect();
    assert_eq!(points.len(), 6, "six distinct runs: {points:?}");
    if early {
        assert!(
            stopped > 0,
            "made-up losses far from lr 1e-3 are stopped at a rung"
        );
    } else {
        assert_eq!(stopped, 0);
    }
    assert!(
        lease_for(&store, worker, 60_000).await.is_none(),
        "nothing past the cap"
    );
    store.close().await;
}

#[tokio::test]
async fn a_rung_judges_a_run_by_its_best_value_so_far() {
    // Two runs, a rung at evaluation 2 (step 20). The first was at 1.0 at step 10 and
    // 3.0 at step 20; the second 2.0 at both. Judged at step 20 by the values there, the
    // second would be the better; by the best so far it is the worse, and is stopped.
    let dir = tempfile::tempdir().unwrap();
    let yaml = "name: g
method: grid
parameters:
  lr: {values: [0.001, 0.002]}
train: {n_embd: 16, n_head: 2, n_layer: 1, block_size: 16, batch_size: 8, max_iters: 40, eval_interval: 10, eval_iters: 2}
early_terminate: {type: hyperband, min_iter: 2, eta: 2}
";
    let (store, _pool, _id, worker) = submitted(dir.path(), None, yaml).await;
    let a = lease_for(&store, worker, 60_000).await.unwrap();
    let b = lease_for(&store, worker, 60_000).await.unwrap();
    let report = |run: &LeasedRun, losses: [f32; 2]| {
        let evals = [10, 20]
            .iter()
            .zip(losses)
            .map(|(step, val_loss)| Evaluation {
                step: *step,
                train_loss: 2.0,
                val_loss,
                train_bpc: 0.0,
                val_bpc: 0.0,
                tokens_per_sec: 1.0,
                train_secs: 1.0,
            })
            .collect();
        store.write(Report {
            run: run.run,
            lease: run.lease,
            worker,
            evals,
            lease_ms: 60_000,
        })
    };
    assert_eq!(report(&a, [1.0, 3.0]).await.unwrap(), Directive::Continue);
    let Directive::Stop(reason) = report(&b, [2.0, 2.0]).await.unwrap() else {
        panic!("the second run continues")
    };
    assert!(
        reason.starts_with("early-terminated at evaluation 2 (step 20): val_loss 2.0000")
            && reason.contains("cutoff 1.5000"),
        "{reason}"
    );
    store.close().await;
}
