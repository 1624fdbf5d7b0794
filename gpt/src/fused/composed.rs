//! The model's operations composed of burn tensor operations: the defaults of [`GptOps`]
//! (what a backend without a kernel of its own runs) and the reference every kernel of ours
//! is tested against.
//!
//! [`GptOps`]: super::GptOps

use burn::nn::DropoutConfig;
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn::tensor::{Bool, Int, Tensor, TensorMetadata, TensorPrimitive};

use super::GptOps;

fn float<B: Backend, const D: usize>(t: FloatTensor<B>) -> Tensor<B, D> {
    Tensor::from_primitive(TensorPrimitive::Float(t))
}

fn primitive<B: Backend, const D: usize>(t: Tensor<B, D>) -> FloatTensor<B> {
    t.into_primitive().tensor()
}

/// Causal attention of `qkv [B, T, 3C]` in tensor operations (see `GptOps::causal_attention`).
pub fn causal_attention<B: GptOps>(
    qkv: FloatTensor<B>,
    n_head: usize,
    scale: f32,
    dropout: f64,
) -> FloatTensor<B> {
    primitive(causal_attention_with::<B>(
        float(qkv),
        n_head,
        scale,
        dropout,
        Tensor::matmul,
    ))
}

/// [`causal_attention`] on tensors with the two batched products through `matmul` (the
/// model's bf16 products, `precision: bf16`, pass theirs); the weights' dropout is the
/// backend's [`GptOps::train_dropout`] (keyed by the step's seed on the CPU).
pub fn causal_attention_with<B: GptOps>(
    qkv: Tensor<B, 3>,
    n_head: usize,
    scale: f32,
    dropout: f64,
    matmul: impl Fn(Tensor<B, 4>, Tensor<B, 4>) -> Tensor<B, 4>,
) -> Tensor<B, 3> {
    let [b, t, c3] = qkv.dims();
    let c = c3 / 3;
    let (h, d) = (n_head, c / n_head);
    let device = qkv.device();
    let heads = |m: Tensor<B, 3>| m.reshape([b, t, h, d]).swap_dims(1, 2);
    let mut qkv = qkv.chunk(3, 2).into_iter();
    let (q, k, v) = (
        heads(qkv.next().expect("q")),
        heads(qkv.next().expect("k")),
        heads(qkv.next().expect("v")),
    );
    let scores = matmul(q, k.swap_dims(2, 3)).mul_scalar(scale as f64);
    // burn's tril_mask is true strictly above the diagonal: the future positions. The
    // mask is applied as an additive bias of -inf there, one [T*T] row shared by every
    // (batch, head): flattened so, the add takes burn-flex's SIMD shared-row path, where
    // a [1, 1, T, T] bias would be walked element by element (13% of a step, measured),
    // and no [B, H, T, T] mask is ever materialised, forward or backward.
    let future = Tensor::<B, 2, Bool>::tril_mask([t, t], 0, &device);
    let bias = Tensor::<B, 2>::zeros([t, t], &device)
        .mask_fill(future, f32::NEG_INFINITY)
        .reshape([1, t * t]);
    let scores = (scores.reshape([b * h, t * t]) + bias).reshape([b, h, t, t]);
    let weights = float(B::train_dropout(primitive(softmax(scores, 3)), dropout));
    let out = matmul(weights, v);
    out.swap_dims(1, 2).reshape([b, t, c])
}

/// burn's `Dropout` on `x` of rank 1 to 4 (it applies only where `B` differentiates).
pub fn dropout<B: Backend>(x: FloatTensor<B>, prob: f64) -> FloatTensor<B> {
    let drop = DropoutConfig::new(prob).init();
    match x.shape().num_dims() {
        1 => primitive(drop.forward(float::<B, 1>(x))),
        2 => primitive(drop.forward(float::<B, 2>(x))),
        3 => primitive(drop.forward(float::<B, 3>(x))),
        4 => primitive(drop.forward(float::<B, 4>(x))),
        rank => unreachable!("dropout on a tensor of rank {rank}: the model has ranks 1 to 4"),
    }
}

/// The embedding gradient as burn composes it: `grad`'s rows added into a zero table of
/// `vocab` rows at their ids (`select_add`).
pub fn embedding_backward<B: Backend>(
    vocab: usize,
    grad: FloatTensor<B>,
    ids: IntTensor<B>,
) -> FloatTensor<B> {
    let grad = float::<B, 3>(grad);
    let [b, t, c] = grad.dims();
    let ids = Tensor::<B, 2, Int>::from_primitive(ids).reshape([b * t]);
    let zeros = Tensor::<B, 2>::zeros([vocab, c], &grad.device());
    B::float_select_add(
        primitive(zeros),
        0,
        ids.into_primitive(),
        primitive(grad.reshape([b * t, c])),
    )
}
