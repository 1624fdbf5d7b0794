//! Our kernels for the model's hot paths, behind one backend-extension trait, [`GptOps`]
//! (`ops.rs`): each operation has a composed tensor-op default (`composed.rs`, also the
//! reference the tests hold every kernel to), and a backend with a kernel of its own
//! overrides it in its impl: the fused CPU kernels for burn-flex and `Autodiff<Flex>`
//! (`cpu.rs`, `*_op`, `*_kernel`), cubecl kernels for the wgpu and CUDA backends (`cube/`,
//! and the fused attention of [`crate::gpu_attention`]).
//! The functions here are the `Tensor`-level entry points the model calls.

mod attention_kernel;
mod attention_op;
pub mod composed;
mod cpu;
#[cfg(feature = "gpu-kernels")]
pub mod cube;
mod dropout_mask;
mod dropout_op;
mod fast_exp;
mod layer_norm_kernel;
mod layer_norm_op;
mod ops;
mod primitive;
mod simd;
#[cfg(test)]
mod tests;

use burn::nn::{Dropout, Embedding, LayerNorm};
use burn::tensor::{Int, Tensor, TensorPrimitive};

pub use attention_kernel::Dims;

pub use dropout_mask::Mask;
pub(crate) use dropout_mask::keyed as keyed_dropout;
pub use ops::{GptOps, TrainBackend};

/// Causal self-attention of `n_head` heads over the fused projection `qkv [B, T, 3C]`
/// (q, k, v in that order, each head `C / n_head` wide), scores scaled by `scale`, the
/// weights dropped by `dropout` in training: `[B, T, C]`, each head's output in its own
/// columns ([`GptOps::causal_attention`]).
pub fn causal_attention<B: GptOps>(
    qkv: Tensor<B, 3>,
    n_head: usize,
    scale: f32,
    dropout: &Dropout,
) -> Tensor<B, 3> {
    let out = B::causal_attention(qkv.into_primitive().tensor(), n_head, scale, dropout.prob);
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// burn's LayerNorm default, which the model's LayerNorms use (`LayerNormConfig::new`).
const LAYER_NORM_EPS: f64 = 1e-5;

/// `norm` applied to `x` over its last dimension ([`GptOps::affine_layer_norm`]).
pub fn layer_norm<B: GptOps, const D: usize>(norm: &LayerNorm<B>, x: Tensor<B, D>) -> Tensor<B, D> {
    let Some(beta) = norm.beta.as_ref() else {
        return norm.forward(x);
    };
    let out = B::affine_layer_norm(
        x.into_primitive().tensor(),
        norm.gamma.val().into_primitive().tensor(),
        beta.val().into_primitive().tensor(),
        LAYER_NORM_EPS,
    );
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// `drop` applied to `x` in training, `x` itself elsewhere ([`GptOps::train_dropout`]).
pub fn dropout<B: GptOps, const D: usize>(drop: &Dropout, x: Tensor<B, D>) -> Tensor<B, D> {
    let out = B::train_dropout(x.into_primitive().tensor(), drop.prob);
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The rows `ids [B, T]` of `table`'s weights: `[B, T, C]` ([`GptOps::token_embedding`]).
pub fn embedding<B: GptOps>(table: &Embedding<B>, ids: Tensor<B, 2, Int>) -> Tensor<B, 3> {
    let out = B::token_embedding(
        table.weight.val().into_primitive().tensor(),
        ids.into_primitive(),
    );
    Tensor::from_primitive(TensorPrimitive::Float(out))
}
