//! The worker process: register with the coordinator, then one loop per device that
//! long-polls for a run, trains it, and asks again. Survives coordinator outages by
//! retrying with backoff, and re-registers if the coordinator forgot it. Registering
//! answers the worker's key, which every later call carries (the client's
//! [`WorkerSlot`], shared by all its clones).
//!
//! Each device runs `runs_per_device` slots, each its own lease loop (packing small runs
//! onto one device), training on a thread of the worker or in a child process of its own
//! ([`crate::slot_process`], by [`WorkerConfig::slot_processes`]). Its lifecycle: a stop ([`crate::stop`]) drains it (no new work, running runs handed
//! back at their next step, then it deregisters) within `drain_timeout`; `idle_exit` drains
//! it after that long without work; a device whose runs fail `max_consecutive_failures`
//! times in a row stops taking work, and a worker with no device left leaves.

use std::path::PathBuf;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gptsweep_api::{LeasedRun, Outcome};
use gptsweep_gpt::DeviceSpec;
use gptsweep_proto::client::{self, Stamp, Workers};
use gptsweep_proto::pb;
use gptsweep_proto::tls::PemCertificates;
use gptsweep_proto::worker_key::WorkerSlot;

use crate::backoff::{Backoff, retry, transient};
use crate::dataset_cache::DatasetCache;
use crate::error::{Result, WorkerError};
use crate::execute::{RunContext, execute, precision_refused, release};
use crate::health::DeviceHealth;
use crate::kernel_sync::KernelSync;
use crate::memory::CudaMemory;
use crate::slot_process::{SlotMode, SlotProcess};
use crate::stop::{StopHandle, StopLevel, StopSignal, reached};
use crate::warm_ahead::{Claims, WarmAhead, shape_of, warm_loop};

/// Settings of a worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Coordinator URL, e.g. `http://head:50051`.
    pub coordinator: String,
    /// Bearer token for the Workers service, if the coordinator wants one.
    pub token: Option<String>,
    /// The CA to trust for an `https://` coordinator; the system's roots when `None`.
    pub tls_ca: Option<PemCertificates>,
    /// Name shown in `gptsweep workers`.
    pub name: String,
    /// Devices to drive.
    pub devices: Vec<DeviceSpec>,
    /// Where fetched datasets are cached.
    pub cache_dir: PathBuf,
    /// How long one lease poll waits for work.
    pub poll: Duration,
    /// Longest a drain may take before the worker exits with runs still held.
    pub drain_timeout: Duration,
    /// Drain after this long without work (batch allocations); never when `None`.
    pub idle_exit: Option<Duration>,
    /// A device whose runs fail this many times in a row stops taking work.
    pub max_consecutive_failures: u32,
    /// Runs trained at once on each device (their slots share the device: on the CPU, its
    /// cores through one thread pool; on a GPU, its memory and compute).
    pub runs_per_device: usize,
    /// Lease only runs whose training-memory estimate fits what the device's runs leave
    /// free (`--runs-per-device auto`; a GPU then has [`GPU_AUTO_SLOTS`] slots, the CPU one
    /// per core).
    pub pack_by_memory: bool,
    /// Memory runs may use on each device, bytes; measured when `None` (the machine's RAM
    /// for the CPU, [`WorkerConfig::cuda_memory`] for CUDA GPUs; a device of unknown memory
    /// takes one run at a time when packing).
    pub device_memory: Option<u64>,
    /// What nvidia-smi said each CUDA device offers, measured before the worker touched a
    /// GPU ([`CudaMemory::measure`]); `CudaMemory::default()` when not measured.
    pub cuda_memory: CudaMemory,
    /// The folder GPU kernels are cached in ([`gptsweep_gpt::use_kernel_cache`]), shared
    /// with the fleet through the coordinator ([`crate::kernel_sync`]); `None`: not shared.
    pub kernel_dir: Option<PathBuf>,
    /// Whether slots train in child processes ([`SlotMode`]).
    pub slot_processes: SlotMode,
    /// Whether slot processes log JSON lines (as the worker does, `--log-format json`).
    pub log_json: bool,
    /// Warm-up processes compiling the shapes of queued runs while the devices train
    /// ([`crate::warm_ahead`]); `None`: auto ([`crate::warm_ahead::processes`]).
    pub warm_ahead: Option<usize>,
}

/// How long one lease poll waits for work, unless told (`gptsweep worker --poll`).
pub const DEFAULT_POLL: Duration = Duration::from_secs(20);

/// How long a drain may take, unless told (`--drain-timeout`).
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(60);

/// Failures in a row that disable a device, unless told (`--max-consecutive-failures`).
pub const DEFAULT_MAX_CONSECUTIVE_FAILURES: u32 = 3;

impl WorkerConfig {
    /// A worker called `name` training on `devices` for the coordinator at `coordinator`,
    /// caching datasets in `cache_dir`, with every other setting at its default: no token
    /// and the system's roots, the polls, drain and failure limit above, never idle-exiting,
    /// one run per device, kernels not shared, slot processes as `auto` says, text logs,
    /// and as many warm-up processes as [`crate::warm_ahead::processes`] gives.
    pub fn new(
        coordinator: String,
        name: String,
        devices: Vec<DeviceSpec>,
        cache_dir: PathBuf,
    ) -> Self {
        Self {
            coordinator,
            token: None,
            tls_ca: None,
            name,
            devices,
            cache_dir,
            poll: DEFAULT_POLL,
            drain_timeout: DEFAULT_DRAIN_TIMEOUT,
            idle_exit: None,
            max_consecutive_failures: DEFAULT_MAX_CONSECUTIVE_FAILURES,
            runs_per_device: 1,
            pack_by_memory: false,
            device_memory: None,
            cuda_memory: CudaMemory::default(),
            kernel_dir: None,
            slot_processes: SlotMode::Auto,
            log_json: false,
            warm_ahead: None,
        }
    }
}

/// Run slots per GPU when packing by memory (memory may allow fewer). Measured on an H100
/// (BENCHMARKS.md, "Packing on a GPU"): runs packed into one process share the device's
/// launch path (burn's fusion and cubecl's runtime take a device's operations one at a
/// time), so a small run leaves the GPU ~80% idle and still more runs do not fill it:
/// aggregate tokens/s +8% at 2 slots in one lease and +0% in the next, flat to 8, half at
/// 16. Separate worker processes do fill it (2.5x with 4, "Packing with processes"); the
/// slots of a GPU are processes by default ([`crate::slot_process`]), but more of them have
/// not been measured yet, so auto stays at 2.
pub const GPU_AUTO_SLOTS: usize = 2;

/// Most slots the CPU gets when packing by memory.
const CPU_MAX_SLOTS: usize = 16;

/// Slots of `device` when packing by memory. The CPU gets one per core (at least 2):
/// packed runs share its cores, so more would only split them thinner.
fn auto_slots(device: DeviceSpec) -> usize {
    match device {
        DeviceSpec::Cpu => std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(2, CPU_MAX_SLOTS),
        DeviceSpec::Cuda(_) | DeviceSpec::Wgpu(_) => GPU_AUTO_SLOTS,
    }
}

/// The memory runs may use on `device`, bytes, or why it is unknown.
fn memory_of(
    device: DeviceSpec,
    configured: Option<u64>,
    cuda: &CudaMemory,
) -> std::result::Result<u64, String> {
    if let Some(bytes) = configured {
        return Ok(bytes);
    }
    match device {
        DeviceSpec::Cpu => crate::memory::total_ram().ok_or_else(|| "no /proc/meminfo".into()),
        DeviceSpec::Cuda(ordinal) => cuda.of(ordinal),
        DeviceSpec::Wgpu(_) => Err("wgpu adapters are not measured".into()),
    }
}

/// Each device's memory for runs (by position in `config.devices`), logged; with a warning
/// naming `--device-memory` when packing by memory meets a device of unknown memory.
fn device_memories(config: &WorkerConfig) -> Vec<Option<u64>> {
    let mut unknown = Vec::new();
    let memories = config
        .devices
        .iter()
        .map(
            |d| match memory_of(*d, config.device_memory, &config.cuda_memory) {
                Ok(bytes) => {
                    // Measured on a GPU whose slots are processes: each holds a context.
                    let slots = slots_of(config, *d);
                    let bytes = if config.device_memory.is_none()
                        && matches!(d, DeviceSpec::Cuda(_))
                        && config.slot_processes.processes(*d, slots)
                    {
                        crate::memory::less_slot_contexts(bytes, slots)
                    } else {
                        bytes
                    };
                    tracing::info!(
                        "{d}: {:.1} GiB for runs{}",
                        bytes as f64 / (1u64 << 30) as f64,
                        if config.device_memory.is_some() {
                            " (--device-memory)"
                        } else {
                            ""
                        }
                    );
                    Some(bytes)
                }
                Err(why) => {
                    unknown.push(format!("{d} ({why})"));
                    None
                }
            },
        )
        .collect();
    if config.pack_by_memory && !unknown.is_empty() {
        tracing::warn!(
            "memory unknown for {}: --runs-per-device auto trains one run at a time there; give --device-memory (e.g. 20GiB) to pack runs",
            unknown.join(", ")
        );
    }
    memories
}

/// The slots of `device` under `config`.
fn slots_of(config: &WorkerConfig, device: DeviceSpec) -> usize {
    if config.pack_by_memory {
        auto_slots(device)
    } else {
        config.runs_per_device.max(1)
    }
}

/// How a worker ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// It was stopped (a signal) and handed every run back.
    Drained,
    /// It had no work for `idle_exit`.
    Idle,
}

struct Shared {
    client: Workers,
    /// The id and key every call of `client` carries, set by [`register`].
    key: WorkerSlot,
    name: String,
    devices: Vec<DeviceSpec>,
    worker_id: AtomicI64,
    /// Each device's memory for runs, when known, by position in `devices` (sent at
    /// registration; measured once, at start).
    memory: Vec<Option<u64>>,
    /// Whether leases must fit the device's free memory.
    pack_by_memory: bool,
    /// Runs being trained now.
    busy: AtomicUsize,
    /// When the last run ended (or the worker started).
    idle_since: Mutex<Instant>,
    /// The fleet's kernel cache, for GPU devices whose scope is known.
    kernels: Option<KernelSync>,
    /// Shapes training or warming here ([`crate::warm_ahead`]).
    claims: Claims,
}

impl Shared {
    fn worker_id(&self) -> i64 {
        self.worker_id.load(Ordering::SeqCst)
    }
}

/// How one device's loop ended.
enum DeviceEnd {
    /// Stopped taking work on a drain.
    Drained,
    /// Its runs failed too often in a row.
    Disabled(String),
}

async fn register(shared: &Shared) -> Result<pb::RegisterReply> {
    let req = pb::RegisterRequest {
        name: shared.name.clone(),
        devices: shared
            .devices
            .iter()
            .zip(&shared.memory)
            .map(|(d, memory)| pb::Device {
                spec: d.to_string(),
                name: d.to_string(),
                memory_bytes: memory.unwrap_or(0),
            })
            .collect(),
    };
    let reply = retry("Register", || {
        let mut c = shared.client.clone();
        let req = req.clone();
        async move { c.register(req).await.map(|r| r.into_inner()) }
    })
    .await?;
    if reply.worker_key.is_empty() {
        return Err(WorkerError::Config(
            "the coordinator answered Register without a worker key; use the same gptsweep release on both ends".into(),
        ));
    }
    shared
        .key
        .set(reply.worker_id, &reply.worker_key)
        .map_err(WorkerError::Config)?;
    shared.worker_id.store(reply.worker_id, Ordering::SeqCst);
    let devices: Vec<String> = shared.devices.iter().map(|d| d.to_string()).collect();
    tracing::info!(worker = reply.worker_id, devices = %devices.join(", "), "registered");
    Ok(reply)
}

/// Tells the coordinator that `device` takes no more work, and why.
async fn disable(shared: &Shared, device: DeviceSpec, reason: &str) -> Result<()> {
    tracing::error!(%device, "device disabled: {reason}");
    let req = pb::DisableDeviceRequest {
        worker_id: shared.worker_id(),
        device: device.to_string(),
        reason: reason.to_string(),
    };
    retry("DisableDevice", || {
        let mut c = shared.client.clone();
        let req = req.clone();
        async move { c.disable_device(req).await }
    })
    .await
    .map(|_| ())
}

/// Leaves the coordinator's list of live workers. Best effort: a coordinator that is down
/// sees the worker go quiet instead.
async fn deregister(shared: &Shared, reason: &str) {
    let req = pb::DeregisterRequest {
        worker_id: shared.worker_id(),
        reason: reason.to_string(),
    };
    let mut client = shared.client.clone();
    match tokio::time::timeout(Duration::from_secs(5), client.deregister(req)).await {
        Ok(Ok(_)) => tracing::info!("deregistered: {reason}"),
        Ok(Err(s)) => tracing::warn!("could not deregister ({}): {reason}", s.message()),
        Err(_) => tracing::warn!("could not deregister (timed out): {reason}"),
    }
}

/// One run slot of a device: lease, train, report, again. A device has
/// `--runs-per-device` slots, all sharing its [`DeviceHealth`].
async fn device_loop(
    shared: Arc<Shared>,
    ctx: RunContext,
    device: DeviceSpec,
    health: Arc<DeviceHealth>,
    poll: Duration,
    stop: StopSignal,
) -> Result<DeviceEnd> {
    let mut backoff = Backoff::new(Duration::from_secs(5));
    loop {
        if *stop.borrow() >= StopLevel::Drain {
            return Ok(DeviceEnd::Drained);
        }
        if health.is_disabled() {
            return Ok(DeviceEnd::Disabled(String::new()));
        }
        let worker_id = shared.worker_id();
        let req = pb::LeaseRequest {
            worker_id,
            device: device.to_string(),
            wait_ms: poll.as_millis() as u64,
            fit_memory: shared.pack_by_memory,
        };
        // Cancelled by a drain, so that an idle worker leaves at once rather than after
        // its poll (up to `poll`). A run the coordinator leased in that instant is not
        // lost: the worker deregisters as it leaves, and a worker that leaves hands back
        // whatever it still holds (`Deregister` on the coordinator).
        let (mut client, mut draining) = (shared.client.clone(), stop.clone());
        let leased = tokio::select! {
            r = client.lease(req) => r,
            () = reached(&mut draining, StopLevel::Drain) => return Ok(DeviceEnd::Drained),
        };
        let reply = match leased {
            Ok(reply) => reply.into_inner(),
            Err(s)
                if matches!(
                    s.code(),
                    tonic::Code::NotFound | tonic::Code::Unauthenticated
                ) =>
            {
                tracing::warn!(
                    "the coordinator does not know this worker ({}); registering again",
                    s.message()
                );
                register(&shared).await?;
                continue;
            }
            // Another slot registered the worker again between this request's id and its
            // key (the key is set first): ask again with the new id.
            Err(s)
                if s.code() == tonic::Code::PermissionDenied && shared.worker_id() != worker_id =>
            {
                continue;
            }
            Err(s) if transient(&s) => {
                tracing::warn!("coordinator unreachable ({}); retrying", s.message());
                backoff.wait().await;
                continue;
            }
            Err(status) => {
                return Err(WorkerError::Refused {
                    call: "Lease",
                    status,
                });
            }
        };
        backoff = Backoff::new(Duration::from_secs(5));
        let Some(run) = reply.run else { continue };
        let run = LeasedRun::from(run);
        if *stop.borrow() >= StopLevel::Drain {
            release(
                &ctx,
                &run,
                "the worker is stopping; the run was not started",
            )
            .await?;
            return Ok(DeviceEnd::Drained);
        }
        let run_id = run.run;
        // A run this device cannot train in its precision fails at once as the run's own
        // fault; the device is fine, so that failure does not count towards disabling it.
        let refused = precision_refused(&run, device);
        let shape = shape_of(&run);
        if let Some(shape) = &shape {
            shared.claims.training(shape);
        }
        shared.busy.fetch_add(1, Ordering::SeqCst);
        pull_kernels(&shared).await;
        let ended = execute(&ctx, run, device, stop.clone()).await;
        push_kernels(&shared, run_id).await;
        if let Some(shape) = &shape {
            if matches!(ended, Ok((Outcome::Finished | Outcome::Stopped, _))) {
                shape_warm(&shared, shape).await;
            }
            shared.claims.trained(shape);
        }
        shared.busy.fetch_sub(1, Ordering::SeqCst);
        *shared.idle_since.lock().expect("not poisoned") = Instant::now();
        match ended {
            Ok((Outcome::Preempted, _)) => return Ok(DeviceEnd::Drained),
            Ok((outcome, error)) => {
                let (failures, disabled) = if refused {
                    (0, false)
                } else {
                    health.record(run_id, outcome)
                };
                if !error.is_empty() {
                    tracing::warn!(run = %run_id, %device, %outcome, failures, "run failed: {error}");
                }
                if disabled {
                    let reason =
                        format!("{failures} runs failed in a row on {device}; the last: {error}");
                    disable(&shared, device, &reason).await?;
                    return Ok(DeviceEnd::Disabled(reason));
                }
            }
            Err(WorkerError::LeaseLost(why)) => tracing::warn!(run = %run_id, "lease lost: {why}"),
            Err(e @ WorkerError::Refused { .. }) => return Err(e),
            Err(e) => tracing::error!(run = %run_id, "{e}"),
        }
    }
}

/// Merges what the fleet compiled since the last look into the kernel folder, so the run
/// about to start finds it. Never fails the run: a coordinator that cannot answer is a
/// warning, and the run compiles what it lacks.
async fn pull_kernels(shared: &Shared) {
    let Some(k) = &shared.kernels else { return };
    match k.pull(&shared.client).await {
        Ok(p) if p.fetched > 0 => tracing::info!(
            fetched = p.fetched,
            merged = p.merged,
            skipped = p.skipped,
            "kernel cache: {} records from the fleet, {} new here",
            p.fetched,
            p.merged
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!("kernel cache: could not fetch the fleet's records: {e}"),
    }
}

/// Uploads what this worker compiled and tuned that the fleet lacks, once a run ended.
async fn push_kernels(shared: &Shared, run: gptsweep_api::RunId) {
    let Some(k) = &shared.kernels else { return };
    match k.push(&shared.client).await {
        Ok(p) => tracing::info!(
            run = %run,
            compiled = p.sent,
            stored = p.stored,
            "kernel cache: {} records compiled or tuned here for run {run}, {} new to the fleet",
            p.sent,
            p.stored
        ),
        Err(e) => tracing::warn!("kernel cache: could not upload records: {e}"),
    }
}

/// Tells the coordinator that `shape` is warm in this worker's scope, once a run of it
/// trained and its records were uploaded. Best effort: without the mark, a worker warming
/// ahead warms the shape again (and compiles nothing new).
async fn shape_warm(shared: &Shared, shape: &str) {
    let Some(k) = &shared.kernels else { return };
    let req = pb::ShapeWarmRequest {
        scope: k.scope().to_string(),
        shape: shape.to_string(),
    };
    if let Err(s) = shared.client.clone().shape_warm(req).await {
        tracing::warn!("kernel cache: could not mark a shape warm: {}", s.message());
    }
}

/// One warm-up loop of the worker ([`crate::warm_ahead`]): warms while a run trains.
async fn warm_ahead(shared: Arc<Shared>, ctx: RunContext, warm: WarmAhead, stop: StopSignal) {
    let Some(kernels) = &shared.kernels else {
        return;
    };
    let training = || shared.busy.load(Ordering::SeqCst) > 0;
    warm_loop(kernels, &ctx, &warm, &shared.claims, training, stop).await;
}

/// Resolves once the worker has been idle (no run in training) for `limit`.
async fn idle_for(shared: &Shared, limit: Duration) {
    loop {
        let since = *shared.idle_since.lock().expect("not poisoned");
        let idle = shared.busy.load(Ordering::SeqCst) == 0 && since.elapsed() >= limit;
        if idle {
            return;
        }
        let check = if shared.busy.load(Ordering::SeqCst) > 0 {
            limit
        } else {
            limit.saturating_sub(since.elapsed())
        };
        tokio::time::sleep(check.clamp(Duration::from_millis(50), Duration::from_secs(1))).await;
    }
}

/// Runs a worker until it is stopped through `stop`, goes idle, or loses every device.
/// Answers how it ended well; an abort (a second signal), a drain that outlasts
/// `drain_timeout`, a refused call or every device disabled are errors.
pub async fn run(config: WorkerConfig, stop: StopHandle) -> Result<Ended> {
    let channel = client::channel(&config.coordinator, config.tls_ca.as_ref())
        .map_err(WorkerError::Config)?;
    let stamp = Stamp::new(config.token.as_deref()).map_err(WorkerError::Config)?;
    let kernels = match &config.kernel_dir {
        None => None,
        Some(dir) => match crate::kernel_scope::scope(&config.devices).await {
            Ok(Some(scope)) => {
                tracing::info!(%scope, "kernel cache: shared with the fleet");
                Some(KernelSync::new(dir.clone(), scope))
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!("kernel cache: not shared with the fleet ({e})");
                None
            }
        },
    };
    let shared = Arc::new(Shared {
        key: stamp.worker_slot(),
        client: client::workers(channel, stamp),
        name: config.name.clone(),
        devices: config.devices.clone(),
        worker_id: AtomicI64::new(0),
        memory: device_memories(&config),
        pack_by_memory: config.pack_by_memory,
        busy: AtomicUsize::new(0),
        idle_since: Mutex::new(Instant::now()),
        kernels,
        claims: Claims::default(),
    });
    let signal = stop.subscribe();
    // The device loops live in a JoinSet so that leaving `run` ends them too (dropping the
    // set aborts them); detached, they would poll on after `run` returned.
    let mut loops = tokio::task::JoinSet::new();
    // Warm-up loops end on a drain; dropped with `run`, they kill a warm-up under way.
    let mut warmers = tokio::task::JoinSet::new();
    let work = async {
        let reply = register(&shared).await?;
        // A new node is warm from its first run.
        pull_kernels(&shared).await;
        let ctx = RunContext {
            client: shared.client.clone(),
            cache: DatasetCache::new(config.cache_dir.clone()),
            heartbeat: Duration::from_millis(reply.heartbeat_interval_ms.max(100)),
            slot: None,
        };
        for d in &config.devices {
            let health = Arc::new(DeviceHealth::new(config.max_consecutive_failures));
            let slots = slots_of(&config, *d);
            let mut ctx = ctx.clone();
            if config.slot_processes.processes(*d, slots) {
                let exe = std::env::current_exe().map_err(|e| {
                    WorkerError::Config(format!("cannot find this binary for slot processes: {e}"))
                })?;
                tracing::info!(device = %d, slots, "slots train in processes of their own");
                ctx.slot = Some(SlotProcess {
                    exe,
                    log_json: config.log_json,
                    kernel_dir: None,
                });
            }
            for _ in 0..slots {
                loops.spawn(device_loop(
                    shared.clone(),
                    ctx.clone(),
                    *d,
                    health.clone(),
                    config.poll,
                    signal.clone(),
                ));
            }
        }
        let slots: usize = config
            .devices
            .iter()
            .filter(|d| !matches!(d, DeviceSpec::Cpu))
            .map(|d| slots_of(&config, *d))
            .sum();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let warm_processes =
            crate::warm_ahead::processes(config.warm_ahead, &config.devices, slots, cores);
        let gpu = config
            .devices
            .iter()
            .find(|d| !matches!(d, DeviceSpec::Cpu));
        match (gpu, &shared.kernels) {
            (Some(&device), Some(_)) if warm_processes > 0 => {
                let exe = std::env::current_exe().map_err(|e| {
                    WorkerError::Config(format!("cannot find this binary for warm-ups: {e}"))
                })?;
                tracing::info!(
                    processes = warm_processes,
                    %device,
                    "warm-ahead: compiling the shapes of queued runs while devices train"
                );
                let warm = WarmAhead {
                    device,
                    slot: SlotProcess {
                        exe,
                        log_json: config.log_json,
                        kernel_dir: None,
                    },
                };
                for _ in 0..warm_processes {
                    warmers.spawn(warm_ahead(
                        shared.clone(),
                        ctx.clone(),
                        warm.clone(),
                        signal.clone(),
                    ));
                }
            }
            _ if config.warm_ahead.is_some_and(|n| n > 0) => tracing::info!(
                "warm-ahead: off (no GPU kernels to compile here, or none shared with the fleet)"
            ),
            _ => {}
        }
        let mut disabled = Vec::new();
        while let Some(r) = loops.join_next().await {
            let end = r.unwrap_or_else(|e| {
                Err(WorkerError::Config(format!("device loop panicked: {e}")))
            })?;
            if let DeviceEnd::Disabled(reason) = end
                && !reason.is_empty()
            {
                disabled.push(reason);
            }
        }
        Ok::<_, WorkerError>(disabled)
    };
    let idle = async {
        match config.idle_exit {
            Some(limit) => {
                idle_for(&shared, limit).await;
                tracing::info!("no work for {limit:?}; draining");
                stop.raise(StopLevel::Drain);
            }
            None => std::future::pending().await,
        }
    };
    let drain_deadline = async {
        let mut s = stop.subscribe();
        reached(&mut s, StopLevel::Drain).await;
        tracing::info!(
            "draining: no new work; running runs are handed back at their next step (up to {:?})",
            config.drain_timeout
        );
        tokio::time::sleep(config.drain_timeout).await;
    };
    let abort = async {
        let mut s = stop.subscribe();
        reached(&mut s, StopLevel::Abort).await;
    };
    tokio::pin!(work, idle, drain_deadline, abort);
    let mut went_idle = false;
    let disabled = loop {
        tokio::select! {
            r = &mut work => break r?,
            _ = &mut idle, if !went_idle => went_idle = true,
            _ = &mut drain_deadline => {
                return Err(WorkerError::Stopped(format!(
                    "the drain took longer than --drain-timeout {:?}; runs still held are requeued when their leases expire",
                    config.drain_timeout
                )));
            }
            _ = &mut abort => {
                return Err(WorkerError::Stopped(
                    "a second signal: exiting at once; runs still held are requeued when their leases expire".into(),
                ));
            }
        }
    };
    let drained = *stop.subscribe().borrow() >= StopLevel::Drain;
    if !drained {
        let reason = format!("every device is disabled: {}", disabled.join("; "));
        deregister(&shared, &reason).await;
        return Err(WorkerError::Stopped(reason));
    }
    let (ended, reason) = if went_idle {
        (Ended::Idle, "idle: no work for --idle-exit".to_string())
    } else {
        let why = stop
            .reason()
            .unwrap_or_else(|| "stopped by a signal".to_string());
        (Ended::Drained, format!("{why}; every run handed back"))
    };
    deregister(&shared, &reason).await;
    Ok(ended)
}
