//! A gRPC client that is not gptsweep's worker, holding the shared worker token, cannot
//! poison a sweep that a real worker trains (issue 29, point 3). The client is the fleet
//! bench's raw HTTP/2 one (`examples/fleet_load/grpc.rs`), which sends whatever it is told:
//!
//! - (a) without a worker key, or with the real worker's id and a wrong key, every call
//!   about the real worker's lease is UNAUTHENTICATED;
//! - (b) registered as a worker of its own, its Report, Heartbeat, PutCheckpoint,
//!   GetCheckpoint and Finish for the real worker's lease are PERMISSION_DENIED;
//! - (c) its Lease, DisableDevice and Deregister for the real worker's id are too, and the
//!   real worker works on;
//! - (d) on a lease of its own, evaluations out of range (a loss of -inf, -5 or NaN, step 0,
//!   steps going backwards, a step past `max_iters`) are INVALID_ARGUMENT naming the field.
//!
//! Then the sweep finishes, and exactly the real worker's evaluations are stored.

mod common;
mod raw_worker;

use std::time::{Duration, Instant};

use serde_json::Value;
use tonic::{Code, Status};

use common::{Cluster, TinySweep, eval_steps, wait_until};
use gptsweep_coordinator::access::Access;
use gptsweep_proto::client::{self, Clients, Stamp};
use gptsweep_proto::pb;
use raw_worker::{Conn, LEASE};

const REPORT: &str = "/gptsweep.v1.Workers/Report";
const HEARTBEAT: &str = "/gptsweep.v1.Workers/Heartbeat";
const FINISH: &str = "/gptsweep.v1.Workers/Finish";
const PUT_CHECKPOINT: &str = "/gptsweep.v1.Workers/PutCheckpoint";
const GET_CHECKPOINT: &str = "/gptsweep.v1.Workers/GetCheckpoint";
const DISABLE_DEVICE: &str = "/gptsweep.v1.Workers/DisableDevice";
const DEREGISTER: &str = "/gptsweep.v1.Workers/Deregister";

/// The sweep's runs: the forging client leases one and hands it back; the real worker
/// trains them all.
const RUNS: u64 = 3;
/// Steps a run trains: long enough that the real worker holds a lease while the forged
/// calls are made (a run trained for 0.5 s at 600 steps, and the calls of (a) to (c) took
/// 40 ms, on a loaded 2-core machine).
const MAX_ITERS: u64 = 1500;
/// Steps between evaluations.
const EVAL_INTERVAL: u64 = 500;
/// The value every forged evaluation carries: it would rank first.
const FORGED_LOSS: f32 = 0.01;

/// The calls that name a lease.
#[derive(Debug, Clone, Copy)]
enum LeaseCall {
    Report,
    Heartbeat,
    PutCheckpoint,
    GetCheckpoint,
    Finish,
}

const LEASE_CALLS: [LeaseCall; 5] = [
    LeaseCall::Report,
    LeaseCall::Heartbeat,
    LeaseCall::PutCheckpoint,
    LeaseCall::GetCheckpoint,
    LeaseCall::Finish,
];

/// A run and the lease that holds it.
#[derive(Debug, Clone, Copy)]
struct Held {
    run: i64,
    lease: i64,
}

/// An evaluation at `step` with validation loss `val_loss`, the rest plausible.
fn eval(step: u64, val_loss: f32) -> pb::EvalPoint {
    pb::EvalPoint {
        step,
        train_loss: 1.0,
        val_loss,
        tokens_per_sec: 1000.0,
        train_secs: 1.0,
        train_bpc: 1.5,
        val_bpc: 1.5,
    }
}

/// Makes `call` about `held` on `conn`, with values that would win the sweep if stored.
async fn forge(conn: &Conn, call: LeaseCall, held: Held) -> Result<(), Status> {
    let (run_id, lease_id) = (held.run, held.lease);
    match call {
        LeaseCall::Report => {
            let req = pb::ReportRequest {
                run_id,
                lease_id,
                evals: vec![eval(EVAL_INTERVAL, FORGED_LOSS)],
            };
            conn.unary::<_, pb::ReportReply>(REPORT, &req)
                .await
                .map(drop)
        }
        LeaseCall::Heartbeat => {
            let req = pb::HeartbeatRequest {
                run_id,
                lease_id,
                step: 1,
                tokens_per_sec: None,
            };
            conn.unary::<_, pb::HeartbeatReply>(HEARTBEAT, &req)
                .await
                .map(drop)
        }
        LeaseCall::PutCheckpoint => {
            let req = pb::CheckpointUpload {
                run_id,
                lease_id,
                step: MAX_ITERS,
                data: b"not a checkpoint".to_vec(),
            };
            conn.unary::<_, pb::PutCheckpointReply>(PUT_CHECKPOINT, &req)
                .await
                .map(drop)
        }
        LeaseCall::GetCheckpoint => {
            let req = pb::GetCheckpointRequest { run_id, lease_id };
            conn.unary::<_, pb::Chunk>(GET_CHECKPOINT, &req)
                .await
                .map(drop)
        }
        LeaseCall::Finish => {
            let req = pb::FinishRequest {
                run_id,
                lease_id,
                outcome: pb::Outcome::Finished as i32,
                summary_json: "{}".into(),
                ..Default::default()
            };
            conn.unary::<_, pb::FinishReply>(FINISH, &req)
                .await
                .map(drop)
        }
    }
}

/// The run `worker` trains now and its lease, as the Clients API shows them.
async fn held_by(clients: &mut Clients, worker: i64) -> Option<Held> {
    let workers = clients
        .list_workers(pb::ListWorkersRequest {})
        .await
        .unwrap()
        .into_inner()
        .workers;
    let run = *workers.iter().find(|w| w.id == worker)?.running.first()?;
    let show = clients
        .show_run(pb::ShowRunRequest { run_id: run })
        .await
        .unwrap()
        .into_inner();
    let attempt = show.attempts.iter().rev().find(|a| a.state == "running")?;
    Some(Held {
        run,
        lease: attempt.lease_id,
    })
}

/// Makes `call` on `conn` about the lease `worker` holds, until it is answered while that
/// lease still held (a FAILED_PRECONDITION says the run ended between looking it up and the
/// call: the next lease is looked up); answers the lease and the refusal. Panics if the
/// coordinator accepts the call.
async fn against_held(
    clients: &mut Clients,
    worker: i64,
    conn: &Conn,
    call: LeaseCall,
) -> (Held, Status) {
    let start = Instant::now();
    loop {
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "worker {worker} held no lease for 120 s"
        );
        let Some(held) = held_by(clients, worker).await else {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        };
        match forge(conn, call, held).await {
            Ok(()) => panic!("{call:?} for {held:?} of worker {worker} was accepted"),
            Err(s) if s.code() == Code::FailedPrecondition => continue,
            Err(s) => return (held, s),
        }
    }
}

/// Asserts that `status` has `code` and a message starting with `start`.
fn refused(status: &Status, code: Code, start: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert!(
        status.message().starts_with(start),
        "{:?} does not start with {start:?}",
        status.message()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_with_the_worker_token_cannot_forge_reports_or_act_for_another_worker() {
    let mut c = Cluster::start(0, 120.0);
    let sweep = TinySweep::new("real")
        .grid("seed", &[1, 2, 3])
        .max_iters(MAX_ITERS)
        .eval_interval(EVAL_INTERVAL)
        .no_samples();
    assert_eq!(c.submit(&sweep)["runs"], RUNS);
    let access: Access =
        serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap();
    let mut clients = client::clients(
        client::channel(&c.url, None).unwrap(),
        Stamp::new(Some(&access.client_token)).unwrap(),
    );
    let addr = c.addr().to_string();

    // The forging client registers as a worker of its own and leases a run before the real
    // worker starts.
    let own = raw_worker::register_and_lease(&addr, &access.worker_token, "forger").await;
    let (forger, forger_id) = (own.conn, own.worker_id);
    let own = Held {
        run: own.run_id,
        lease: own.lease_id,
    };

    c.add_worker();
    let real = wait_until("worker w0 registered", Duration::from_secs(60), || {
        c.json(&["workers"])
            .as_array()?
            .iter()
            .find(|w| w["name"] == "w0")?["id"]
            .as_i64()
    });

    let forging = Instant::now();
    // (a) No worker key, or the real worker's id with a wrong key.
    let bare = Conn::new(&addr, &access.worker_token);
    let impostor = Conn::new(&addr, &access.worker_token);
    impostor.set_worker(real, &"0".repeat(64));
    let wrong_key = format!("wrong key for worker {real}");
    for (conn, says) in [
        (&bare, "no gptsweep-worker header"),
        (&impostor, wrong_key.as_str()),
    ] {
        for call in LEASE_CALLS {
            let (_, status) = against_held(&mut clients, real, conn, call).await;
            refused(&status, Code::Unauthenticated, says);
        }
        let lease = pb::LeaseRequest {
            worker_id: real,
            device: "cpu".into(),
            ..Default::default()
        };
        let status = conn
            .unary::<_, pb::LeaseReply>(LEASE, &lease)
            .await
            .unwrap_err();
        refused(&status, Code::Unauthenticated, says);
    }

    // (b) A registered worker's calls about another worker's lease.
    for call in LEASE_CALLS {
        let (held, status) = against_held(&mut clients, real, &forger, call).await;
        let forbidden = format!(
            "lease {} of run {} is not held by worker {forger_id}",
            held.lease, held.run
        );
        refused(&status, Code::PermissionDenied, &forbidden);
    }

    // (c) Leasing, disabling and leaving for another worker's id.
    let lease = pb::LeaseRequest {
        worker_id: real,
        device: "cpu".into(),
        ..Default::default()
    };
    let disable = pb::DisableDeviceRequest {
        worker_id: real,
        device: "cpu".into(),
        reason: "forged".into(),
    };
    let leave = pb::DeregisterRequest {
        worker_id: real,
        reason: "forged".into(),
    };
    let refusals = [
        forger.unary::<_, pb::LeaseReply>(LEASE, &lease).await.err(),
        forger
            .unary::<_, pb::DisableDeviceReply>(DISABLE_DEVICE, &disable)
            .await
            .err(),
        forger
            .unary::<_, pb::DeregisterReply>(DEREGISTER, &leave)
            .await
            .err(),
    ];
    for (status, what) in refusals
        .iter()
        .zip(["lease", "disable a device", "deregister"])
    {
        let status = status.as_ref().expect("refused");
        let says = format!("worker {forger_id} cannot {what} for worker {real}");
        refused(status, Code::PermissionDenied, &says);
    }

    eprintln!(
        "(a) to (c) took {:?} (a run trains for about a second)",
        forging.elapsed()
    );
    // (d) Values out of range on the client's own lease; its heartbeat shows the lease and
    // the key are good.
    let beat: pb::HeartbeatReply = forger
        .unary(
            HEARTBEAT,
            &pb::HeartbeatRequest {
                run_id: own.run,
                lease_id: own.lease,
                step: 1,
                tokens_per_sec: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(beat.directive, pb::Directive::Continue as i32);
    let out_of_range: [(Vec<pb::EvalPoint>, String); 6] = [
        (
            vec![eval(EVAL_INTERVAL, f32::NEG_INFINITY)],
            "evals[0].val_loss = -inf: must be finite and >= 0".into(),
        ),
        (
            vec![eval(EVAL_INTERVAL, -5.0)],
            "evals[0].val_loss = -5: must be finite and >= 0".into(),
        ),
        (
            vec![eval(EVAL_INTERVAL, f32::NAN)],
            "evals[0].val_loss = NaN: must be finite and >= 0".into(),
        ),
        (
            vec![eval(0, FORGED_LOSS)],
            "evals[0].step = 0: must be >= 1".into(),
        ),
        (
            vec![
                eval(2 * EVAL_INTERVAL, FORGED_LOSS),
                eval(EVAL_INTERVAL, FORGED_LOSS),
            ],
            format!(
                "evals[1].step = {EVAL_INTERVAL}: must be greater than evals[0].step = {}",
                2 * EVAL_INTERVAL
            ),
        ),
        (
            vec![eval(1_000_000_000_000_000_000, FORGED_LOSS)],
            format!(
                "evals[0].step = 1000000000000000000: must be <= {MAX_ITERS}, the run's max_iters"
            ),
        ),
    ];
    for (evals, says) in out_of_range {
        let req = pb::ReportRequest {
            run_id: own.run,
            lease_id: own.lease,
            evals,
        };
        let status = forger
            .unary::<_, pb::ReportReply>(REPORT, &req)
            .await
            .err()
            .unwrap_or_else(|| panic!("a report that {says:?} was accepted"));
        refused(&status, Code::InvalidArgument, &says);
    }
    // Handed back, as a stopping worker does: the real worker trains it.
    let back = pb::FinishRequest {
        run_id: own.run,
        lease_id: own.lease,
        outcome: pb::Outcome::Preempted as i32,
        error: "handed back".into(),
        ..Default::default()
    };
    forger
        .unary::<_, pb::FinishReply>(FINISH, &back)
        .await
        .unwrap();

    // The sweep ends with exactly the real worker's evaluations.
    let status = c.json(&["status", "real", "--watch"]);
    let evals_per_run = MAX_ITERS / EVAL_INTERVAL;
    assert_eq!(status["state"], "finished", "{status}\n{}", c.logs());
    assert_eq!(status["runs"]["finished"], RUNS, "{status}");
    assert_eq!(
        status["evals_stored"],
        RUNS * evals_per_run,
        "the real worker's evaluations and nothing else: {status}"
    );
    let top = c.json(&["top", "real", "-n", "0"]);
    let rows = top.as_array().unwrap();
    assert_eq!(rows.len() as u64, RUNS, "{top}");
    for row in rows {
        let best = row["best_val_loss"].as_f64().unwrap();
        assert!(
            best.is_finite() && best > 0.5 && best as f32 != FORGED_LOSS,
            "a trained loss, not a forged one: {row}"
        );
        assert_eq!(row["steps"], MAX_ITERS, "{row}");
        assert_eq!(row["state"], "finished", "{row}");
    }
    let w0 = |a: &Value| a["worker"].as_str().unwrap().starts_with("w0#");
    for run in 1..=RUNS {
        let show = c.json(&["show", &run.to_string()]);
        assert_eq!(
            eval_steps(&show),
            (1..=evals_per_run)
                .map(|i| i * EVAL_INTERVAL)
                .collect::<Vec<_>>(),
            "{show}"
        );
        for e in show["evals"].as_array().unwrap() {
            let v = e["val_loss"].as_f64().unwrap();
            assert!(v > 0.5 && v as f32 != FORGED_LOSS, "{e}");
        }
        let attempts = show["attempts"].as_array().unwrap();
        let states: Vec<&str> = attempts
            .iter()
            .map(|a| a["state"].as_str().unwrap())
            .collect();
        if run as i64 == own.run {
            assert_eq!(states, ["preempted", "finished"], "{show}");
            assert!(
                attempts[0]["worker"]
                    .as_str()
                    .unwrap()
                    .starts_with("forger#"),
                "{show}"
            );
            assert!(w0(&attempts[1]), "{show}");
        } else {
            assert_eq!(states, ["finished"], "{show}");
            assert!(w0(&attempts[0]), "{show}");
        }
    }
    let workers = c.json(&["workers"]);
    let real_worker = workers
        .as_array()
        .unwrap()
        .iter()
        .find(|w| w["name"] == "w0")
        .unwrap();
    assert_eq!(real_worker["alive"], true, "{real_worker}");
    assert!(real_worker["left"].is_null(), "{real_worker}");
    assert_eq!(
        real_worker["disabled"].as_array().map(Vec::len),
        Some(0),
        "{real_worker}"
    );
    let log = c.worker_log(0);
    assert!(
        !log.contains("lease lost") && !log.contains("refused"),
        "the real worker never lost a lease: {log}"
    );
}
