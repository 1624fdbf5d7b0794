//! Reports, finishes and requests for work queued together are applied as one group of set-based
//! statements (the writer's groups, `Write::apply_many`): each must land exactly as if
//! applied alone, in order, and one whose lease no longer holds, is another worker's or
//! names a step past the run's `max_iters` must be refused alone. On SQLite and PostgreSQL.

mod common;

use common::postgres::Postgres;
use common::{lease, register, submitted};

use gptsweep_api::WorkerId;
use gptsweep_api::{Directive, Evaluation, LeaseId, LeasedRun, Outcome, Sample};
use gptsweep_coordinator::CoordinatorError;
use gptsweep_coordinator::store::{Finish, Lease, RegisterWorker, Report, Store};
use gptsweep_coordinator::worker_keys::MintedKey;

/// Four runs of one tiny model.
const SWEEP: &str = "name: group
method: grid
parameters:
  seed: {values: [1, 2, 3, 4]}
train: {n_embd: 16, n_head: 2, n_layer: 1, block_size: 16, batch_size: 8, max_iters: 30, eval_interval: 10, eval_iters: 2}
";

/// An evaluation at `step` with validation loss `val`.
fn eval(step: u64, val: f32) -> Evaluation {
    Evaluation {
        step,
        train_loss: val + 0.5,
        val_loss: val,
        train_bpc: 0.0,
        val_bpc: val / std::f32::consts::LN_2,
        tokens_per_sec: 100.0 + step as f64,
        train_secs: step as f64,
    }
}

/// A task that queues `worker`'s report of `evals` for `run` under `lease` on its first
/// turn.
fn queue(
    store: &Store,
    worker: WorkerId,
    run: &LeasedRun,
    lease: LeaseId,
    evals: Vec<Evaluation>,
) -> tokio::task::JoinHandle<Result<Directive, CoordinatorError>> {
    let (store, run_id) = (store.clone(), run.run);
    tokio::spawn(async move {
        store
            .write(Report {
                run: run_id,
                lease,
                worker,
                evals,
                lease_ms: 600_000,
            })
            .await
    })
}

#[tokio::test]
async fn reports_queued_together_land_as_if_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    grouped(dir.path(), None).await;
}

#[tokio::test]
async fn reports_queued_together_land_as_if_one_by_one_on_postgres() {
    if let Some(pg) = Postgres::start() {
        let dir = tempfile::tempdir().unwrap();
        grouped(dir.path(), Some(&pg)).await;
    }
}

async fn grouped(dir: &std::path::Path, pg: Option<&Postgres>) {
    let (store, pool, _, worker) = submitted(dir, pg, SWEEP).await;
    let forger = register(&store, "forger").await;
    let mut runs = Vec::new();
    for _ in 0..4 {
        runs.push(lease(&store, worker, 1_000).await.expect("a queued run"));
    }
    let (a, b, c, d) = (&runs[0], &runs[1], &runs[2], &runs[3]);
    // One turn of this (single-threaded) runtime queues them all: one batch, one group.
    let answers = [
        queue(
            &store,
            worker,
            a,
            a.lease,
            vec![eval(10, 2.0), eval(20, 1.5)],
        ),
        queue(&store, worker, b, b.lease, vec![eval(10, 2.2)]),
        // The same run again in the group: applied after the first, so the best stays at
        // step 10 and the latest step moves on to 20.
        queue(&store, worker, b, b.lease, vec![eval(20, 2.4)]),
        // A lease that never held run c: refused, and nothing of it stored.
        queue(
            &store,
            worker,
            c,
            LeaseId(c.lease.get() + 1_000),
            vec![eval(10, 0.1)],
        ),
        // No evaluations: the lease is renewed all the same.
        queue(&store, worker, d, d.lease, vec![]),
        // A step already stored is kept as it was.
        queue(&store, worker, a, a.lease, vec![eval(20, 9.0)]),
        // Another worker's report for run c's real lease: refused, nothing of it stored.
        queue(&store, forger, c, c.lease, vec![eval(30, 0.01)]),
        // A step past the run's max_iters (30): refused, nothing of it stored.
        queue(
            &store,
            worker,
            d,
            d.lease,
            vec![eval(30, 1.0), eval(31, 0.01)],
        ),
    ];
    tokio::task::yield_now().await;
    let mut got = Vec::new();
    for answer in answers {
        got.push(answer.await.unwrap());
    }
    for (i, g) in got.iter().enumerate() {
        match i {
            3 => assert!(
                matches!(g, Err(CoordinatorError::LeaseLost(m)) if m.contains("no longer holds")),
                "{g:?}"
            ),
            6 => assert!(
                matches!(g, Err(CoordinatorError::Forbidden(m))
                    if *m == format!("lease {} of run {} is not held by worker {forger}", c.lease, c.run)),
                "{g:?}"
            ),
            7 => assert!(
                matches!(g, Err(CoordinatorError::Invalid(m))
                    if m == "evals[1].step = 31: must be <= 30, the run's max_iters"),
                "{g:?}"
            ),
            _ => assert_eq!(g.as_ref().unwrap(), &Directive::Continue, "report {i}"),
        }
    }
    let evals: Vec<(i64, i64, f32)> = sqlx::query_as::<_, (i64, i64, f64)>(
        "SELECT run_id, step, val_loss FROM evals ORDER BY run_id, step",
    )
    .fetch_all(&pool)
    .await
    .unwrap()
    .into_iter()
    .map(|(r, s, v)| (r, s, v as f32))
    .collect();
    let (ra, rb) = (a.run.get(), b.run.get());
    assert_eq!(
        evals,
        vec![(ra, 10, 2.0), (ra, 20, 1.5), (rb, 10, 2.2), (rb, 20, 2.4)],
        "every evaluation of a held lease exactly once, the first of a step kept"
    );
    type Stats = (i64, Option<i64>, Option<f64>, i64, Option<f64>, Option<i64>);
    let stats = |run: i64| {
        let pool = pool.clone();
        async move {
            sqlx::query_as::<_, Stats>(
                "SELECT id, best_step, best_val_loss, last_step, last_train_loss, lease_expires_at FROM runs WHERE id = $1",
            )
            .bind(run)
            .fetch_one(&pool)
            .await
            .unwrap()
        }
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let sa = stats(ra).await;
    let f32s = |v: Option<f64>| v.map(|v| v as f32);
    assert_eq!(
        (sa.1, f32s(sa.2), sa.3),
        (Some(20), Some(1.5), 20),
        "{sa:?}"
    );
    let sb = stats(rb).await;
    assert_eq!(
        (sb.1, f32s(sb.2), sb.3, f32s(sb.4)),
        (Some(10), Some(2.2), 20, Some(2.9)),
        "{sb:?}"
    );
    let sc = stats(c.run.get()).await;
    assert_eq!((sc.1, sc.2, sc.3), (None, None, 0), "{sc:?}");
    assert!(
        sc.5.unwrap() < now + 2_000,
        "the refused report renewed nothing: {sc:?}"
    );
    for s in [&sa, &sb, &stats(d.run.get()).await] {
        assert!(
            s.5.unwrap() > now + 500_000,
            "every held lease renewed for the report's 10 minutes: {s:?}"
        );
    }
    store.close().await;
}

/// A task that queues `worker`'s finish of `run` under `lease` with `outcome` on its
/// first turn.
fn queue_finish(
    store: &Store,
    worker: WorkerId,
    run: &LeasedRun,
    lease: LeaseId,
    outcome: Outcome,
    samples: usize,
) -> tokio::task::JoinHandle<Result<(), CoordinatorError>> {
    let (store, run_id) = (store.clone(), run.run);
    tokio::spawn(async move {
        store
            .write(Finish {
                run: run_id,
                lease,
                worker,
                outcome,
                error: if outcome == Outcome::Failed {
                    "out of memory".into()
                } else {
                    String::new()
                },
                samples: (0..samples)
                    .map(|i| Sample {
                        prompt: format!("p{i}"),
                        seed: i as u64,
                        text: format!("text of {run_id} #{i}"),
                    })
                    .collect(),
                summary_json: format!("{{\"run\": {run_id}}}"),
                max_attempts: 3,
            })
            .await
    })
}

#[tokio::test]
async fn finishes_queued_together_land_as_if_one_by_one() {
    let dir = tempfile::tempdir().unwrap();
    grouped_finishes(dir.path(), None).await;
}

#[tokio::test]
async fn finishes_queued_together_land_as_if_one_by_one_on_postgres() {
    if let Some(pg) = Postgres::start() {
        let dir = tempfile::tempdir().unwrap();
        grouped_finishes(dir.path(), Some(&pg)).await;
    }
}

async fn grouped_finishes(dir: &std::path::Path, pg: Option<&Postgres>) {
    let (store, pool, sweep, worker) = submitted(dir, pg, SWEEP).await;
    let forger = register(&store, "forger").await;
    let mut runs = Vec::new();
    for _ in 0..4 {
        runs.push(lease(&store, worker, 600_000).await.expect("a queued run"));
    }
    let (a, b, c, d) = (&runs[0], &runs[1], &runs[2], &runs[3]);
    let answers = [
        queue_finish(&store, worker, a, a.lease, Outcome::Finished, 2),
        queue_finish(&store, worker, b, b.lease, Outcome::Stopped, 0),
        queue_finish(
            &store,
            worker,
            c,
            LeaseId(c.lease.get() + 1_000),
            Outcome::Finished,
            1,
        ),
        queue_finish(&store, worker, d, d.lease, Outcome::Failed, 0),
        // The same finish again (a retry): its lease was let go by the first.
        queue_finish(&store, worker, a, a.lease, Outcome::Finished, 2),
        // Another worker's finish of run c's real lease: refused, c runs on.
        queue_finish(&store, forger, c, c.lease, Outcome::Failed, 0),
    ];
    tokio::task::yield_now().await;
    let mut got = Vec::new();
    for answer in answers {
        got.push(answer.await.unwrap());
    }
    for (i, g) in got.iter().enumerate() {
        match i {
            2 | 4 => assert!(
                matches!(g, Err(CoordinatorError::LeaseLost(m)) if m.contains("no longer holds")),
                "finish {i}: {g:?}"
            ),
            5 => assert!(
                matches!(g, Err(CoordinatorError::Forbidden(m))
                    if *m == format!("lease {} of run {} is not held by worker {forger}", c.lease, c.run)),
                "finish {i}: {g:?}"
            ),
            _ => assert!(g.is_ok(), "finish {i}: {g:?}"),
        }
    }
    /// A run's id, state, summary, error and lease.
    type RunRow = (i64, String, Option<String>, String, Option<i64>);
    let states: Vec<RunRow> =
        sqlx::query_as("SELECT id, state, summary_json, error, lease_id FROM runs ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let summary = |r: &LeasedRun| Some(format!("{{\"run\": {}}}", r.run));
    assert_eq!(
        states,
        vec![
            (
                a.run.get(),
                "finished".into(),
                summary(a),
                String::new(),
                None
            ),
            (
                b.run.get(),
                "stopped".into(),
                summary(b),
                String::new(),
                None
            ),
            (
                c.run.get(),
                "running".into(),
                None,
                String::new(),
                Some(c.lease.get())
            ),
            (
                d.run.get(),
                "queued".into(),
                None,
                "out of memory".into(),
                None
            ),
        ]
    );
    let attempts: Vec<(i64, String, Option<String>)> =
        sqlx::query_as("SELECT run_id, state, reason FROM attempts ORDER BY run_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    let states: Vec<(i64, &str)> = attempts.iter().map(|(r, s, _)| (*r, s.as_str())).collect();
    assert_eq!(
        states,
        vec![
            (a.run.get(), "finished"),
            (b.run.get(), "stopped"),
            (c.run.get(), "running"),
            (d.run.get(), "failed"),
        ]
    );
    assert_eq!(attempts[3].2.as_deref(), Some("out of memory"));
    let samples: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT run_id, idx, text FROM samples ORDER BY run_id, idx")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        samples,
        vec![
            (a.run.get(), 0, format!("text of {} #0", a.run)),
            (a.run.get(), 1, format!("text of {} #1", a.run)),
        ]
    );
    let open: String = sqlx::query_scalar("SELECT state FROM sweeps WHERE id = $1")
        .bind(sweep.get())
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(open, "running", "runs c and d are not done");
    store.close().await;
}

/// A task that queues a request for work from `worker`'s `device` on its first turn.
fn queue_lease(
    store: &Store,
    worker: WorkerId,
    device: &str,
    fit_memory: bool,
) -> tokio::task::JoinHandle<Result<Option<LeasedRun>, CoordinatorError>> {
    let (store, device) = (store.clone(), device.to_string());
    tokio::spawn(async move {
        store
            .write(Lease {
                worker,
                device,
                lease_ms: 60_000,
                fit_memory,
            })
            .await
    })
}

#[tokio::test]
async fn requests_for_work_queued_together_take_the_runs_in_order() {
    let dir = tempfile::tempdir().unwrap();
    grouped_leases(dir.path(), None).await;
}

#[tokio::test]
async fn requests_for_work_queued_together_take_the_runs_in_order_on_postgres() {
    if let Some(pg) = Postgres::start() {
        let dir = tempfile::tempdir().unwrap();
        grouped_leases(dir.path(), Some(&pg)).await;
    }
}

async fn grouped_leases(dir: &std::path::Path, pg: Option<&Postgres>) {
    let (store, pool, _, cpu) = submitted(dir, pg, SWEEP).await;
    let gpus = store
        .write(RegisterWorker {
            name: "gpus".into(),
            devices: vec!["cuda:0".into(), "cuda:1".into(), "cuda:2".into()],
            // cuda:0 holds none of these runs; cuda:1 any one; cuda:2 is of unknown memory.
            memory: [("cuda:0".to_string(), 1), ("cuda:1".to_string(), 1 << 40)].into(),
            key_sha256: MintedKey::new().sha256,
        })
        .await
        .unwrap();
    let first = [
        queue_lease(&store, gpus, "cuda:0", true),
        queue_lease(&store, cpu, "cpu", false),
        queue_lease(&store, WorkerId(9_999), "cpu", false),
        queue_lease(&store, gpus, "cuda:2", true),
        // The same device again: served after the first request of it.
        queue_lease(&store, cpu, "cpu", false),
        // A device of unknown memory that already holds a run (from above) takes no other.
        queue_lease(&store, gpus, "cuda:2", true),
    ];
    tokio::task::yield_now().await;
    let mut got = Vec::new();
    for answer in first {
        got.push(answer.await.unwrap());
    }
    let run_of = |g: &Result<Option<LeasedRun>, CoordinatorError>| {
        g.as_ref()
            .ok()
            .and_then(|r| r.as_ref())
            .map(|r| r.run.get())
    };
    let runs: Vec<i64> = sqlx::query_scalar("SELECT id FROM runs ORDER BY idx")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(
        matches!(&got[0], Ok(None)),
        "cuda:0 has no room: {:?}",
        got[0]
    );
    assert!(
        matches!(&got[2], Err(CoordinatorError::NotFound(m)) if m.contains("worker 9999 is not registered")),
        "{:?}",
        got[2]
    );
    assert!(matches!(&got[5], Ok(None)), "cuda:2 is busy: {:?}", got[5]);
    assert_eq!(
        [run_of(&got[1]), run_of(&got[3]), run_of(&got[4])],
        [Some(runs[0]), Some(runs[1]), Some(runs[2])],
        "the runs in plan order, to the requests in order"
    );
    let attempts: Vec<(i64, i64, String, i64)> = sqlx::query_as(
        "SELECT a.run_id, a.worker_id, a.device, r.lease_id FROM attempts a JOIN runs r ON r.id = a.run_id WHERE r.state = 'running' ORDER BY a.run_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    let leases: Vec<i64> = [&got[1], &got[3], &got[4]]
        .iter()
        .map(|g| g.as_ref().unwrap().as_ref().unwrap().lease.get())
        .collect();
    assert_eq!(
        attempts,
        vec![
            (runs[0], cpu.get(), "cpu".into(), leases[0]),
            (runs[1], gpus.get(), "cuda:2".into(), leases[1]),
            (runs[2], cpu.get(), "cpu".into(), leases[2]),
        ]
    );
    // One run left for two requests: the first takes it.
    let second = [
        queue_lease(&store, gpus, "cuda:1", true),
        queue_lease(&store, cpu, "cpu", false),
    ];
    tokio::task::yield_now().await;
    let mut got = Vec::new();
    for answer in second {
        got.push(answer.await.unwrap());
    }
    assert_eq!(run_of(&got[0]), Some(runs[3]));
    assert!(matches!(&got[1], Ok(None)), "{:?}", got[1]);
    store.close().await;
}
