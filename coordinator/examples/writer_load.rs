//! The store's writer alone, without gRPC: W tasks in this process lease runs, report one
//! evaluation per write and finish, through `Store::write` on the coordinator's SQLite
//! file, as fast as the one writer takes them. Then the floor under it: what one statement
//! costs the writer (a round trip to sqlx-sqlite's connection thread and back), and what
//! the savepoint around every write costs.
//!   cargo run --release -p gptsweep-coordinator --example writer_load -- [workers runs evals]
//! Beside `fleet_load` (the same work over gRPC from 1,000 connections), it says how much
//! of a write's time is the store's and how much the network's.

use std::sync::Arc;
use std::time::Instant;

use sqlx::Connection;

use gptsweep_api::{Evaluation, Outcome, WorkerId};
use gptsweep_coordinator::store::{
    Database, Finish, Lease, RegisterWorker, Report, Store, open_pool,
};
use gptsweep_coordinator::worker_keys::MintedKey;
use gptsweep_coordinator::{Coordinator, CoordinatorConfig};

/// Statements timed for each figure of the floor.
const FLOOR_STATEMENTS: u32 = 20_000;

#[tokio::main]
async fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("integers"))
        .collect();
    let (workers, runs, evals) = (
        a.first().copied().unwrap_or(1000),
        a.get(1).copied().unwrap_or(10_000),
        a.get(2).copied().unwrap_or(10) as u64,
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");

    // The sweep, planned and stored by a coordinator, which then lets go of the file.
    let coordinator = Coordinator::open(CoordinatorConfig::new(state.clone()))
        .await
        .unwrap();
    let seeds: Vec<String> = (0..runs).map(|i| i.to_string()).collect();
    let yaml = format!(
        "name: load\nmethod: grid\nparameters:\n  seed: {{values: [{}]}}\ntrain: {{n_embd: 16, n_head: 2, n_layer: 1, block_size: 8, max_iters: {evals}, eval_interval: 1}}\nsamples: {{count: 0}}\n",
        seeds.join(", "),
    );
    coordinator.submit("load.yaml", &yaml, "").await.unwrap();
    coordinator.close().await;
    drop(coordinator);

    let pool = open_pool(&Database::in_state_dir(&state)).await.unwrap();
    let store = Arc::new(Store::start(pool.clone()));
    let mut ids = Vec::with_capacity(workers);
    for w in 0..workers {
        ids.push(
            store
                .write(RegisterWorker {
                    name: format!("sim{w}"),
                    devices: vec!["cpu".into()],
                    memory: Default::default(),
                    key_sha256: MintedKey::new().sha256,
                })
                .await
                .unwrap(),
        );
    }

    let t = Instant::now();
    let mut tasks = Vec::with_capacity(workers);
    for id in ids {
        let store = store.clone();
        tasks.push(tokio::spawn(work(store, id, evals)));
    }
    let (mut leases, mut reports) = (0u64, 0u64);
    for task in tasks {
        let (l, r) = task.await.unwrap();
        leases += l;
        reports += r;
    }
    let secs = t.elapsed().as_secs_f64();
    let writes = 2 * leases + reports;
    println!(
        "writer alone, {workers} tasks, {runs} runs x {evals} evaluations: {leases} leases ({:.0}/s), {reports} reports ({:.0}/s), {writes} writes ({:.0}/s, {:.0} us each) in {secs:.2} s",
        leases as f64 / secs,
        reports as f64 / secs,
        writes as f64 / secs,
        secs * 1e6 / writes as f64,
    );
    assert_eq!(leases as usize, runs);
    store.close().await;

    // The floor: statements and savepoints on one connection inside one transaction, as
    // the writer runs them.
    let pool = open_pool(&Database::in_state_dir(&state)).await.unwrap();
    let mut conn = pool.acquire().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    let t = Instant::now();
    for i in 0..FLOOR_STATEMENTS {
        sqlx::query("UPDATE workers SET last_seen = ? WHERE id = 1")
            .bind(i64::from(i))
            .execute(&mut *tx)
            .await
            .unwrap();
    }
    let statement = t.elapsed().as_secs_f64() * 1e6 / f64::from(FLOOR_STATEMENTS);
    let t = Instant::now();
    for _ in 0..FLOOR_STATEMENTS {
        let sp = tx.begin().await.unwrap();
        sp.commit().await.unwrap();
    }
    let savepoint = t.elapsed().as_secs_f64() * 1e6 / f64::from(FLOOR_STATEMENTS);
    tx.rollback().await.unwrap();
    drop(conn);
    println!(
        "floor: one statement (UPDATE workers SET last_seen by id) {statement:.1} us; a savepoint and its release {savepoint:.1} us"
    );
    pool.close().await;
}

/// One simulated worker: lease, report every evaluation, finish, until nothing is left.
async fn work(store: Arc<Store>, worker: WorkerId, evals: u64) -> (u64, u64) {
    let (mut leases, mut reports) = (0, 0);
    loop {
        let leased = store
            .write(Lease {
                worker,
                device: "cpu".into(),
                lease_ms: 120_000,
                fit_memory: false,
            })
            .await
            .unwrap();
        let Some(run) = leased else {
            return (leases, reports);
        };
        leases += 1;
        for step in 1..=evals {
            store
                .write(Report {
                    run: run.run,
                    lease: run.lease,
                    worker,
                    evals: vec![Evaluation {
                        step,
                        train_loss: 2.0,
                        val_loss: 2.0 + 1.0 / step as f32,
                        train_bpc: 3.0,
                        val_bpc: 3.0,
                        tokens_per_sec: 1.0,
                        train_secs: step as f64,
                    }],
                    lease_ms: 120_000,
                })
                .await
                .unwrap();
            reports += 1;
        }
        store
            .write(Finish {
                run: run.run,
                lease: run.lease,
                worker,
                outcome: Outcome::Finished,
                error: String::new(),
                samples: Vec::new(),
                summary_json: String::new(),
                max_attempts: 3,
            })
            .await
            .unwrap();
    }
}
