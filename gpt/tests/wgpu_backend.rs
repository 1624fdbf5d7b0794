//! The GPU kernels (burn's cubecl kernels, through wgpu) checked against the CPU backend.
//! CI runs this on lavapipe, Mesa's software Vulkan driver; on a machine with a GPU it runs
//! on the best adapter (`wgpu:0`).
//!
//! Both backends start from the same weights (`Trainer::new` draws them on the host from the
//! seed, so a step-0 checkpoint from either backend is the same) and draw the same batches
//! (they are keyed by seed and step, on the host); dropout is off, the only randomness that
//! would come from the device. What differs is the order of f32 reductions
//! (matmul, softmax, mean, AdamW's norms), so losses agree to a tolerance, not bit for bit.
#![cfg(feature = "wgpu")]

mod common;

use std::path::PathBuf;
use std::sync::{Arc, Once};

use burn::tensor::{Int, Tensor, TensorData};
use gptsweep_gpt::backend::{AdapterKind, CpuInfer, CpuTrain, WgpuInfer, wgpu_adapters};
use gptsweep_gpt::sample::generate;
use gptsweep_gpt::{
    Checkpoint, Corpus, DeviceSpec, Eval, Event, Flow, Hyperparams, OnBackend, SampleOptions,
    TrainBackend, Trainer, detect_devices, use_kernel_cache, with_backend,
};

/// The binary's allocator, so the CPU side trains at its speed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Largest |CPU - wgpu| allowed on a loss or a logit. Measured on lavapipe (20 AdamW steps,
/// losses about 4.2 -> 3.4, where one f32 ulp is 4.8e-7): batch losses differ by at most
/// 1.4e-6, evaluation losses and logits by 4.8e-7, i.e. a few ulps from summing in another
/// order. 1e-4 leaves room for GPUs that reorder more (tree reductions, fused kernels) yet
/// is a hundred times smaller than what a wrong kernel does to a loss (>1e-2: a wrong
/// softmax, mask or gradient changes the first step's loss in the second decimal).
const LOSS_TOL: f32 = 1e-4;

const WGPU: DeviceSpec = DeviceSpec::Wgpu(0);

/// Points cubecl's kernel caches into cargo's scratch directory for tests, before any GPU
/// work, as the binary points them into the user's cache directory; and runs from there, so
/// nothing cubecl writes lands in the source tree.
fn in_scratch_dir() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_current_dir(env!("CARGO_TARGET_TMPDIR")).unwrap();
        use_kernel_cache(&kernel_cache());
    });
}

fn kernel_cache() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernels")
}

fn small_corpus() -> Arc<Corpus> {
    in_scratch_dir();
    common::small_corpus()
}

fn tiny(max_iters: usize) -> Hyperparams {
    Hyperparams {
        batch_size: 8,
        block_size: 16,
        n_embd: 32,
        n_head: 4,
        n_layer: 2,
        dropout: 0.0,
        lr: 1e-3,
        max_iters,
        eval_interval: 5,
        eval_iters: 4,
        seed: 7,
        ..Default::default()
    }
}

/// The weights every comparison starts from: a fresh model, checkpointed at step 0 on the
/// CPU.
fn start(corpus: &Arc<Corpus>, max_iters: usize) -> Checkpoint {
    let t = Trainer::<CpuTrain>::new(tiny(max_iters), corpus.clone(), Default::default()).unwrap();
    t.checkpoint().unwrap()
}

/// What a stretch of training produced.
struct Trained {
    /// (step, batch loss) of every step.
    steps: Vec<(usize, f32)>,
    /// Evaluations, including those carried in from the checkpoint.
    evals: Vec<Eval>,
    /// The state at the end.
    ckpt: Checkpoint,
}

/// Resumes `from` and trains until the evaluation at `until` (or the end).
struct Resume {
    from: Checkpoint,
    corpus: Arc<Corpus>,
    until: usize,
}

impl OnBackend for Resume {
    type Output = Trained;

    fn run<B: TrainBackend>(self, device: B::Device) -> Trained {
        let mut t = Trainer::<B>::resume(&self.from, self.corpus, device).unwrap();
        let mut steps = Vec::new();
        t.run(1, |_, event| match event {
            Event::Step { step, loss } => {
                steps.push((step, loss.expect("read every step")));
                Flow::Continue
            }
            Event::Eval(e) if e.step == self.until => Flow::Stop,
            Event::Eval(_) => Flow::Continue,
        })
        .unwrap();
        Trained {
            steps,
            evals: t.evals().to_vec(),
            ckpt: t.checkpoint().unwrap(),
        }
    }
}

fn train(spec: DeviceSpec, from: &Checkpoint, corpus: &Arc<Corpus>, until: usize) -> Trained {
    let task = Resume {
        from: from.clone(),
        corpus: corpus.clone(),
        until,
    };
    with_backend(spec, task).unwrap_or_else(|e| panic!("{e}"))
}

/// The largest |a - b| over matching losses; panics if the steps do not match.
fn max_diff(a: &[(usize, f32)], b: &[(usize, f32)]) -> f32 {
    assert_eq!(
        a.iter().map(|p| p.0).collect::<Vec<_>>(),
        b.iter().map(|p| p.0).collect::<Vec<_>>()
    );
    a.iter()
        .zip(b)
        .map(|(x, y)| (x.1 - y.1).abs())
        .fold(0.0, f32::max)
}

fn eval_losses(evals: &[Eval]) -> Vec<(usize, f32)> {
    evals
        .iter()
        .flat_map(|e| [(e.step, e.train_loss), (e.step, e.val_loss)])
        .collect()
}

fn assert_close(what: &str, a: &[(usize, f32)], b: &[(usize, f32)]) {
    let d = max_diff(a, b);
    eprintln!("{what}: max |cpu - wgpu| = {d:.3e} over {} losses", a.len());
    assert!(
        d <= LOSS_TOL,
        "{what}: {d} > {LOSS_TOL}\ncpu {a:?}\nwgpu {b:?}"
    );
}

#[test]
fn a_wgpu_adapter_is_present() {
    in_scratch_dir();
    let all = wgpu_adapters();
    eprintln!("wgpu adapters: {all:?}");
    assert!(
        !all.is_empty(),
        "no wgpu adapter: install a Vulkan driver (CI: apt-get install mesa-vulkan-drivers)"
    );
}

#[test]
fn auto_leaves_software_adapters_to_the_cpu_backend() {
    in_scratch_dir();
    let all = wgpu_adapters();
    if all.iter().all(|a| a.kind == AdapterKind::Software) {
        assert_eq!(detect_devices(), vec![DeviceSpec::Cpu], "{all:?}");
    }
}

#[test]
fn an_adapter_the_machine_lacks_is_named_with_those_it_has() {
    in_scratch_dir();
    struct Nothing;
    impl OnBackend for Nothing {
        type Output = ();
        fn run<B: TrainBackend>(self, _device: B::Device) {}
    }
    let err = with_backend(DeviceSpec::Wgpu(99), Nothing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("wgpu:99"), "{err}");
    assert!(err.contains("this machine has only wgpu:0 "), "{err}");
}

#[test]
fn wgpu_trains_like_the_cpu_from_the_same_weights() {
    let corpus = small_corpus();
    let from = start(&corpus, 20);
    let cpu = train(DeviceSpec::Cpu, &from, &corpus, 20);
    let gpu = train(WGPU, &from, &corpus, 20);
    assert_eq!(cpu.steps.len(), 20);
    assert_close("batch losses", &cpu.steps, &gpu.steps);
    assert_close(
        "eval losses",
        &eval_losses(&cpu.evals),
        &eval_losses(&gpu.evals),
    );
    let (first, last) = (gpu.steps[0].1, gpu.steps[19].1);
    assert!(last < first - 0.3, "wgpu did not learn: {first} -> {last}");
    let tuned = kernel_cache().join("autotune");
    assert!(
        std::fs::read_dir(&tuned).is_ok_and(|mut d| d.next().is_some()),
        "cubecl's autotune results are not kept in {}",
        tuned.display()
    );
}

/// A fresh model of one seed, on the given backend, as a step-0 checkpoint.
struct Fresh(Arc<Corpus>);

impl OnBackend for Fresh {
    type Output = Checkpoint;

    fn run<B: TrainBackend>(self, device: B::Device) -> Checkpoint {
        Trainer::<B>::new(tiny(20), self.0, device)
            .unwrap()
            .checkpoint()
            .unwrap()
    }
}

#[test]
fn the_same_seed_starts_the_same_model_on_both_backends() {
    let corpus = small_corpus();
    let cpu = with_backend(DeviceSpec::Cpu, Fresh(corpus.clone())).unwrap();
    let gpu = with_backend(WGPU, Fresh(corpus)).unwrap();
    // Both models read back on the CPU answer the same input bit for bit: same weights.
    let dev = Default::default();
    let logits = |ckpt: &Checkpoint| -> Vec<f32> {
        let ids: Vec<i32> = (0..16).map(|i| (i * 5) % 40).collect();
        ckpt.load_model::<CpuInfer>(&dev)
            .unwrap()
            .forward(Tensor::<CpuInfer, 2, Int>::from_data(
                TensorData::new(ids, [1, 16]),
                &dev,
            ))
            .into_data()
            .iter::<f32>()
            .collect()
    };
    assert_eq!(logits(&cpu), logits(&gpu), "the initial weights differ");
}

#[test]
fn a_checkpoint_written_on_one_backend_resumes_on_the_other() {
    let corpus = small_corpus();
    let from = start(&corpus, 20);
    let whole = train(DeviceSpec::Cpu, &from, &corpus, 20);

    // CPU to wgpu, through the blob a worker ships.
    let half = train(DeviceSpec::Cpu, &from, &corpus, 10);
    assert_eq!(half.ckpt.meta.step, 10);
    let blob = Checkpoint::from_bytes(&half.ckpt.to_bytes(), "blob").unwrap();
    let rest = train(WGPU, &blob, &corpus, 20);
    assert_close("cpu -> wgpu, steps 11..20", &whole.steps[10..], &rest.steps);
    assert_close(
        "cpu -> wgpu, evals",
        &eval_losses(&whole.evals),
        &eval_losses(&rest.evals),
    );

    // wgpu to CPU, through a checkpoint directory.
    let half = train(WGPU, &from, &corpus, 10);
    let dir = tempfile::tempdir().unwrap();
    half.ckpt.save(&dir.path().join("ckpt")).unwrap();
    let loaded = Checkpoint::load(&dir.path().join("ckpt")).unwrap();
    assert_eq!(loaded.meta.step, 10);
    let rest = train(DeviceSpec::Cpu, &loaded, &corpus, 20);
    assert_close("wgpu -> cpu, steps 11..20", &whole.steps[10..], &rest.steps);
    assert_close(
        "wgpu -> cpu, evals",
        &eval_losses(&whole.evals),
        &eval_losses(&rest.evals),
    );
}

#[test]
fn sampling_works_on_wgpu() {
    let corpus = small_corpus();
    let trained = train(DeviceSpec::Cpu, &start(&corpus, 20), &corpus, 20).ckpt;
    let cpu_dev = Default::default();
    let gpu_dev = wgpu_adapters()[0].device.clone();
    let cpu = trained.load_model::<CpuInfer>(&cpu_dev).unwrap();
    let gpu = trained.load_model::<WgpuInfer>(&gpu_dev).unwrap();

    let ids: Vec<i32> = (0..16).map(|i| (i * 7) % 40).collect();
    let logits_cpu: Vec<f32> = cpu
        .forward(Tensor::<CpuInfer, 2, Int>::from_data(
            TensorData::new(ids.clone(), [1, 16]),
            &cpu_dev,
        ))
        .into_data()
        .iter::<f32>()
        .collect();
    let logits_gpu: Vec<f32> = gpu
        .forward(Tensor::<WgpuInfer, 2, Int>::from_data(
            TensorData::new(ids, [1, 16]),
            &gpu_dev,
        ))
        .into_data()
        .iter::<f32>()
        .collect();
    let d = logits_cpu
        .iter()
        .zip(&logits_gpu)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max);
    eprintln!("logits: max |cpu - wgpu| = {d:.3e}");
    assert!(d <= LOSS_TOL, "logits differ by {d}");

    let tok = corpus.tokenizer();
    let opts = SampleOptions {
        prompt: "ROMEO:".into(),
        length: 60,
        temperature: 0.8,
        top_k: Some(10),
        seed: 3,
    };
    let text = generate(&gpu, tok, &opts, &gpu_dev).unwrap();
    assert_eq!(text.chars().count(), 60);
    // The draws are made on the host from the same seed and logits that agree to 1e-7, so
    // both backends write the same text.
    let on_cpu = generate(&cpu, tok, &opts, &cpu_dev).unwrap();
    eprintln!("sample on wgpu: {text:?}\nsample on cpu:  {on_cpu:?}");
    assert_eq!(text, on_cpu);
}
