//! Where a training step's time goes on the CPU backend: forward, backward, optimiser.
//!   cargo run --release -p gptsweep-gpt --example step_breakdown -- [n_layer n_head n_embd block batch steps]

use std::time::Instant;

use burn::optim::{AdamWConfig, GradientsParams, Optimizer};
use burn::tensor::{Int, Tensor, TensorData};
use gptsweep_gpt::backend::CpuTrain;
use gptsweep_gpt::{Gpt, Hyperparams};

/// The binary's allocator (src/main.rs), so the figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .map(|s| s.parse().expect("integers"))
        .collect();
    let get = |i: usize, d: usize| a.get(i).copied().unwrap_or(d);
    let hp = Hyperparams {
        n_layer: get(0, 2),
        n_head: get(1, 4),
        n_embd: get(2, 64),
        block_size: get(3, 64),
        batch_size: get(4, 32),
        dropout: 0.0,
        ..Default::default()
    };
    let steps = get(5, 50);
    let device = Default::default();
    let mut model = Gpt::<CpuTrain>::init(&hp.model_config(65), hp.seed, &device);
    let mut optim = AdamWConfig::new().init::<CpuTrain, Gpt<CpuTrain>>();
    let ids: Vec<i32> = (0..hp.batch_size * hp.block_size)
        .map(|i| (i * 7 % 65) as i32)
        .collect();
    let (mut f, mut b, mut o) = (0.0, 0.0, 0.0);
    for s in 0..steps + 5 {
        let x = Tensor::<CpuTrain, 2, Int>::from_data(
            TensorData::new(ids.clone(), [hp.batch_size, hp.block_size]),
            &device,
        );
        let y = Tensor::<CpuTrain, 2, Int>::from_data(
            TensorData::new(ids.clone(), [hp.batch_size, hp.block_size]),
            &device,
        );
        let t0 = Instant::now();
        let loss = Gpt::loss(model.forward(x), y);
        let t1 = Instant::now();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        let t2 = Instant::now();
        model = optim.step(1e-3, model, grads);
        let t3 = Instant::now();
        if s >= 5 {
            f += (t1 - t0).as_secs_f64();
            b += (t2 - t1).as_secs_f64();
            o += (t3 - t2).as_secs_f64();
        }
    }
    let n = steps as f64;
    let total = (f + b + o) / n;
    println!(
        "per step: forward {:.2} ms, backward {:.2} ms, optimiser {:.2} ms; total {:.2} ms = {:.0} tokens/s",
        f / n * 1e3,
        b / n * 1e3,
        o / n * 1e3,
        total * 1e3,
        (hp.batch_size * hp.block_size) as f64 / total
    );
}
