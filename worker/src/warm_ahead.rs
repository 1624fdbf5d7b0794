//! Compiling ahead of need (`gptsweep worker --warm-ahead N`). burn-cuda compiles each
//! kernel of a new shape on one CPU thread (~0.75 s a kernel, hundreds a shape) while the
//! GPU idles, and a GPU node has cores to spare: so while the worker's devices train, up
//! to N warm-up loops ask the coordinator for the shapes of queued runs, in lease order,
//! not yet warm in the worker's kernel scope (`ColdShapes`), and warm each in a child
//! process: [`WARM_STEPS`] training steps of a queued run of that shape, its evaluation
//! and one sample (all at the run's own sizes, batch included: a smaller batch would be
//! another shape), on the same kind of device, autotune level and kernel build. The records
//! it compiled are merged into the node's kernel folder, uploaded to the fleet
//! ([`crate::kernel_sync`]) and the shape marked warm (`ShapeWarm`): the run of that shape
//! leased next, here or on any node of the scope, starts with its kernels compiled.
//!
//! A warm-up never delays or fails a run: it runs only while a run trains, a failure is a
//! warning (that shape is not tried again by this worker), and a drain kills its child at
//! once. It compiles into a folder of its own, seeded with the node's records, so that two
//! processes never tune one key at once; the merge back appends, under cubecl's lock, only
//! the records whose key the node lacks.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use gptsweep_api::LeasedRun;
use gptsweep_gpt::{DeviceSpec, shape_key};
use gptsweep_proto::pb;
use tokio::sync::mpsc;

use crate::execute::{RunContext, prepare};
use crate::kernel_sync::{self, KernelSync};
use crate::slot_process::SlotProcess;
use crate::slot_process::message::CorpusSource;
use crate::slot_process::parent::train_in_child;
use crate::stop::{StopLevel, StopSignal, reached};
use crate::train_task::{Answered, RunTask};

/// Training steps of a warm-up: the first compiles the forward, backward and optimizer
/// kernels, the second meets them again (and what only a second step runs, such as
/// AdamW's moments read back).
pub const WARM_STEPS: usize = 2;

/// Warm-ups asked for by `auto` on a worker with a GPU: at most this many, and no more
/// than the cores its training slots leave idle.
pub const AUTO_MAX: usize = 2;

/// How often a warm-up loop looks again when nothing trains or nothing is cold.
const IDLE_TICK: Duration = Duration::from_secs(2);

/// Shapes asked for at a time (the loop takes the first it has not claimed).
const ASK: u32 = 8;

/// How many warm-up processes a worker runs: `setting` (`None`: auto) on `devices`, whose
/// training slots number `slots`, on a machine of `cores` cores. None on a worker of CPUs
/// only (nothing to compile); auto is min([`AUTO_MAX`], cores left idle by the slots).
pub fn processes(
    setting: Option<usize>,
    devices: &[DeviceSpec],
    slots: usize,
    cores: usize,
) -> usize {
    if devices.iter().all(|d| matches!(d, DeviceSpec::Cpu)) {
        return 0;
    }
    setting.unwrap_or_else(|| AUTO_MAX.min(cores.saturating_sub(slots)))
}

/// How warm-ups run on a worker.
#[derive(Debug, Clone)]
pub struct WarmAhead {
    /// The device they warm for (the worker's first GPU).
    pub device: DeviceSpec,
    /// How to start their child processes.
    pub slot: SlotProcess,
}

/// The shapes this worker is training now and those it has taken up to warm (each is
/// tried once in its life).
#[derive(Debug, Default)]
pub struct Claims {
    training: Mutex<HashMap<String, usize>>,
    taken: Mutex<HashSet<String>>,
}

impl Claims {
    /// A run of `shape` started training here.
    pub fn training(&self, shape: &str) {
        *lock(&self.training).entry(shape.to_string()).or_default() += 1;
    }

    /// A run of `shape` ended here.
    pub fn trained(&self, shape: &str) {
        let mut training = lock(&self.training);
        if let Some(n) = training.get_mut(shape) {
            *n -= 1;
            if *n == 0 {
                training.remove(shape);
            }
        }
    }

    /// Takes `shape` up to warm, unless it trains here or was taken before.
    fn take(&self, shape: &str) -> bool {
        !lock(&self.training).contains_key(shape) && lock(&self.taken).insert(shape.to_string())
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The shape of a leased run, if its hyperparameters read (a run whose do not fails anyway).
pub fn shape_of(run: &LeasedRun) -> Option<String> {
    serde_json::from_str(&run.hyperparams_json)
        .ok()
        .map(|hp| shape_key(&hp, &run.dataset_sha256))
}

/// One warm-up loop: while `training()` says a run trains, warm the first cold shape not
/// yet claimed, then look again; ends on a drain (killing a warm-up under way).
pub async fn warm_loop(
    kernels: &KernelSync,
    ctx: &RunContext,
    warm: &WarmAhead,
    claims: &Claims,
    training: impl Fn() -> bool,
    mut stop: StopSignal,
) {
    let work = async {
        loop {
            if !training() {
                tokio::time::sleep(IDLE_TICK / 4).await;
                continue;
            }
            let asked = ctx
                .client
                .clone()
                .cold_shapes(pb::ColdShapesRequest {
                    scope: kernels.scope().to_string(),
                    limit: ASK,
                })
                .await;
            let shapes = match asked {
                Ok(reply) => reply.into_inner().shapes,
                Err(s) => {
                    tracing::debug!("warm-ahead: no cold shapes ({})", s.message());
                    Vec::new()
                }
            };
            let Some(cold) = shapes.into_iter().find(|c| claims.take(&c.shape)) else {
                tokio::time::sleep(IDLE_TICK).await;
                continue;
            };
            let shape = cold.shape.clone();
            tracing::info!(%shape, device = %warm.device, "warm-ahead: warming a queued shape");
            match warm_one(kernels, ctx, warm, cold).await {
                Ok(w) => tracing::info!(
                    %shape,
                    compiled = w.compiled,
                    secs = format!("{:.1}", w.secs),
                    "warm-ahead: shape warm: {} records compiled in {:.1} s",
                    w.compiled,
                    w.secs
                ),
                Err(e) => tracing::warn!(%shape, "warm-ahead: warm-up failed: {e}"),
            }
        }
    };
    tokio::select! {
        () = work => {}
        () = reached(&mut stop, StopLevel::Drain) => {}
    }
}

/// What a warm-up did.
struct Warmed {
    /// Records it compiled or tuned that the node lacked.
    compiled: u64,
    /// Its time, seconds.
    secs: f64,
}

/// Warms one shape: a short run of `cold.run` in a child process compiling into a folder
/// of its own, merged back, uploaded, and the shape marked warm. Dropping the future kills
/// the child (its progress channel closes).
async fn warm_one(
    kernels: &KernelSync,
    ctx: &RunContext,
    warm: &WarmAhead,
    cold: pb::ColdShape,
) -> Result<Warmed, String> {
    let t0 = Instant::now();
    let run = LeasedRun::from(
        cold.run
            .ok_or("the coordinator sent a shape without a run")?,
    );
    let (mut hp, mut samples, corpus) = prepare(ctx, &run).await.map_err(|e| e.to_string())?;
    gptsweep_gpt::backend::check_precision(warm.device, hp.precision).map_err(|e| e.to_string())?;
    hp.max_iters = WARM_STEPS;
    hp.eval_interval = WARM_STEPS;
    // Two batches, if the run has two: its mean adds them (a kernel of its own).
    hp.eval_iters = hp.eval_iters.min(2);
    hp.warmup_iters = 0;
    samples.count = samples.count.min(1);
    let folder = Folder::seeded(kernels.dir()).await?;
    let source = CorpusSource {
        name: run.dataset_name.clone(),
        sha256: run.dataset_sha256.clone(),
        text: (!run.dataset_builtin).then(|| ctx.cache.text_path(&run.dataset_sha256)),
        tokenizer: hp.tokenizer,
        tokens: ctx.cache.tokens_dir(),
    };
    let (tx, mut rx) = mpsc::unbounded_channel();
    let task = RunTask {
        hp,
        corpus,
        samples,
        resume: None,
        progress: tx,
        stop: Arc::new(AtomicBool::new(false)),
        preempt: Arc::new(AtomicBool::new(false)),
        answered: Arc::new(Answered::default()),
        answer_within: Duration::ZERO,
    };
    let slot = SlotProcess {
        kernel_dir: Some(folder.path.clone()),
        ..warm.slot.clone()
    };
    let device = warm.device;
    let child = tokio::task::spawn_blocking(move || train_in_child(&slot, device, task, source));
    // Evaluations and checkpoints of a warm-up are nobody's: read and dropped.
    let (_, trained) = tokio::join!(async { while rx.recv().await.is_some() {} }, child);
    trained
        .map_err(|e| format!("warm-up thread: {e}"))?
        .map_err(|(_, why)| why)?;
    let (node, own) = (kernels.dir().to_path_buf(), folder.path.clone());
    let (compiled, skipped) = tokio::task::spawn_blocking(move || {
        kernel_sync::merge(&node, kernel_sync::local_records(&own))
    })
    .await
    .map_err(|e| format!("merging the warm-up's records: {e}"))?;
    if skipped > 0 {
        return Err(format!(
            "{skipped} compiled records could not be merged here"
        ));
    }
    kernels
        .push(&ctx.client)
        .await
        .map_err(|e| format!("uploading its records: {e}"))?;
    ctx.client
        .clone()
        .shape_warm(pb::ShapeWarmRequest {
            scope: kernels.scope().to_string(),
            shape: cold.shape,
        })
        .await
        .map_err(|s| format!("marking it warm: {}", s.message()))?;
    Ok(Warmed {
        compiled,
        secs: t0.elapsed().as_secs_f64(),
    })
}

/// A warm-up's kernel folder, beside the node's and seeded with its records; removed when
/// dropped.
struct Folder {
    path: PathBuf,
}

impl Folder {
    async fn seeded(node: &Path) -> Result<Self, String> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut name = node.file_name().unwrap_or_default().to_os_string();
        name.push(format!(".warm-{}-{n}", std::process::id()));
        let folder = Self {
            path: node.with_file_name(name),
        };
        let _ = std::fs::remove_dir_all(&folder.path);
        std::fs::create_dir_all(&folder.path)
            .map_err(|e| format!("cannot create {}: {e}", folder.path.display()))?;
        let (from, to) = (node.to_path_buf(), folder.path.clone());
        tokio::task::spawn_blocking(move || {
            kernel_sync::merge(&to, kernel_sync::local_records(&from))
        })
        .await
        .map_err(|e| format!("seeding the warm-up's kernel folder: {e}"))?;
        Ok(folder)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpus_warm_nothing_and_auto_leaves_the_slots_their_cores() {
        let (cpu, gpu) = (DeviceSpec::Cpu, DeviceSpec::Cuda(0));
        assert_eq!(processes(Some(3), &[cpu], 1, 16), 0);
        assert_eq!(processes(None, &[cpu], 1, 16), 0);
        assert_eq!(processes(None, &[gpu], 2, 16), 2);
        assert_eq!(processes(None, &[gpu], 2, 3), 1);
        assert_eq!(processes(None, &[gpu], 4, 4), 0);
        assert_eq!(processes(Some(4), &[cpu, gpu], 2, 3), 4);
    }

    #[test]
    fn a_shape_is_taken_once_and_never_while_it_trains() {
        let claims = Claims::default();
        claims.training("a");
        assert!(!claims.take("a"));
        claims.trained("a");
        assert!(claims.take("a"));
        assert!(!claims.take("a"), "tried once");
        assert!(claims.take("b"));
    }
}
