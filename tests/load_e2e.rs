//! 200 simulated workers (gRPC clients in this process) lease and report at once against a
//! real coordinator process: every run is held by one worker at a time, every report is
//! stored exactly once, no call fails.

mod common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use common::{Cluster, TinySweep};
use gptsweep_coordinator::access::Access;
use gptsweep_proto::client::{self, Stamp};
use gptsweep_proto::pb;

const WORKERS: usize = 200;
const RUNS: usize = 300;
const EVALS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_workers_lease_and_report_without_double_holders_or_lost_reports() {
    let c = Cluster::start(0, 30.0);
    let access: Access =
        serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap();
    let seeds: Vec<usize> = (0..RUNS).collect();
    // No run is trained here (the workers are simulated): batch size, dropout and
    // evaluation batches stay at the model's defaults, as this file always had them.
    let load = TinySweep::new("load")
        .grid("seed", &seeds)
        .train("block_size", 8)
        .without("batch_size")
        .without("dropout")
        .without("eval_iters")
        .max_iters(EVALS)
        .eval_interval(1)
        .no_samples();
    assert_eq!(c.submit(&load)["runs"], RUNS);

    let holders: Arc<Mutex<HashMap<i64, usize>>> = Arc::default();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..WORKERS {
        let (url, token, holders) = (c.url.clone(), access.worker_token.clone(), holders.clone());
        tasks.push(tokio::spawn(async move {
            let stamp = Stamp::new(Some(&token)).unwrap();
            let key = stamp.worker_slot();
            let mut wc = client::workers(client::channel(&url, None).unwrap(), stamp);
            let device = pb::Device {
                spec: "cpu".into(),
                name: "cpu".into(),
                memory_bytes: 0,
            };
            let registered = wc
                .register(pb::RegisterRequest {
                    name: format!("sim{w}"),
                    devices: vec![device],
                })
                .await
                .unwrap()
                .into_inner();
            let id = registered.worker_id;
            key.set(id, &registered.worker_key).unwrap();
            let (mut leases, mut reports) = (0usize, 0usize);
            loop {
                let lease = wc
                    .lease(pb::LeaseRequest {
                        worker_id: id,
                        device: "cpu".into(),
                        wait_ms: 0,
                        fit_memory: false,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let Some(run) = lease.run else { break };
                let previous = holders.lock().unwrap().insert(run.run_id, w);
                assert_eq!(
                    previous, None,
                    "run {} handed to worker {w} while worker {previous:?} held it",
                    run.run_id
                );
                leases += 1;
                for step in 1..=EVALS {
                    let e = pb::EvalPoint {
                        step,
                        train_loss: 2.0,
                        val_loss: 2.0 + 1.0 / step as f32,
                        train_bpc: 3.0,
                        val_bpc: 3.0,
                        tokens_per_sec: 1.0,
                        train_secs: step as f64,
                    };
                    // Each report is sent twice: the second must be absorbed (stored once).
                    for _ in 0..2 {
                        wc.report(pb::ReportRequest {
                            run_id: run.run_id,
                            lease_id: run.lease_id,
                            evals: vec![e],
                        })
                        .await
                        .unwrap();
                    }
                    reports += 2;
                }
                holders.lock().unwrap().remove(&run.run_id);
                let done = pb::FinishRequest {
                    run_id: run.run_id,
                    lease_id: run.lease_id,
                    outcome: pb::Outcome::Finished as i32,
                    ..Default::default()
                };
                wc.finish(done).await.unwrap();
            }
            (leases, reports)
        }));
    }
    let (mut leases, mut reports) = (0, 0);
    for t in tasks {
        let (l, r) = t.await.unwrap();
        leases += l;
        reports += r;
    }
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "{WORKERS} workers: {leases} leases ({:.0}/s), {reports} reports ({:.0}/s) in {secs:.2}s",
        leases as f64 / secs,
        reports as f64 / secs
    );
    assert_eq!(leases, RUNS, "every run leased exactly once");
    assert_eq!(reports, RUNS * EVALS as usize * 2);
    let status = c.json(&["status", "load"]);
    assert_eq!(status["state"], "finished");
    assert_eq!(status["runs"]["finished"], RUNS);
    assert_eq!(
        status["evals_stored"],
        RUNS as u64 * EVALS,
        "every evaluation stored exactly once"
    );
    assert!(!c.logs().contains("database is locked"), "{}", c.logs());
}
