//! What burn-cuda's other float types buy: the same training (the lecture's model, its
//! seed, batches and schedule) on `Cuda<f32>` (what gptsweep trains in: f32 with TF32
//! matrix products), `Cuda<bf16>` or `Cuda<f16>`. burn 0.21 has no mixed precision: the
//! half types hold everything in 16 bits, weights and AdamW moments included, so the losses
//! matter as much as the speed. Prints one JSON line per evaluation and a summary line.
//! Needs an NVIDIA GPU; BENCHMARKS.md ("GPU (CUDA)") has the figures.
//!   cargo build --release --features cuda -p gptsweep-gpt --example cuda_precision
//!   cuda_precision bf16 [max_iters eval_interval n_layer n_head n_embd block batch dropout]

use std::sync::Arc;
use std::time::Instant;

use burn::backend::Autodiff;
use burn::backend::cuda::{Cuda, CudaDevice};
use burn::tensor::{bf16, f16};
use gptsweep_gpt::{Corpus, Event, Flow, Hyperparams, TokenizerKind, TrainBackend, Trainer};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let precision = args
        .first()
        .map(String::as_str)
        .unwrap_or("f32")
        .to_string();
    let num = |i: usize, d: f64| -> f64 {
        args.get(i)
            .map(|s| s.parse().expect("numbers after the precision"))
            .unwrap_or(d)
    };
    let hp = Hyperparams {
        max_iters: num(1, 1000.0) as usize,
        eval_interval: num(2, 500.0) as usize,
        n_layer: num(3, 6.0) as usize,
        n_head: num(4, 6.0) as usize,
        n_embd: num(5, 384.0) as usize,
        block_size: num(6, 256.0) as usize,
        batch_size: num(7, 64.0) as usize,
        dropout: num(8, 0.2),
        ..Default::default()
    };
    // gptsweep's kernel cache, so a machine warmed by the binary is warm here too.
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cache")))
        .unwrap_or_default();
    gptsweep_gpt::use_kernel_cache(&cache.join("gptsweep/kernels"));
    let corpus = Arc::new(
        Corpus::load("tinyshakespeare", TokenizerKind::Char, None).expect("built-in corpus"),
    );
    match precision.as_str() {
        "f32" => train::<Autodiff<Cuda<f32>>>(hp, corpus, &precision),
        "bf16" => train::<Autodiff<Cuda<bf16>>>(hp, corpus, &precision),
        "f16" => train::<Autodiff<Cuda<f16>>>(hp, corpus, &precision),
        other => panic!("precision {other}: expected f32, bf16 or f16"),
    }
}

fn train<B: TrainBackend<Device = CudaDevice>>(hp: Hyperparams, corpus: Arc<Corpus>, name: &str) {
    let start = Instant::now();
    let tokens_per_step = hp.batch_size * hp.block_size;
    let mut trainer = Trainer::<B>::new(hp, corpus, CudaDevice::new(0)).expect("trainer");
    let result = trainer.run(0, |t, event| {
        if let Event::Eval(e) = event {
            println!(
                "{{\"precision\":\"{name}\",\"step\":{},\"train_loss\":{:.4},\"val_loss\":{:.4},\"tokens_per_sec\":{:.0},\"train_secs\":{:.1},\"wall_secs\":{:.1}}}",
                e.step,
                e.train_loss,
                e.val_loss,
                e.tokens_per_sec,
                t.train_secs(),
                start.elapsed().as_secs_f64()
            );
        }
        Flow::Continue
    });
    let steps = trainer.steps_done();
    println!(
        "{{\"precision\":\"{name}\",\"done\":{},\"error\":{:?},\"steps\":{steps},\"tokens_per_sec_overall\":{:.0},\"wall_secs\":{:.1}}}",
        result.is_ok(),
        result.err().map(|e| e.to_string()),
        (steps * tokens_per_step) as f64 / trainer.train_secs().max(1e-9),
        start.elapsed().as_secs_f64()
    );
}
