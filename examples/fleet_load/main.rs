//! A fleet against the real coordinator process: `gptsweep coordinator` is started as a
//! child on a free port with a fresh state directory, then W simulated workers, each over
//! its own HTTP/2 connection (as real workers), connect and register all at once (as after
//! a coordinator restart), and then lease runs, report one evaluation per call and finish,
//! as fast as they can, until the sweep is done. Their calls are unary gRPC calls made
//! straight on the connection ([`grpc`]: why not tonic's channel).
//!
//!   cargo build --release --bin gptsweep --example fleet_load
//!   target/release/examples/fleet_load --workers 1000 --runs 10000 --evals 10
//!
//! Flags:
//! - `--workers W`, `--runs R` (one sweep: at most 10,000), `--evals E` per run;
//! - `--bin PATH`: the gptsweep binary (default: `gptsweep` beside this example's folder);
//! - `--database URL`: passed to the coordinator as `--database` (a PostgreSQL store);
//! - `--lease-wait-ms MS`: the lease long poll (0, the default, answers at once);
//! - `--restart`: once a third of the runs are leased, stop the coordinator (SIGTERM, as
//!   an upgrade would) and start it again on the same port and state, the fleet working on;
//! - `--coordinator-fds N`: start the coordinator with a soft open-file limit of N (the
//!   common default is 1024), to see that it raises it;
//! - `--threads T`: the fleet's threads, each a single-threaded runtime holding every T-th
//!   simulated worker (default: one a core).
//!
//! It prints registration (time, retries, latency), the work phase (leases/s, reports/s,
//! client-side p50/p99 latency of each call), the coordinator's CPU time and memory
//! (VmRSS sampled every 100 ms, VmHWM), the kernel's listen-queue overflows during the run,
//! and checks through the Clients API that every worker registered and every evaluation
//! was stored exactly once; it exits 1 if not. Calls that fail transiently are retried with
//! the worker's own backoff (full jitter), as a real worker's are, and counted.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod grpc;

use gptsweep_proto::client::{self, Clients, Stamp};
use gptsweep_proto::pb;
use gptsweep_worker::backoff::{CAP, retry_with};
use grpc::Conn;
use tokio::sync::Barrier;
use tonic::Status;

// The allocator of the `gptsweep` binary, so a simulated worker allocates as a real one.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Longest the bench waits for the fleet to make progress it watches for (a third of the
/// runs leased, a lease after the restart) before it fails instead of hanging.
const STALL: Duration = Duration::from_secs(120);

/// Polls `done` every millisecond until it holds (true) or [`STALL`] passes (false).
async fn until(done: impl Fn() -> bool) -> bool {
    let t = Instant::now();
    while !done() {
        if t.elapsed() > STALL {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// The Workers service's methods the fleet calls.
const REGISTER: &str = "/gptsweep.v1.Workers/Register";
const LEASE: &str = "/gptsweep.v1.Workers/Lease";
const REPORT: &str = "/gptsweep.v1.Workers/Report";
const FINISH: &str = "/gptsweep.v1.Workers/Finish";

/// Longest a simulated worker keeps trying to register.
const REGISTER_DEADLINE: Duration = Duration::from_secs(60);

/// What the command line asks for.
struct Args {
    workers: usize,
    runs: usize,
    evals: u64,
    bin: PathBuf,
    database: Option<String>,
    lease_wait_ms: u64,
    restart: bool,
    coordinator_fds: Option<u64>,
    threads: usize,
}

fn args() -> Args {
    let mut a = Args {
        workers: 1000,
        runs: 10_000,
        evals: 10,
        bin: std::env::current_exe()
            .ok()
            .and_then(|e| Some(e.parent()?.parent()?.join("gptsweep")))
            .unwrap_or_else(|| PathBuf::from("gptsweep")),
        database: None,
        lease_wait_ms: 0,
        restart: false,
        coordinator_fds: None,
        threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--restart" {
            a.restart = true;
            continue;
        }
        let value = it.next().unwrap_or_else(|| panic!("{flag} needs a value"));
        let number = || -> u64 {
            value
                .parse()
                .unwrap_or_else(|_| panic!("{flag} {value}: not a number"))
        };
        match flag.as_str() {
            "--workers" => a.workers = number() as usize,
            "--runs" => a.runs = number() as usize,
            "--evals" => a.evals = number(),
            "--bin" => a.bin = PathBuf::from(&value),
            "--database" => a.database = Some(value.clone()).filter(|v| !v.is_empty()),
            "--lease-wait-ms" => a.lease_wait_ms = number(),
            "--coordinator-fds" => a.coordinator_fds = Some(number()),
            "--threads" => a.threads = (number() as usize).max(1),
            _ => panic!("unknown flag {flag}"),
        }
    }
    a
}

/// The coordinator child: killed if the bench panics.
struct Coordinator {
    child: Child,
    addr: String,
    log: PathBuf,
}

impl Drop for Coordinator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Coordinator {
    /// Starts `gptsweep coordinator` on `listen` with its state under `dir`; its log is
    /// `coordinator<generation>.log`.
    fn start(a: &Args, dir: &Path, listen: &str, generation: usize) -> Self {
        let log = dir.join(format!("coordinator{generation}.log"));
        let mut argv: Vec<String> = vec![
            "coordinator".into(),
            "--listen".into(),
            listen.into(),
            "--lease-timeout".into(),
            "120".into(),
            "--dashboard".into(),
            "off".into(),
            "--state-dir".into(),
            dir.join("state").display().to_string(),
        ];
        if let Some(db) = &a.database {
            argv.extend(["--database".into(), db.clone()]);
        }
        let mut cmd = match a.coordinator_fds {
            // Through a shell: lowering the soft limit for the child alone needs no unsafe
            // pre_exec here.
            Some(n) => {
                let mut c = Command::new("sh");
                c.args(["-c", &format!("ulimit -Sn {n} && exec \"$0\" \"$@\"")])
                    .arg(&a.bin)
                    .args(&argv);
                c
            }
            None => {
                let mut c = Command::new(&a.bin);
                c.args(&argv);
                c
            }
        };
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", a.bin.display()));
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .split("listening on ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| {
                panic!(
                    "the coordinator did not say where it listens: {line:?}\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                )
            })
            .to_string();
        Self { child, addr, log }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as an operator or a service manager stops it; answers how long it took
    /// to exit (it drains the requests under way and commits every write).
    fn stop(&mut self) -> Duration {
        let t = Instant::now();
        let _ = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status();
        while self.child.try_wait().unwrap().is_none() {
            assert!(
                t.elapsed() < Duration::from_secs(30),
                "the coordinator did not stop within 30 s of SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        t.elapsed()
    }

    /// Its log's ERROR lines and panics.
    fn log_problems(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines()
            .filter(|l| l.contains("ERROR") || l.contains("panicked"))
            .map(str::to_string)
            .collect()
    }
}

/// A field of /proc/<pid>/status, kB.
fn status_kb(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix(field)?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0)
}

/// User + system CPU seconds of a process so far (USER_HZ is 100 on Linux).
fn cpu_secs(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which may hold spaces: state is field 3, utime 14,
    // stime 15.
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(14) + ticks(15)) / 100.0
}

/// The soft open-file limit of a process, from /proc/<pid>/limits.
fn soft_fd_limit(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/limits"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("Max open files")
                .and_then(|r| r.split_whitespace().next().map(str::to_string))
        })
        .unwrap_or_else(|| "?".into())
}

/// The kernel's count of connections dropped because a listen queue was full (all
/// sockets; TcpExt ListenOverflows in /proc/net/netstat).
fn listen_overflows() -> u64 {
    let text = std::fs::read_to_string("/proc/net/netstat").unwrap_or_default();
    let mut lines = text.lines().filter(|l| l.starts_with("TcpExt:"));
    let (Some(names), Some(values)) = (lines.next(), lines.next()) else {
        return 0;
    };
    names
        .split_whitespace()
        .zip(values.split_whitespace())
        .find(|(n, _)| *n == "ListenOverflows")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0)
}

/// Latencies in microseconds, summarised.
fn percentiles(mut v: Vec<u32>) -> String {
    if v.is_empty() {
        return "none".into();
    }
    v.sort_unstable();
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize] as f64 / 1e3;
    format!(
        "p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} calls)",
        p(0.5),
        p(0.99),
        p(1.0),
        v.len()
    )
}

/// Calls `f` as a worker does ([`retry_with`]: the worker's backoff between transient
/// failures); counts the retries in `retries`.
async fn call<T, F, Fut>(retries: &AtomicU64, f: F) -> Result<T, Status>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Status>>,
{
    retry_with(CAP, f, |_| {
        retries.fetch_add(1, Ordering::Relaxed);
    })
    .await
}

/// What one simulated worker saw.
#[derive(Default)]
struct Seen {
    registered: bool,
    register_us: u32,
    leases: u64,
    reports: u64,
    lease_us: Vec<u32>,
    report_us: Vec<u32>,
    finish_us: Vec<u32>,
    failure: Option<String>,
}

fn micros(since: Instant) -> u32 {
    since.elapsed().as_micros().min(u32::MAX as u128) as u32
}

/// Shared by the simulated workers.
struct Fleet {
    /// The sweep's name, and its workers' names' start.
    tag: String,
    evals: u64,
    wait_ms: u64,
    /// Every worker starts registering at once, and working at once.
    start: Barrier,
    work: Barrier,
    retries: AtomicU64,
    leased: AtomicU64,
}

async fn simulated_worker(w: usize, addr: String, token: String, fleet: Arc<Fleet>) -> Seen {
    let mut seen = Seen::default();
    fleet.start.wait().await;
    let t = Instant::now();
    let conn = Conn::new(&addr, &token);
    let req = pb::RegisterRequest {
        name: format!("{}-{w}", fleet.tag),
        devices: vec![pb::Device {
            spec: "cpu".into(),
            name: "cpu".into(),
            memory_bytes: 0,
        }],
    };
    let reg = tokio::time::timeout(
        REGISTER_DEADLINE,
        call(&fleet.retries, || {
            conn.unary::<_, pb::RegisterReply>(REGISTER, &req)
        }),
    )
    .await;
    seen.register_us = micros(t);
    let id = match reg {
        Ok(Ok(r)) => {
            seen.registered = true;
            conn.set_worker(r.worker_id, &r.worker_key);
            Some(r.worker_id)
        }
        Ok(Err(s)) => {
            seen.failure = Some(format!("worker {w}: register: {s}"));
            None
        }
        Err(_) => {
            seen.failure = Some(format!(
                "worker {w}: not registered within {REGISTER_DEADLINE:?}"
            ));
            None
        }
    };
    fleet.work.wait().await;
    let Some(id) = id else { return seen };
    if let Err(s) = work(id, &conn, &fleet, &mut seen).await {
        seen.failure = Some(format!("worker {w}: {s}"));
    }
    seen
}

/// Lease, report every evaluation, finish; again until nothing is left.
async fn work(id: i64, c: &Conn, fleet: &Fleet, seen: &mut Seen) -> Result<(), Status> {
    loop {
        let t = Instant::now();
        let req = pb::LeaseRequest {
            worker_id: id,
            device: "cpu".into(),
            wait_ms: fleet.wait_ms,
            fit_memory: false,
        };
        let lease: pb::LeaseReply = call(&fleet.retries, || c.unary(LEASE, &req)).await?;
        seen.lease_us.push(micros(t));
        let Some(run) = lease.run else {
            return Ok(());
        };
        seen.leases += 1;
        fleet.leased.fetch_add(1, Ordering::Relaxed);
        for step in 1..=fleet.evals {
            let req = pb::ReportRequest {
                run_id: run.run_id,
                lease_id: run.lease_id,
                evals: vec![pb::EvalPoint {
                    step,
                    train_loss: 2.0,
                    val_loss: 2.0 + 1.0 / step as f32,
                    train_bpc: 3.0,
                    val_bpc: 3.0,
                    tokens_per_sec: 1.0,
                    train_secs: step as f64,
                }],
            };
            let t = Instant::now();
            call(&fleet.retries, || {
                c.unary::<_, pb::ReportReply>(REPORT, &req)
            })
            .await?;
            seen.report_us.push(micros(t));
            seen.reports += 1;
        }
        let req = pb::FinishRequest {
            run_id: run.run_id,
            lease_id: run.lease_id,
            outcome: pb::Outcome::Finished as i32,
            ..Default::default()
        };
        let t = Instant::now();
        call(&fleet.retries, || {
            c.unary::<_, pb::FinishReply>(FINISH, &req)
        })
        .await?;
        seen.finish_us.push(micros(t));
    }
}

/// The sweep every worker works on: a grid of `runs` seeds, `evals` evaluations each.
async fn submit(clients: &mut Clients, tag: &str, runs: usize, evals: u64) {
    let seeds: Vec<String> = (0..runs).map(|i| i.to_string()).collect();
    let yaml = format!(
        "name: {tag}\nmethod: grid\nparameters:\n  seed: {{values: [{}]}}\ntrain: {{n_embd: 16, n_head: 2, n_layer: 1, block_size: 8, max_iters: {evals}, eval_interval: 1}}\nsamples: {{count: 0}}\n",
        seeds.join(", "),
    );
    clients
        .submit(pb::SubmitRequest {
            file_name: "fleet.yaml".into(),
            yaml,
            dataset_sha256: String::new(),
            name: String::new(),
        })
        .await
        .unwrap();
}

/// Simulated workers `ids`, on a single-threaded runtime of their own on a thread of its
/// own (as a load generator runs an event loop a core): a call's tasks (the caller,
/// tonic's buffer, hyper's connection) then take turns on one thread instead of waking each
/// other across threads, and a request's frames leave in one write. Each worker still has
/// its own channel, so its own HTTP/2 connection.
fn shard(
    ids: Vec<usize>,
    addr: String,
    token: String,
    fleet: Arc<Fleet>,
) -> tokio::sync::oneshot::Receiver<Vec<Seen>> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let seen = tokio::task::LocalSet::new().block_on(&rt, async move {
            let tasks: Vec<_> = ids
                .into_iter()
                .map(|w| {
                    let worker = simulated_worker(w, addr.clone(), token.clone(), fleet.clone());
                    tokio::task::spawn_local(worker)
                })
                .collect();
            let mut seen = Vec::with_capacity(tasks.len());
            for t in tasks {
                seen.push(t.await.unwrap());
            }
            seen
        });
        let _ = tx.send(seen);
    });
    rx
}

// The simulated fleet runs on its own threads (`shard`); this runtime starts the
// coordinator, samples it and checks the end. One worker thread: the main thread blocks
// while the coordinator stops, and the clients' connection must still answer its GOAWAY.
#[tokio::main(flavor = "multi_thread", worker_threads = 1)]
async fn main() {
    let a = args();
    let own_limit = gptsweep_coordinator::listen::raise_fd_limit();
    let dir = tempfile::tempdir().unwrap();
    let mut coordinator = Coordinator::start(&a, dir.path(), "127.0.0.1:0", 0);
    let url = format!("http://{}", coordinator.addr);
    let pid = Arc::new(AtomicU32::new(coordinator.pid()));
    let access: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("state").join("access.json")).unwrap(),
    )
    .unwrap();
    let token = |k: &str| access[k].as_str().unwrap().to_string();
    let (worker_token, client_token) = (token("worker_token"), token("client_token"));
    let mut clients = client::clients(
        client::channel(&url, None).unwrap(),
        Stamp::new(Some(&client_token)).unwrap(),
    );
    let t = Instant::now();
    // Names of this run's sweep and workers: a store reused between runs (a PostgreSQL
    // server given with --database) still holds the last run's.
    let tag = format!("fleet{}", std::process::id());
    submit(&mut clients, &tag, a.runs, a.evals).await;
    println!(
        "{} workers, {} runs x {} evaluations, {}; submit {:.0} ms; open-file limits: bench {:?}, coordinator {} (soft)",
        a.workers,
        a.runs,
        a.evals,
        a.database.as_deref().unwrap_or("SQLite"),
        t.elapsed().as_secs_f64() * 1e3,
        own_limit.map(|l| l.0),
        soft_fd_limit(coordinator.pid()),
    );
    let rss_before = status_kb(coordinator.pid(), "VmRSS:");
    let overflows_before = listen_overflows();

    // Memory, sampled while the fleet works (of whichever coordinator serves).
    let done = Arc::new(AtomicBool::new(false));
    let peak_rss = Arc::new(AtomicU64::new(0));
    let sampler = {
        let (done, peak, pid) = (done.clone(), peak_rss.clone(), pid.clone());
        tokio::spawn(async move {
            while !done.load(Ordering::Relaxed) {
                peak.fetch_max(
                    status_kb(pid.load(Ordering::Relaxed), "VmRSS:"),
                    Ordering::Relaxed,
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };

    let fleet = Arc::new(Fleet {
        tag: tag.clone(),
        evals: a.evals,
        wait_ms: a.lease_wait_ms,
        start: Barrier::new(a.workers + 1),
        work: Barrier::new(a.workers + 1),
        retries: AtomicU64::new(0),
        leased: AtomicU64::new(0),
    });
    let shards: Vec<_> = (0..a.threads)
        .map(|i| {
            let ids = (i..a.workers).step_by(a.threads).collect();
            shard(
                ids,
                coordinator.addr.clone(),
                worker_token.clone(),
                fleet.clone(),
            )
        })
        .collect();
    let coordinator_cpu = || cpu_secs(&pid.load(Ordering::Relaxed).to_string());
    let cpu0 = (coordinator_cpu(), cpu_secs("self"));
    let t_register = Instant::now();
    fleet.start.wait().await;
    fleet.work.wait().await;
    let register_secs = t_register.elapsed().as_secs_f64();
    let register_retries = fleet.retries.swap(0, Ordering::Relaxed);
    let rss_registered = status_kb(coordinator.pid(), "VmRSS:");
    let cpu1 = (coordinator_cpu(), cpu_secs("self"));
    let t_work = Instant::now();

    // The restart, while the fleet works.
    let mut cpu_of_first = 0.0;
    let mut restart_line = None;
    let mut problems = Vec::new();
    if a.restart {
        if !until(|| fleet.leased.load(Ordering::Relaxed) >= a.runs as u64 / 3).await {
            problems.push(format!("a third of the runs not leased within {STALL:?}"));
        }
        let leased = fleet.leased.load(Ordering::Relaxed);
        cpu_of_first = coordinator_cpu() - cpu1.0;
        let stopping = coordinator.stop();
        problems.extend(coordinator.log_problems());
        let t = Instant::now();
        let next = Coordinator::start(&a, dir.path(), &coordinator.addr, 1);
        let up = t.elapsed();
        pid.store(next.pid(), Ordering::Relaxed);
        coordinator = next;
        let leased_then = fleet.leased.load(Ordering::Relaxed);
        if !until(|| fleet.leased.load(Ordering::Relaxed) > leased_then).await {
            problems.push(format!("no lease within {STALL:?} of the restart"));
        }
        restart_line = Some(format!(
            "restart after {leased} leases: SIGTERM to exit {:.0} ms, started again in {:.0} ms, next lease {:.0} ms after it listened; {} retries so far",
            stopping.as_secs_f64() * 1e3,
            up.as_secs_f64() * 1e3,
            t.elapsed().saturating_sub(up).as_secs_f64() * 1e3,
            fleet.retries.load(Ordering::Relaxed)
        ));
    }

    let mut seen = Vec::with_capacity(a.workers);
    for shard in shards {
        seen.extend(shard.await.unwrap());
    }
    let work_secs = t_work.elapsed().as_secs_f64();
    let cpu2 = (coordinator_cpu(), cpu_secs("self"));
    done.store(true, Ordering::Relaxed);
    sampler.await.unwrap();
    let (rss_end, hwm) = (
        status_kb(coordinator.pid(), "VmRSS:"),
        status_kb(coordinator.pid(), "VmHWM:"),
    );
    let overflows = listen_overflows() - overflows_before;

    let registered = seen.iter().filter(|s| s.registered).count();
    let leases: u64 = seen.iter().map(|s| s.leases).sum();
    let reports: u64 = seen.iter().map(|s| s.reports).sum();
    let gather = |f: fn(&Seen) -> &Vec<u32>| -> Vec<u32> {
        seen.iter().flat_map(|s| f(s).iter().copied()).collect()
    };
    println!(
        "register: {registered} of {} workers in {register_secs:.2} s, {register_retries} retries; latency {}",
        a.workers,
        percentiles(seen.iter().map(|s| s.register_us).collect())
    );
    if let Some(line) = &restart_line {
        println!("{line}");
    }
    println!(
        "work: {leases} leases ({:.0}/s), {reports} reports ({:.0}/s) in {work_secs:.2} s, {} retries",
        leases as f64 / work_secs,
        reports as f64 / work_secs,
        fleet.retries.load(Ordering::Relaxed)
    );
    println!("  lease  {}", percentiles(gather(|s| &s.lease_us)));
    // Each worker's first lease is asked for by the whole fleet in the same instant.
    println!(
        "    first  {}",
        percentiles(
            seen.iter()
                .filter_map(|s| s.lease_us.first().copied())
                .collect()
        )
    );
    println!(
        "    later  {}",
        percentiles(
            seen.iter()
                .flat_map(|s| s.lease_us.iter().skip(1).copied())
                .collect()
        )
    );
    println!("  report {}", percentiles(gather(|s| &s.report_us)));
    println!("  finish {}", percentiles(gather(|s| &s.finish_us)));
    let coordinator_work = cpu_of_first + cpu2.0 - if a.restart { 0.0 } else { cpu1.0 };
    println!(
        "CPU: coordinator {:.2} s registering, {coordinator_work:.2} s working ({:.0}% of one core); bench {:.2} s working ({:.0}%)",
        cpu1.0 - cpu0.0,
        coordinator_work / work_secs * 100.0,
        cpu2.1 - cpu1.1,
        (cpu2.1 - cpu1.1) / work_secs * 100.0
    );
    println!(
        "coordinator memory: RSS {:.1} MB before the fleet, {:.1} MB registered, peak sampled {:.1} MB, {:.1} MB at the end; VmHWM {:.1} MB",
        rss_before as f64 / 1024.0,
        rss_registered as f64 / 1024.0,
        peak_rss.load(Ordering::Relaxed) as f64 / 1024.0,
        rss_end as f64 / 1024.0,
        hwm as f64 / 1024.0
    );
    println!("listen-queue overflows (kernel, all sockets) during the run: {overflows}");

    // Checks, through the Clients API.
    let listed = clients
        .list_workers(pb::ListWorkersRequest {})
        .await
        .unwrap()
        .into_inner()
        .workers;
    let fleet_listed = listed
        .iter()
        .filter(|w| w.name.starts_with(&format!("{tag}-")))
        .count();
    let status = clients
        .sweep_status(pb::SweepRef { sweep: tag.clone() })
        .await
        .unwrap()
        .into_inner()
        .sweep
        .unwrap();
    let finished = status.runs.map(|r| r.finished).unwrap_or(0) as usize;
    let expected = a.runs as u64 * a.evals;
    println!(
        "stored: {fleet_listed} workers listed, {} evaluations (expected {expected}), {finished} of {} runs finished, sweep {}",
        status.evals_stored, a.runs, status.state
    );
    if registered != a.workers || fleet_listed != a.workers {
        problems.push(format!(
            "{registered} workers registered and {fleet_listed} listed, of {}",
            a.workers
        ));
    }
    if leases as usize != a.runs || finished != a.runs {
        problems.push(format!(
            "{leases} leases and {finished} finished runs, of {}",
            a.runs
        ));
    }
    if status.evals_stored != expected || reports != expected {
        problems.push(format!(
            "{} evaluations stored and {reports} reported, of {expected}",
            status.evals_stored
        ));
    }
    problems.extend(seen.iter().filter_map(|s| s.failure.clone()).take(5));
    coordinator.stop();
    problems.extend(coordinator.log_problems());
    if problems.is_empty() {
        println!("OK: every worker registered, every evaluation stored exactly once");
    } else {
        println!("FAILED: {}", problems.join("; "));
        drop(coordinator);
        drop(dir);
        std::process::exit(1);
    }
}
