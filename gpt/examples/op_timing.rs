//! Times the model's individual ops on the CPU backend (no autodiff), to find slow kernels.
//!   cargo run --release -p gptsweep-gpt --example op_timing

use std::time::Instant;

use burn::nn::{EmbeddingConfig, LayerNormConfig, LinearConfig};
use burn::tensor::activation::{log_softmax, relu, softmax};
use burn::tensor::{Distribution, Int, Tensor};
use gptsweep_gpt::backend::CpuInfer as B;

fn time<T>(name: &str, mut f: impl FnMut() -> T) {
    for _ in 0..3 {
        std::hint::black_box(f());
    }
    let n = 50;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(f());
    }
    println!(
        "{name:<28} {:>8.3} ms",
        t.elapsed().as_secs_f64() * 1e3 / n as f64
    );
}

/// The binary's allocator (src/main.rs), so the figures match it.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let d = Default::default();
    let (b, t, c, h) = (32, 64, 64, 4);
    let x = Tensor::<B, 3>::random([b, t, c], Distribution::Normal(0.0, 1.0), &d);
    let ln = LayerNormConfig::new(c).init::<B>(&d);
    let qkv = LinearConfig::new(c, 3 * c).init::<B>(&d);
    let fc = LinearConfig::new(c, 4 * c).init::<B>(&d);
    let emb = EmbeddingConfig::new(65, c).init::<B>(&d);
    let ids = Tensor::<B, 2>::random([b, t], Distribution::Uniform(0.0, 65.0), &d).int();
    let q = Tensor::<B, 4>::random([b, h, t, c / h], Distribution::Normal(0.0, 1.0), &d);
    let att = Tensor::<B, 4>::random([b, h, t, t], Distribution::Normal(0.0, 1.0), &d);
    let logits = Tensor::<B, 2>::random([b * t, 65], Distribution::Normal(0.0, 1.0), &d);
    let targets: Tensor<B, 2, Int> =
        Tensor::<B, 2>::random([b * t, 1], Distribution::Uniform(0.0, 65.0), &d).int();
    time("embedding", || emb.forward(ids.clone()));
    time("layer_norm", || ln.forward(x.clone()));
    time("linear c->3c", || qkv.forward(x.clone()));
    time("linear c->4c", || fc.forward(x.clone()));
    time("relu [b,t,4c]", || relu(fc.forward(x.clone())));
    time("add [b,t,c]", || x.clone() + x.clone());
    time("chunk+reshape+swap", || {
        let parts = qkv.forward(x.clone()).chunk(3, 2);
        parts
            .into_iter()
            .map(|m| m.reshape([b, t, h, c / h]).swap_dims(1, 2))
            .collect::<Vec<_>>()
    });
    time("q @ k^T", || q.clone().matmul(q.clone().swap_dims(2, 3)));
    time("softmax [b,h,t,t]", || softmax(att.clone(), 3));
    time("att @ v", || att.clone().matmul(q.clone()));
    time("swap+reshape back", || {
        q.clone().swap_dims(1, 2).reshape([b, t, c])
    });
    let x2 = x.clone().reshape([b * t, c]);
    time("linear 2d c->3c", || qkv.forward(x2.clone()));
    time("linear 2d c->4c", || fc.forward(x2.clone()));
    for n in [128, 192, 256, 384] {
        let wn = Tensor::<B, 2>::random([c, n], Distribution::Normal(0.0, 1.0), &d);
        time(&format!("matmul [bt,c]x[c,{n}]"), || {
            x2.clone().matmul(wn.clone())
        });
    }
    let w = qkv.weight.val();
    time("matmul 2d [bt,c]x[c,3c]", || x2.clone().matmul(w.clone()));
    let kt = q.clone().swap_dims(2, 3);
    time("q @ kT (kT view)", || q.clone().matmul(kt.clone()));
    let ktc = kt
        .clone()
        .reshape([b * h, c / h, t])
        .reshape([b, h, c / h, t]);
    time("q @ kT (reshaped)", || q.clone().matmul(ktc.clone()));
    let q3 = q.clone().reshape([b * h, t, c / h]);
    let k3t = q3.clone().swap_dims(1, 2);
    time("3d q @ kT view", || q3.clone().matmul(k3t.clone()));
    time("relu 2d", || relu(x2.clone()));
    time("log_softmax+gather", || {
        log_softmax(logits.clone(), 1)
            .gather(1, targets.clone())
            .mean()
    });
}
