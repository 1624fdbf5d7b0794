//! Our cubecl kernels (gpt/src/fused/cube/) on wgpu against the composed tensor operations
//! they replace, values and gradients, on odd shapes (a vocabulary of 65, T not a multiple of
//! anything, batch 1). CI runs this on lavapipe, Mesa's software Vulkan driver.
#![cfg(feature = "wgpu")]

use std::sync::Once;

use burn::backend::wgpu::{CubeBackend, WgpuRuntime};
use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::backend::AutodiffBackend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Int, Tensor, TensorData, TensorPrimitive, Tolerance};
use gptsweep_gpt::backend::{WgpuInfer, WgpuTrain};
use gptsweep_gpt::fused::composed;
use gptsweep_gpt::fused::cube::{embedding_backward_kernel, has_float_atomic_add};
use gptsweep_gpt::{Gpt, GptOps, Hyperparams};

/// burn-wgpu without fusion: where the kernel itself runs.
type Cube = CubeBackend<WgpuRuntime, f32, i32, u32>;

/// (batch, time, vocab, width) of the cases: one row; T = 13 and 67; the lecture's width;
/// a vocabulary larger than the rows (most table rows get nothing).
const SHAPES: [(usize, usize, usize, usize); 5] = [
    (1, 1, 65, 8),
    (1, 13, 65, 24),
    (3, 67, 65, 384),
    (2, 256, 65, 64),
    (4, 33, 1000, 7),
];

/// Runs from cargo's scratch directory, so nothing cubecl writes lands in the source tree.
fn in_scratch_dir() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| std::env::set_current_dir(env!("CARGO_TARGET_TMPDIR")).unwrap());
}

/// `n` numbers of a fixed sequence (a 64-bit LCG): values in [-1, 1), or ids below `below`.
fn sequence(n: usize, seed: u64) -> impl Iterator<Item = u64> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n).map(move |_| {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        state >> 33
    })
}

fn values(n: usize, seed: u64) -> Vec<f32> {
    sequence(n, seed)
        .map(|r| (r as f32 / (1u64 << 31) as f32) * 2.0 - 1.0)
        .collect()
}

fn ids(n: usize, below: usize, seed: u64) -> Vec<i32> {
    sequence(n, seed)
        .map(|r| (r % below as u64) as i32)
        .collect()
}

fn float<B: GptOps, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// The kernel against `select_add` into zeros, where the device has the atomic f32 add it
/// needs (lavapipe has); elsewhere it must decline, for the composed version to run.
#[test]
fn embedding_gradient_kernel_matches_select_add() {
    in_scratch_dir();
    let device = Default::default();
    let has_add = has_float_atomic_add(&float(Tensor::<Cube, 1>::zeros([1], &device)).client);
    eprintln!("this device has an atomic f32 add: {has_add}");
    for (i, &(b, t, vocab, c)) in SHAPES.iter().enumerate() {
        let grad = TensorData::new(values(b * t * c, i as u64), [b, t, c]);
        let ids = TensorData::new(ids(b * t, vocab, 100 + i as u64), [b, t]);
        let grad = || Tensor::<Cube, 3>::from_data(grad.clone(), &device);
        let ids = || Tensor::<Cube, 2, Int>::from_data(ids.clone(), &device).into_primitive();
        let reference = Tensor::<Cube, 2>::from_primitive(TensorPrimitive::Float(
            composed::embedding_backward::<Cube>(vocab, float(grad()), ids()),
        ))
        .into_data();
        assert_eq!(reference.shape.to_vec(), vec![vocab, c]);
        let ours =
            embedding_backward_kernel::<WgpuRuntime, f32, i32, u32>(vocab, float(grad()), ids());
        assert_eq!(
            ours.is_ok(),
            has_add,
            "the kernel runs where the add exists"
        );
        if let Ok(ours) = ours {
            let ours = Tensor::<Cube, 2>::from_primitive(TensorPrimitive::Float(ours)).into_data();
            // Sums of up to 1000 values in [-1, 1) in another order: a few f32 ulps.
            ours.assert_approx_eq::<f32>(&reference, Tolerance::absolute(1e-5));
        }
    }
}

/// The table's gradient through autodiff on burn's `Wgpu` (fusion), where the embedding is our
/// graph node and its backward our kernel, against burn's embedding and its gradient.
#[test]
fn embedding_node_on_fused_wgpu_matches_burns_embedding() {
    in_scratch_dir();
    let device = Default::default();
    for (i, &(b, t, vocab, c)) in SHAPES.iter().enumerate() {
        let table = Tensor::<WgpuTrain, 2>::from_data(
            TensorData::new(values(vocab * c, 7 + i as u64), [vocab, c]),
            &device,
        );
        let weights = Tensor::<WgpuTrain, 3>::from_data(
            TensorData::new(values(b * t * c, 50 + i as u64), [b, t, c]),
            &device,
        );
        let ids = TensorData::new(ids(b * t, vocab, 200 + i as u64), [b, t]);
        let run = |ours: bool| {
            let table = table.clone().detach().require_grad();
            let ids = Tensor::<WgpuTrain, 2, Int>::from_data(ids.clone(), &device);
            let out = if ours {
                Tensor::from_primitive(TensorPrimitive::Float(WgpuTrain::token_embedding(
                    float(table.clone()),
                    ids.into_primitive(),
                )))
            } else {
                burn::tensor::module::embedding(table.clone(), ids)
            };
            let grads = (out.clone() * weights.clone()).sum().backward();
            (
                out.inner().into_data(),
                table.grad(&grads).expect("a table gradient").into_data(),
            )
        };
        let ((out, grad), (want_out, want_grad)) = (run(true), run(false));
        out.assert_approx_eq::<f32>(&want_out, Tolerance::absolute(0.0));
        grad.assert_approx_eq::<f32>(&want_grad, Tolerance::absolute(1e-5));
        // Without autodiff (evaluation) the same rows.
        let infer = WgpuInfer::token_embedding(
            float(table.inner()),
            Tensor::<WgpuInfer, 2, Int>::from_data(ids.clone(), &device).into_primitive(),
        );
        Tensor::<WgpuInfer, 3>::from_primitive(TensorPrimitive::Float(infer))
            .into_data()
            .assert_approx_eq::<f32>(&want_out, Tolerance::absolute(0.0));
    }
}

/// Every parameter's gradient, flattened, in the model's order.
struct Grads<'a, B: AutodiffBackend> {
    grads: &'a B::Gradients,
    out: Vec<Vec<f32>>,
}

impl<B: AutodiffBackend> ModuleVisitor<B> for Grads<'_, B> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let grad = param
            .val()
            .grad(self.grads)
            .expect("every parameter has a gradient");
        self.out.push(grad.into_data().iter::<f32>().collect());
    }
}

/// The lm_head padded to a multiple of 8 (what wgpu does, `GptOps::VOCAB_MULTIPLE`) against no
/// padding, on the same model and batch: the same logits, loss and gradients, batch 1 and 3,
/// T = 13, a vocabulary of 65 (padded to 72).
#[test]
fn padded_vocabulary_gives_the_unpadded_loss_logits_and_gradients() {
    in_scratch_dir();
    assert_eq!(WgpuTrain::VOCAB_MULTIPLE, 8);
    let device = Default::default();
    let config = Hyperparams {
        block_size: 16,
        n_embd: 32,
        n_head: 2,
        n_layer: 1,
        dropout: 0.0,
        ..Default::default()
    }
    .model_config(65);
    let model = Gpt::<WgpuTrain>::init(&config, 5, &device);
    for (batch, seed) in [(1, 1), (3, 2)] {
        let (t, vocab) = (13, 65);
        let x = TensorData::new(ids(batch * t, vocab, seed), [batch, t]);
        let y = TensorData::new(ids(batch * t, vocab, seed + 10), [batch, t]);
        let run = |multiple: usize| {
            let x = Tensor::<WgpuTrain, 2, Int>::from_data(x.clone(), &device);
            let y = Tensor::<WgpuTrain, 2, Int>::from_data(y.clone(), &device);
            let logits = model.padded_logits_to(x, multiple);
            assert_eq!(logits.dims()[2], vocab.next_multiple_of(multiple));
            let real = logits.clone().slice([0..batch, 0..t, 0..vocab]);
            let loss = Gpt::loss(logits, y);
            let grads = loss.backward();
            let mut visitor = Grads::<WgpuTrain> {
                grads: &grads,
                out: Vec::new(),
            };
            model.visit(&mut visitor);
            (loss.into_scalar(), real.inner().into_data(), visitor.out)
        };
        let ((loss, logits, grads), (loss1, logits1, grads1)) = (run(8), run(1));
        assert!(
            loss.is_finite() && (loss - loss1).abs() <= 1e-6,
            "{loss} vs {loss1}"
        );
        logits.assert_approx_eq::<f32>(&logits1, Tolerance::absolute(1e-6));
        assert_eq!(grads.len(), grads1.len());
        for (g, g1) in grads.iter().zip(&grads1) {
            assert_eq!(g.len(), g1.len());
            let d = g
                .iter()
                .zip(g1)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                g.iter().all(|v| v.is_finite()) && d <= 1e-6,
                "gradients differ by {d}"
            );
        }
        // `forward` (sampling, evaluation's logits) gives the real vocabulary only.
        let x = Tensor::<WgpuTrain, 2, Int>::from_data(x.clone(), &device);
        assert_eq!(model.forward(x).dims(), [batch, t, vocab]);
    }
}
