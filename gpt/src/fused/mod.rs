//! Fused CPU kernels for the model's hot paths, used where the backend is burn-flex (with or
//! without autodiff) and the composed tensor-op version everywhere else (CUDA, wgpu, whose
//! compilers fuse on their own), but for the attention, which has GPU kernels of its own
//! ([`crate::gpu_attention`], in builds with `wgpu` or `cuda`). burn has no specialisation, so the model stays generic over
//! its backend and [`causal_attention`], [`layer_norm`] and [`dropout`] look at the backend's
//! type: on the CPU backends they hand the tensors' primitives to the fused operations
//! (`*_op`), otherwise the composed version runs. The tests check each fused operation
//! against the composed one, forward and gradient.

mod attention_kernel;
mod attention_op;
mod dropout_mask;
mod dropout_op;
mod fast_exp;
mod layer_norm_kernel;
mod layer_norm_op;
mod primitive;
mod simd;
#[cfg(test)]
mod tests;

use std::any::{Any, TypeId};

use burn::nn::{Dropout, LayerNorm};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

pub use attention_kernel::Dims;

pub use dropout_mask::Mask;
pub(crate) use dropout_mask::keyed as keyed_dropout;

use crate::backend::{CpuInfer, CpuTrain};

/// `value` as type `T`, which the caller has checked is its own type.
pub(crate) fn same_type<S: 'static, T: 'static>(value: S) -> T {
    *(Box::new(value) as Box<dyn Any>)
        .downcast::<T>()
        .unwrap_or_else(|_| unreachable!("the caller compared the TypeIds"))
}

/// Whether the backend `B` is `T` (burn has no specialisation: the type is compared at run time).
pub(crate) fn is<B: 'static, T: 'static>() -> bool {
    TypeId::of::<B>() == TypeId::of::<T>()
}

/// Causal self-attention of `n_head` heads over the fused projection `qkv [B, T, 3C]`
/// (q, k, v in that order, each head `C / n_head` wide), scores scaled by `scale`, the
/// weights dropped by `dropout` in training: `[B, T, C]`, each head's output in its own
/// columns. `Err(qkv)` on a backend without a fused kernel.
pub fn causal_attention<B: Backend>(
    qkv: Tensor<B, 3>,
    n_head: usize,
    scale: f32,
    dropout: &Dropout,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    let [batch, time, c3] = qkv.dims();
    let dims = Dims {
        batch,
        time,
        heads: n_head,
        head_dim: c3 / 3 / n_head,
    };
    let out = if is::<B, CpuTrain>() {
        let primitive = same_type(qkv.into_primitive().tensor());
        let mask = (dropout.prob > 0.0).then(|| Mask::draw(dropout.prob));
        same_type(attention_op::train(primitive, dims, scale, mask))
    } else if is::<B, CpuInfer>() {
        let primitive = same_type(qkv.into_primitive().tensor());
        same_type(attention_op::infer(primitive, dims, scale))
    } else {
        return gpu_attention(qkv, n_head, scale, dropout);
    };
    Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
}

/// The GPU backends' fused attention ([`crate::gpu_attention`]) in a build with GPU kernels:
/// `Err(qkv)` on other backends, or where the kernels do not cover the call.
#[cfg(feature = "gpu-kernels")]
fn gpu_attention<B: Backend>(
    qkv: Tensor<B, 3>,
    n_head: usize,
    scale: f32,
    dropout: &Dropout,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    crate::gpu_attention::causal_attention(qkv, n_head, scale, dropout)
}

/// A build without GPU kernels: the composed version everywhere but the CPU.
#[cfg(not(feature = "gpu-kernels"))]
fn gpu_attention<B: Backend>(
    qkv: Tensor<B, 3>,
    _: usize,
    _: f32,
    _: &Dropout,
) -> Result<Tensor<B, 3>, Tensor<B, 3>> {
    Err(qkv)
}

/// burn's LayerNorm default, which the model's LayerNorms use (`LayerNormConfig::new`).
const LAYER_NORM_EPS: f32 = 1e-5;

/// `norm` applied to `x` over its last dimension: one fused operation in training on the CPU,
/// burn's LayerNorm everywhere else (burn-flex's own is already one kernel without autodiff).
pub fn layer_norm<B: Backend, const D: usize>(
    norm: &LayerNorm<B>,
    x: Tensor<B, D>,
) -> Tensor<B, D> {
    let Some(beta) = norm.beta.as_ref().filter(|_| is::<B, CpuTrain>()) else {
        return norm.forward(x);
    };
    let [x, gamma, beta] = [
        x.into_primitive().tensor(),
        norm.gamma.val().into_primitive().tensor(),
        beta.val().into_primitive().tensor(),
    ]
    .map(same_type);
    let out = layer_norm_op::train(x, gamma, beta, LAYER_NORM_EPS);
    Tensor::from_primitive(TensorPrimitive::Float(same_type(out)))
}

/// `drop` applied to `x`: in training on the CPU one fused operation whose mask is a hash the
/// backward pass recomputes ([`Mask`]), elsewhere burn's `Dropout` (which does nothing outside
/// training).
pub fn dropout<B: Backend, const D: usize>(drop: &Dropout, x: Tensor<B, D>) -> Tensor<B, D> {
    if drop.prob == 0.0 || !is::<B, CpuTrain>() {
        return drop.forward(x);
    }
    let primitive = same_type(x.into_primitive().tensor());
    let out = dropout_op::train(primitive, Mask::draw(drop.prob));
    Tensor::from_primitive(TensorPrimitive::Float(same_type(out)))
}
