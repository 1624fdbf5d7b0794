//! The fused GPU attention (`gpu_attention`: cubecl kernels, forward and backward) against the
//! composed tensor operations it replaces, on wgpu (lavapipe in CI): the output and the
//! gradient of the fused `qkv` (dq, dk, dv), with and without dropout, on burn's `Wgpu`
//! (the fusion wrapper) and on the bare cubecl backend, over shapes that are not multiples
//! of the kernels' row block. With dropout the composed version runs under the kernels'
//! own mask (materialised by the test hook), which is checked to be the CPU's bit for bit.
#![cfg(feature = "wgpu")]

use std::sync::Once;

use burn::backend::Autodiff;
use burn::backend::wgpu::{CubeBackend, WgpuRuntime};
use burn::nn::Dropout;
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Tensor, TensorData};
use gptsweep_gpt::backend::{WgpuInfer, WgpuTrain};
use gptsweep_gpt::gpu_attention::{
    self, AttentionOps, Call, Dims, MAX_HEAD_DIM, Mask, mask_tensor,
};
use gptsweep_gpt::{fused, use_kernel_cache};

/// burn's cubecl backend on wgpu without the fusion wrapper.
type Bare = CubeBackend<WgpuRuntime, f32, i32, u32>;

/// Largest |fused - composed| allowed, relative to the largest |composed| (at least 1).
/// Both sum the same f32 products in other orders (an online softmax against burn's
/// two-pass one, per-row loops against tiled matmuls): measured differences on lavapipe
/// are a few 1e-7; a wrong mask, scale or softmax term is off by more than 1e-2.
const TOL: f32 = 2e-5;

/// Runs from cargo's scratch directory with cubecl's caches there, as the other wgpu tests.
fn in_scratch_dir() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        std::env::set_current_dir(env!("CARGO_TARGET_TMPDIR")).unwrap();
        use_kernel_cache(&std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("kernels"));
    });
}

/// `n` values in [-2, 2) from `seed` (a fixed LCG: the same inputs on every run).
fn values(n: usize, seed: u64) -> Vec<f32> {
    let mut s = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            s = s
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((s >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
        })
        .collect()
}

fn dims(batch: usize, time: usize, heads: usize, head_dim: usize) -> Dims {
    Dims {
        batch,
        time,
        heads,
        head_dim,
    }
}

/// The composed attention of `qkv [B, T, 3C]`, its weights multiplied by `mask [B*H, T, T]`
/// (if any): the model's own `composed` operations, with the mask in place of `Dropout`.
fn composed<B: burn::tensor::backend::Backend>(
    qkv: Tensor<B, 3>,
    d: Dims,
    scale: f32,
    mask: Option<Tensor<B, 3>>,
) -> Tensor<B, 3> {
    let (b, t, h, hd) = (d.batch, d.time, d.heads, d.head_dim);
    let device = qkv.device();
    let heads = |m: Tensor<B, 3>| m.reshape([b, t, h, hd]).swap_dims(1, 2);
    let mut parts = qkv.chunk(3, 2).into_iter();
    let (q, k, v) = (
        heads(parts.next().unwrap()),
        heads(parts.next().unwrap()),
        heads(parts.next().unwrap()),
    );
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
    let future = Tensor::<B, 2, Bool>::tril_mask([t, t], 0, &device);
    let scores = scores.mask_fill(future.reshape([1, 1, t, t]).expand([b, h, t, t]), -1e30);
    let mut weights = softmax(scores, 3);
    if let Some(mask) = mask {
        weights = weights * mask.reshape([b, h, t, t]);
    }
    weights.matmul(v).swap_dims(1, 2).reshape([b, t, h * hd])
}

/// max |a - b| / max(1, max |b|).
fn rel_diff(a: TensorData, b: TensorData) -> f32 {
    let (a, b) = (a.to_vec::<f32>().unwrap(), b.to_vec::<f32>().unwrap());
    assert_eq!(a.len(), b.len());
    let scale = b.iter().fold(1.0f32, |m, x| m.max(x.abs()));
    let diff = a
        .iter()
        .zip(&b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    assert!(diff.is_finite(), "non-finite values");
    diff / scale
}

/// The kernels against the composed operations on backend `B`: the output, and the
/// gradient of `sum(out * g)` for a random `g` with respect to `qkv`.
fn check<B: AttentionOps>(d: Dims, prob: Option<f64>) {
    in_scratch_dir();
    let device = Default::default();
    let c = d.heads * d.head_dim;
    let shape = [d.batch, d.time, 3 * c];
    let input = TensorData::new(values(d.batch * d.time * 3 * c, 1), shape);
    let g = TensorData::new(values(d.batch * d.time * c, 2), [d.batch, d.time, c]);
    let scale = (d.head_dim as f32).powf(-0.5);
    let call = Call {
        dims: d,
        scale,
        mask: prob.map(|p| Mask::with_key(0x5eed_0000_0000_0001 + d.time as u64, p)),
    };

    let run = |fused: bool| {
        let qkv = Tensor::<Autodiff<B>, 3>::from_data(input.clone(), &device).require_grad();
        let out = if fused {
            gpu_attention::train(qkv.clone(), call)
        } else {
            let mask = call
                .mask
                .map(|_| mask_tensor(&qkv.clone().inner(), call))
                .map(Tensor::from_inner);
            composed(qkv.clone(), d, scale, mask)
        };
        let g = Tensor::<Autodiff<B>, 3>::from_data(g.clone(), &device);
        let grads = (out.clone() * g).sum().backward();
        let grad = qkv.grad(&grads).expect("qkv's gradient");
        (out.into_data(), grad.into_data())
    };
    let (out, grad) = run(true);
    let (ref_out, ref_grad) = run(false);
    let what = format!("{d:?}, dropout {prob:?}");
    let out_diff = rel_diff(out.clone(), ref_out);
    assert!(out_diff < TOL, "output off by {out_diff} ({what})");
    // dq, dk and dv each: a wrong one is not hidden by the others' scale.
    let (ga, gb) = (
        grad.to_vec::<f32>().unwrap(),
        ref_grad.to_vec::<f32>().unwrap(),
    );
    for (part, name) in ["dq", "dk", "dv"].iter().enumerate() {
        let cols = |v: &[f32]| -> Vec<f32> {
            v.chunks(3 * c)
                .flat_map(|row| row[part * c..(part + 1) * c].to_vec())
                .collect()
        };
        let n = d.batch * d.time * c;
        let diff = rel_diff(
            TensorData::new(cols(&ga), [n]),
            TensorData::new(cols(&gb), [n]),
        );
        assert!(diff < TOL, "{name} off by {diff} ({what})");
    }
    // Not a zero or constant output that matches a zero reference by accident.
    let out = out.to_vec::<f32>().unwrap();
    assert!(
        out.iter().any(|x| x.abs() > 1e-2),
        "output all but zero ({what})"
    );
}

/// Shapes (batch, T, heads, head width): T not a multiple of the 32-row block (13, 67), one
/// head, head widths 8 and 64, batch 1 (lavapipe is slow: few and small).
const SHAPES: [(usize, usize, usize, usize); 3] = [(1, 13, 1, 8), (2, 67, 2, 8), (1, 67, 1, 64)];

#[test]
fn kernels_match_the_composed_operations_without_dropout() {
    for (b, t, h, hd) in SHAPES {
        check::<WgpuInfer>(dims(b, t, h, hd), None);
    }
    // The bare cubecl backend (no fusion wrapper), with dropout.
    check::<Bare>(dims(2, 13, 2, 8), Some(0.5));
}

#[test]
fn kernels_match_the_composed_operations_under_the_same_dropout_mask() {
    for (b, t, h, hd) in SHAPES {
        check::<WgpuInfer>(dims(b, t, h, hd), Some(0.2));
    }
}

/// The GPU's mask is the CPU's: the same key and row drop the same elements.
#[test]
fn the_gpu_mask_is_the_cpu_mask() {
    in_scratch_dir();
    let d = dims(2, 37, 3, 8);
    for (key, prob) in [(7u64, 0.2), (0xdead_beef_1234_5678, 0.5)] {
        let mask = Mask::with_key(key, prob);
        let call = Call {
            dims: d,
            scale: 1.0,
            mask: Some(mask),
        };
        let like = Tensor::<WgpuInfer, 3>::zeros([1, 1, 1], &Default::default());
        let gpu = mask_tensor(&like, call)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        let t = d.time;
        let mut cpu = Vec::with_capacity(gpu.len());
        for row in 0..(d.batch * d.heads * t) as u64 {
            let mut xs = vec![1.0f32; t];
            mask.apply(row, &mut xs);
            cpu.extend(xs);
        }
        assert_eq!(gpu, cpu, "key {key:#x}, p {prob}");
        let dropped = gpu.iter().filter(|&&x| x == 0.0).count() as f64 / gpu.len() as f64;
        assert!(
            (dropped - prob).abs() < 0.05,
            "dropped {dropped}, asked {prob}"
        );
    }
}

/// The model's entry (`fused::causal_attention`, through `GptOps` of the wgpu types): the
/// kernels where they cover the call, the composed operations where they do not (a head wider
/// than the kernels hold), the same values either way, in training and in inference.
#[test]
fn the_model_entry_falls_back_where_the_kernels_do_not_reach() {
    in_scratch_dir();
    let device = Default::default();
    let drop = Dropout { prob: 0.0 };
    let (b, t, h) = (1, 5, 1);
    for (hd, covered) in [(8, true), (MAX_HEAD_DIM, true), (MAX_HEAD_DIM + 8, false)] {
        let input = TensorData::new(values(b * t * 3 * h * hd, 3), [b, t, 3 * h * hd]);
        let scale = (hd as f32).powf(-0.5);
        let qkv = Tensor::<WgpuInfer, 3>::from_data(input.clone(), &device);
        let primitive = qkv.clone().into_primitive().tensor();
        assert_eq!(
            gpu_attention::infer_primitive::<WgpuInfer>(primitive, h, scale).is_ok(),
            covered,
            "head width {hd}"
        );
        let reference = composed(qkv.clone(), dims(b, t, h, hd), scale, None);
        let train = Tensor::<WgpuTrain, 3>::from_data(input, &device);
        let outs = [
            fused::causal_attention(train, h, scale, &drop).inner(),
            fused::causal_attention(qkv, h, scale, &drop),
        ];
        for (out, mode) in outs.into_iter().zip(["training", "inference"]) {
            let diff = rel_diff(out.into_data(), reference.clone().into_data());
            assert!(diff < TOL, "head width {hd}, {mode}: off by {diff}");
        }
    }
}
