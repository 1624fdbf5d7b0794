//! A running run says where it is between its evaluations (issue 31, item 3): its worker
//! sends the latest step and its throughput with each heartbeat, and `show` prints the
//! step out of `max_iters`, tok/s, the ETA, the report's age and the worker; `top` gains
//! STEP and ETA columns; `--output json` carries the same fields. A live-progress report
//! is checked like an evaluation: another worker's is PERMISSION_DENIED, a NaN throughput
//! or a step past `max_iters` INVALID_ARGUMENT, and none of them is kept.
//!
//! The sweep's two runs are long (2,000,000 steps) and evaluate every 1,000,000: a tiny model
//! on the CPU trains for minutes between evaluations. A raw gRPC client registered as a
//! worker of its own leases one run (its progress is what it says, so `show` is asserted
//! to the digit); the real worker trains the other.

mod common;
mod raw_worker;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use serde_json::Value;
use tonic::{Code, Status};

use common::http::get;
use common::{Cluster, TinySweep, eval_steps, wait_until};
use gptsweep_coordinator::access::Access;
use gptsweep_proto::client::{self, Stamp};
use gptsweep_proto::pb;
use raw_worker::Conn;

const HEARTBEAT: &str = "/gptsweep.v1.Workers/Heartbeat";

/// Steps a run trains: far more than the test watches.
const MAX_ITERS: u64 = 2_000_000;
/// Steps between evaluations: the first is many minutes away (a tiny run trains about
/// 1,200 steps a second on an idle core).
const EVAL_INTERVAL: u64 = 1_000_000;
/// Tokens of one step of the tiny model: batch_size 8 x block_size 16.
const TOKENS_PER_STEP: f64 = 128.0;
/// Seconds of lease: a heartbeat every 1.5 s.
const LEASE_TIMEOUT: f64 = 6.0;

/// A heartbeat of `lease` of `run`, saying `step` at `tokens_per_sec`.
fn beat(run: i64, lease: i64, step: u64, tokens_per_sec: f64) -> pb::HeartbeatRequest {
    pb::HeartbeatRequest {
        run_id: run,
        lease_id: lease,
        step,
        tokens_per_sec: Some(tokens_per_sec),
    }
}

/// Keeps `lease` of `run` alive for the client registered as `worker` with `key`, a
/// heartbeat without progress a second (what it said is kept), until `stop` is set: on a
/// thread of its own, the client's connection being a one-thread one.
fn keep_alive(
    addr: String,
    token: String,
    (worker, key): (i64, String),
    (run, lease): (i64, i64),
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let conn = Conn::new(&addr, &token);
            conn.set_worker(worker, &key);
            while !stop.load(Ordering::Relaxed) {
                let req = pb::HeartbeatRequest {
                    run_id: run,
                    lease_id: lease,
                    step: 0,
                    tokens_per_sec: None,
                };
                conn.unary::<_, pb::HeartbeatReply>(HEARTBEAT, &req)
                    .await
                    .expect("the client's own lease holds");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        })
    })
}

/// Asserts that `status` has `code` and the message `says`.
fn refused(status: &Status, code: Code, says: &str) {
    assert_eq!(status.code(), code, "{status:?}");
    assert_eq!(status.message(), says, "{status:?}");
}

/// The `progress: ...` line of `show`'s text.
fn progress_line(text: &str) -> &str {
    text.lines()
        .find(|l| l.starts_with("progress: "))
        .unwrap_or_else(|| panic!("no progress line in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_says_where_a_running_run_is_between_evaluations() {
    live_progress(Cluster::start(0, LEASE_TIMEOUT)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_says_where_a_running_run_is_between_evaluations_on_postgres() {
    if let Some(c) = Cluster::start_postgres(0, LEASE_TIMEOUT) {
        live_progress(c).await;
    }
}

/// The test on `c`, a coordinator without workers.
async fn live_progress(mut c: Cluster) {
    let sweep = TinySweep::new("long")
        .grid("seed", &[1, 2])
        .max_iters(MAX_ITERS)
        .eval_interval(EVAL_INTERVAL)
        .no_samples();
    assert_eq!(c.submit(&sweep)["runs"], 2);
    let access: Access =
        serde_json::from_str(&std::fs::read_to_string(c.token_file()).unwrap()).unwrap();

    // A client registered as a worker of its own leases one run before the real worker
    // starts.
    let own =
        raw_worker::register_and_lease(&c.addr().to_string(), &access.worker_token, "forger").await;
    let (forger, forger_id) = (own.conn, own.worker_id);
    let (own_run, own_lease) = (own.run_id, own.lease_id);
    let stop = Arc::new(AtomicBool::new(false));
    let alive = keep_alive(
        c.addr().to_string(),
        access.worker_token.clone(),
        (forger_id, own.worker_key.clone()),
        (own_run, own_lease),
        stop.clone(),
    );

    // Its own progress, out of range: a NaN or negative throughput, a step past max_iters.
    let bad = [
        (
            beat(own_run, own_lease, 10, f64::NAN),
            "tokens_per_sec = NaN: must be finite and >= 0".to_string(),
        ),
        (
            beat(own_run, own_lease, 10, -1.0),
            "tokens_per_sec = -1: must be finite and >= 0".to_string(),
        ),
        (
            beat(own_run, own_lease, MAX_ITERS + 1, 100.0),
            format!(
                "step = {}: must be <= {MAX_ITERS}, the run's max_iters",
                MAX_ITERS + 1
            ),
        ),
    ];
    for (req, says) in bad {
        let status = forger
            .unary::<_, pb::HeartbeatReply>(HEARTBEAT, &req)
            .await
            .expect_err(&says);
        refused(&status, Code::InvalidArgument, &says);
    }
    let show = c.json(&["show", &own_run.to_string()]);
    assert_eq!(show["state"], "running");
    assert_eq!(show["progress"], Value::Null, "nothing refused is kept");

    // Its own progress, in range: kept as said, the ETA from its throughput.
    let _: pb::HeartbeatReply = forger
        .unary(HEARTBEAT, &beat(own_run, own_lease, 1234, 20_480.0))
        .await
        .unwrap();
    let show = c.json(&["show", &own_run.to_string()]);
    let p = &show["progress"];
    assert_eq!(p["step"], 1234, "{show}");
    assert_eq!(p["max_iters"], MAX_ITERS);
    assert_eq!(p["tokens_per_sec"], 20_480.0);
    let eta_own = (MAX_ITERS - 1234) as f64 * TOKENS_PER_STEP / 20_480.0;
    assert_eq!(p["eta_secs"].as_f64().unwrap(), eta_own);
    assert_eq!(p["worker"], format!("forger#{forger_id}"));
    assert!(p["age_ms"].as_u64().unwrap() < 60_000, "{p}");
    let text = c.cli(&["show", &own_run.to_string()]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    // 1,998,766 steps of 128 tokens at 20,480 tok/s: 12,492.3 s.
    let line = progress_line(&text);
    assert!(
        line.starts_with(
            "progress: step 1,234 / 2,000,000 (0.1%), 20,480 tok/s, ETA 3h28m; reported "
        ),
        "{line}"
    );
    assert!(
        line.ends_with(&format!(" ago by forger#{forger_id}")),
        "{line}"
    );

    // The real worker trains the other run; its heartbeats say where it is.
    c.add_worker();
    let real_run = wait_until(
        "the real worker's run to report progress",
        Duration::from_secs(180),
        || {
            let top = c.json(&["top", "long"]);
            top.as_array()?
                .iter()
                .find(|r| r["run"] != own_run && !r["progress"].is_null())
                .map(|r| r["run"].as_i64().unwrap())
        },
    );
    let run = real_run.to_string();
    let first = c.json(&["show", &run]);
    let p = &first["progress"];
    let step = p["step"].as_u64().unwrap();
    let evals = eval_steps(&first);
    let last_eval = evals.last().copied().unwrap_or(0);
    assert!(
        last_eval < step && step < last_eval + EVAL_INTERVAL,
        "step {step} is not strictly between evaluations {evals:?} and the next: {first}"
    );
    assert_eq!(first["state"], "running");
    assert_eq!(p["max_iters"], MAX_ITERS);
    let rate = p["tokens_per_sec"].as_f64().unwrap();
    assert!(rate > 0.0, "{p}");
    let eta = (MAX_ITERS - step) as f64 * TOKENS_PER_STEP / rate;
    assert!(
        (p["eta_secs"].as_f64().unwrap() - eta).abs() <= 1e-6 * eta,
        "{p}"
    );
    assert!(p["worker"].as_str().unwrap().starts_with("w0#"), "{p}");

    // The text says the same, and the step moves on between evaluations.
    let later = wait_until("the step to move on", Duration::from_secs(60), || {
        let out = c.cli(&["show", &run]);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let line = progress_line(&text).to_string();
        let digits: String = line
            .strip_prefix("progress: step ")?
            .split(' ')
            .next()?
            .replace(',', "");
        let now: u64 = digits.parse().ok()?;
        (now > step).then_some((now, line))
    });
    let (now, line) = later;
    eprintln!("show {run}: {line} (first seen at step {step}, evaluations {evals:?})");
    assert!(now < EVAL_INTERVAL, "{line}");
    assert!(line.contains(" / 2,000,000 ("), "{line}");
    assert!(line.contains(" tok/s, ETA "), "{line}");
    assert!(line.contains(" ago by w0#"), "{line}");

    // Another worker's progress for the real worker's lease is refused and not kept.
    let mut clients = client::clients(
        client::channel(&c.url, None).unwrap(),
        Stamp::new(Some(&access.client_token)).unwrap(),
    );
    let lease = clients
        .show_run(pb::ShowRunRequest { run_id: real_run })
        .await
        .unwrap()
        .into_inner()
        .attempts
        .iter()
        .rev()
        .find(|a| a.state == "running")
        .expect("a running attempt")
        .lease_id;
    let status = forger
        .unary::<_, pb::HeartbeatReply>(HEARTBEAT, &beat(real_run, lease, MAX_ITERS - 1, 1e12))
        .await
        .expect_err("another worker's progress");
    refused(
        &status,
        Code::PermissionDenied,
        &format!("lease {lease} of run {real_run} is not held by worker {forger_id}"),
    );
    let after = c.json(&["show", &run]);
    let p = &after["progress"];
    assert!(p["step"].as_u64().unwrap() < EVAL_INTERVAL, "{after}");
    assert!(p["tokens_per_sec"].as_f64().unwrap() < 1e12, "{after}");
    assert!(p["worker"].as_str().unwrap().starts_with("w0#"), "{after}");

    // `top` shows where each running run is.
    let top = c.cli(&["top", "long"]);
    let top = String::from_utf8_lossy(&top.stdout).to_string();
    eprintln!("{top}");
    let header: Vec<&str> = top
        .lines()
        .nth(1)
        .unwrap_or_default()
        .split_whitespace()
        .collect();
    assert_eq!(
        header[..6],
        ["RANK", "RUN", "STATE", "STEP", "ETA", "seed"],
        "{top}"
    );
    let forged_row = top
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some(own_run.to_string().as_str()))
        .unwrap_or_else(|| panic!("no row of run {own_run} in\n{top}"));
    let cells: Vec<&str> = forged_row.split_whitespace().collect();
    assert_eq!(
        cells[2..5],
        ["running", "1,234/2,000,000", "3h28m"],
        "{top}"
    );

    // The dashboard's leaderboard and run page carry it for their step and ETA cells.
    let view = get(&c.dashboard, "/api/sweeps/long", Some(&access.client_token)).json();
    let row = view["leaderboard"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["run"] == own_run)
        .unwrap_or_else(|| panic!("no run {own_run} in {view}"));
    assert_eq!(row["progress"]["step"], 1234, "{row}");
    assert_eq!(row["progress"]["eta_secs"].as_f64(), Some(eta_own));
    let page = get(
        &c.dashboard,
        &format!("/api/runs/{real_run}"),
        Some(&access.client_token),
    )
    .json();
    assert!(page["progress"]["step"].as_u64().unwrap() > 0, "{page}");
    stop.store(true, Ordering::Relaxed);
    alive.join().unwrap();
}
