//! The domain driven as the services drive it, without tonic: a coordinator on a SQLite
//! store in a temporary directory, called with plain types, and the store read back.

use std::time::Duration;

use gptsweep_api::{
    AttemptState, Directive, Evaluation, LeaseId, LeasedRun, Outcome, RunCounts, RunId, RunState,
    WorkerId,
};

use super::*;
use crate::CoordinatorConfig;
use crate::error::CoordinatorError;
use crate::store::reads;

/// Two runs (a grid over depth) on the builtin corpus.
const SWEEP: &str = "\
name: depth
dataset: tinyshakespeare
method: grid
metric: {name: val_loss, goal: minimize}
parameters:
  n_layer: {values: [1, 2]}
train: {block_size: 16, batch_size: 4, n_embd: 16, n_head: 2, max_iters: 500, eval_interval: 250, eval_iters: 2}
";

/// A lease timeout short enough to wait out in a test.
const LEASE: Duration = Duration::from_millis(300);

/// A coordinator on a fresh state directory in `dir`: short leases, 2 attempts a run.
async fn coordinator(dir: &std::path::Path) -> Coordinator {
    let mut config = CoordinatorConfig::new(dir.to_path_buf());
    config.lease_timeout = LEASE;
    config.max_attempts = 2;
    Coordinator::open(config).await.unwrap()
}

/// A worker with one CPU device.
async fn worker(c: &Coordinator) -> WorkerId {
    let cpu = OfferedDevice {
        spec: "cpu".to_string(),
        memory_bytes: 0,
    };
    c.register("w".to_string(), vec![cpu]).await.unwrap().worker
}

/// Leases a run to `w`'s CPU without waiting.
async fn lease_now(c: &Coordinator, w: WorkerId) -> Option<LeasedRun> {
    let ask = LeaseAsk {
        device: "cpu".to_string(),
        fit_memory: false,
        wait: Duration::ZERO,
    };
    c.lease(w, ask).await.unwrap()
}

/// An evaluation at `step`.
fn eval(step: u64) -> Evaluation {
    Evaluation {
        step,
        train_loss: 2.5,
        val_loss: 2.75,
        train_bpc: 3.5,
        val_bpc: 3.75,
        tokens_per_sec: 1000.0,
        train_secs: 1.5,
    }
}

/// The counts of the sweep's runs by state.
async fn counts(c: &Coordinator) -> RunCounts {
    let id = reads::sweep_id(&c.store.pool, "depth").await.unwrap();
    reads::sweep_info(&c.store.pool, id).await.unwrap().runs
}

/// The state of `run` and of each of its attempts, oldest first.
async fn states(c: &Coordinator, run: RunId) -> (RunState, Vec<AttemptState>) {
    let d = reads::run_detail(&c.store.pool, run).await.unwrap();
    (d.state, d.attempts.iter().map(|a| a.state).collect())
}

#[tokio::test]
async fn a_sweep_is_submitted_leased_reported_finished_and_an_expired_lease_reaped() {
    let dir = tempfile::tempdir().unwrap();
    let c = coordinator(dir.path()).await;
    let submitted = c.submit("depth.yaml", SWEEP, "").await.unwrap();
    assert_eq!((submitted.name.as_str(), submitted.runs), ("depth", 2));
    assert_eq!(
        counts(&c).await,
        RunCounts {
            queued: 2,
            ..RunCounts::default()
        }
    );

    let cpu = OfferedDevice {
        spec: "cpu".to_string(),
        memory_bytes: 1 << 30,
    };
    let registered = c.register("w".to_string(), vec![cpu]).await.unwrap();
    assert_eq!(
        (registered.lease_timeout, registered.heartbeat_interval),
        (LEASE, Duration::from_millis(75))
    );
    let w = registered.worker;
    let first = lease_now(&c, w).await.unwrap();
    let second = lease_now(&c, w).await.unwrap();
    assert_eq!((first.attempt, second.attempt), (1, 1));
    assert_ne!(first.run, second.run);
    assert!(lease_now(&c, w).await.is_none());
    assert_eq!(
        counts(&c).await,
        RunCounts {
            running: 2,
            ..RunCounts::default()
        }
    );

    let d = c
        .report(first.run, first.lease, w, vec![eval(250)])
        .await
        .unwrap();
    assert_eq!(d, Directive::Continue);
    let d = c
        .heartbeat(first.run, first.lease, w, Some((300, 900.0)))
        .await
        .unwrap();
    assert_eq!(d, Directive::Continue);
    c.report(first.run, first.lease, w, vec![eval(500)])
        .await
        .unwrap();
    let ended = Ended {
        run: first.run,
        lease: first.lease,
        outcome: Outcome::Finished,
        error: String::new(),
        samples: Vec::new(),
        summary_json: String::new(),
    };
    c.finish(w, ended).await.unwrap();
    let detail = reads::run_detail(&c.store.pool, first.run).await.unwrap();
    assert_eq!(
        detail.evals.iter().map(|e| e.step).collect::<Vec<_>>(),
        vec![250, 500]
    );
    assert_eq!(
        states(&c, first.run).await,
        (RunState::Finished, vec![AttemptState::Finished])
    );

    // The second run's worker goes quiet: nothing expires before its lease runs out.
    assert_eq!(c.reap().await.unwrap(), Vec::<RunId>::new());
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    assert_eq!(c.reap().await.unwrap(), vec![second.run]);
    assert_eq!(
        states(&c, second.run).await,
        (RunState::Queued, vec![AttemptState::Expired])
    );
    assert_eq!(
        counts(&c).await,
        RunCounts {
            queued: 1,
            finished: 1,
            ..RunCounts::default()
        }
    );
    // The lost lease is told so; the run's second attempt is its last.
    let lost = c
        .report(second.run, second.lease, w, vec![eval(250)])
        .await
        .unwrap_err();
    assert!(matches!(lost, CoordinatorError::LeaseLost(_)), "{lost}");
    let again = lease_now(&c, w).await.unwrap();
    assert_eq!((again.run, again.attempt), (second.run, 2));
    tokio::time::sleep(LEASE + Duration::from_millis(100)).await;
    assert_eq!(c.reap().await.unwrap(), vec![second.run]);
    assert_eq!(
        states(&c, second.run).await,
        (
            RunState::Failed,
            vec![AttemptState::Expired, AttemptState::Expired]
        )
    );
    assert_eq!(
        counts(&c).await,
        RunCounts {
            finished: 1,
            failed: 1,
            ..RunCounts::default()
        }
    );
    c.close().await;
}

#[tokio::test]
async fn a_refused_submit_stores_nothing_and_a_bad_report_is_refused_as_invalid() {
    let dir = tempfile::tempdir().unwrap();
    let c = coordinator(dir.path()).await;
    let path = SWEEP.replace("dataset: tinyshakespeare", "dataset: data/corpus.txt");
    let refused = c.submit("p.yaml", &path, "").await.unwrap_err();
    assert_eq!(
        refused.to_string(),
        "p.yaml: dataset data/corpus.txt is a path: upload it first (gptsweep submit does)"
    );
    assert!(matches!(refused, CoordinatorError::Invalid(_)));
    let renamed = c
        .submit_named("depth.yaml", SWEEP, "", "42")
        .await
        .unwrap_err();
    assert_eq!(
        renamed.to_string(),
        "--name: \"42\" must not be a number (numbers refer to sweep ids)"
    );
    assert!(reads::list_sweeps(&c.store.pool).await.unwrap().is_empty());

    c.submit("depth.yaml", SWEEP, "").await.unwrap();
    let w = worker(&c).await;
    let run = lease_now(&c, w).await.unwrap();
    let too_many = vec![eval(250); 10_001];
    let refused = c.report(run.run, run.lease, w, too_many).await.unwrap_err();
    assert_eq!(refused.to_string(), "at most 10000 evaluations per report");
    let nan = Evaluation {
        val_loss: f32::NAN,
        ..eval(250)
    };
    let refused = c
        .report(run.run, run.lease, w, vec![nan])
        .await
        .unwrap_err();
    assert!(matches!(refused, CoordinatorError::Api(_)), "{refused}");
    let no_evals = reads::run_detail(&c.store.pool, run.run).await.unwrap();
    assert!(no_evals.evals.is_empty());
    c.close().await;
}

#[tokio::test]
async fn a_worker_acts_only_for_its_own_id_and_leases() {
    let dir = tempfile::tempdir().unwrap();
    let c = coordinator(dir.path()).await;
    c.submit("depth.yaml", SWEEP, "").await.unwrap();
    let (a, b) = (worker(&c).await, worker(&c).await);
    let forbidden = own_id(a, b.get(), "lease").unwrap_err();
    assert_eq!(
        forbidden.to_string(),
        format!("worker {a} cannot lease for worker {b}: a worker calls only for its own id")
    );
    assert!(own_id(a, a.get(), "lease").is_ok());
    let run = lease_now(&c, a).await.unwrap();
    let refused = c.heartbeat(run.run, run.lease, b, None).await.unwrap_err();
    assert!(
        matches!(refused, CoordinatorError::Forbidden(_)),
        "{refused}"
    );
    assert_eq!(
        refused.to_string(),
        format!(
            "lease {} of run {} is not held by worker {b}",
            run.lease, run.run
        )
    );
    let stale = LeaseId(run.lease.get() + 100);
    let lost = c.heartbeat(run.run, stale, a, None).await.unwrap_err();
    assert!(matches!(lost, CoordinatorError::LeaseLost(_)), "{lost}");
    assert_eq!(
        lost.to_string(),
        format!(
            "lease {stale} no longer holds run {} (the run is running); drop it",
            run.run
        )
    );
    c.close().await;
}

#[tokio::test]
async fn a_lease_poll_waits_for_a_submit_and_ends_when_the_coordinator_stops() {
    let dir = tempfile::tempdir().unwrap();
    let c = coordinator(dir.path()).await;
    let w = worker(&c).await;
    let ask = LeaseAsk {
        device: "cpu".to_string(),
        fit_memory: false,
        wait: Duration::from_secs(20),
    };
    let poll = tokio::spawn({
        let (c, ask) = (c.clone(), ask.clone());
        async move { c.lease(w, ask).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.submit("depth.yaml", SWEEP, "").await.unwrap();
    let leased = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("a submit wakes the poll")
        .unwrap()
        .unwrap();
    assert_eq!(leased.map(|r| r.attempt), Some(1));

    // One run is left; once it is leased, a poll waits until the coordinator stops.
    lease_now(&c, w).await.unwrap();
    let poll = tokio::spawn({
        let c = c.clone();
        async move { c.lease(w, ask).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.stopping.send_replace(true);
    let stopped = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("stopping ends the poll")
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(stopped, CoordinatorError::ShuttingDown),
        "{stopped}"
    );
    assert_eq!(
        tonic::Status::from(stopped).message(),
        "the coordinator is shutting down; retry"
    );
    c.close().await;
}
