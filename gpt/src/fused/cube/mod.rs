//! [`GptOps`] on the cubecl backends (burn-wgpu and burn-cuda): `CubeBackend` is where a
//! kernel of ours runs, `Fusion<CubeBackend>` (what burn's `Wgpu` and `Cuda` are) hands each op
//! to it as a custom operation of its stream, and `Autodiff` over either makes a graph node of
//! each op whose backward pass is another `GptOps` method of the inner backend. Every impl is
//! generic over the runtime, so one kernel serves wgpu and CUDA alike.

mod embedding_kernel;
mod embedding_node;
mod fusion_ops;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::tensor::FloatDType;
use burn::tensor::ops::{FloatTensor, FloatTensorOps, IntTensor};
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use burn_fusion::{Fusion, FusionBackend};

pub use embedding_kernel::has_float_atomic_add;

use super::{GptOps, composed};
use crate::gpu_attention::{self, AttentionOps};

/// [`GptOps::token_embedding_backward`] through our kernel on a cubecl backend: `Err` with the
/// inputs where it does not apply (not f32, or no atomic f32 add on the device), for burn's
/// composed version to run. Public for the tests, which check which one ran.
pub fn embedding_backward_kernel<
    R: CubeRuntime,
    F: FloatElement,
    I: IntElement,
    BT: BoolElement,
>(
    vocab: usize,
    grad: FloatTensor<CubeBackend<R, F, I, BT>>,
    ids: IntTensor<CubeBackend<R, F, I, BT>>,
) -> embedding_kernel::Table<R> {
    let device = grad.device.clone();
    let zeros = |shape| CubeBackend::<R, F, I, BT>::float_zeros(shape, &device, FloatDType::F32);
    embedding_kernel::backward::<R, I>(vocab, grad, ids, zeros)
}

/// [`GptOps::causal_attention`] without a gradient (evaluation, sampling) on a cubecl backend,
/// plain or fused: the kernels, or the composed version where they do not cover the call.
fn infer_attention<B: GptOps + AttentionOps>(
    qkv: FloatTensor<B>,
    n_head: usize,
    scale: f32,
    dropout: f64,
) -> FloatTensor<B> {
    gpu_attention::infer_primitive::<B>(qkv, n_head, scale)
        .unwrap_or_else(|qkv| composed::causal_attention::<B>(qkv, n_head, scale, dropout))
}

/// The inner backends whose `Autodiff` takes its `GptOps` from the impl below: the cubecl
/// backends, plain or fused, with the attention kernels of [`crate::gpu_attention`] (burn-flex
/// has its own, `cpu.rs`).
pub trait CubeKernels: GptOps + AttentionOps {}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> GptOps
    for CubeBackend<R, F, I, BT>
{
    const VOCAB_MULTIPLE: usize = 8;

    fn causal_attention(
        qkv: FloatTensor<Self>,
        n_head: usize,
        scale: f32,
        dropout: f64,
    ) -> FloatTensor<Self> {
        infer_attention::<Self>(qkv, n_head, scale, dropout)
    }

    fn token_embedding_backward(
        vocab: usize,
        grad: FloatTensor<Self>,
        ids: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        embedding_backward_kernel::<R, F, I, BT>(vocab, grad, ids).unwrap_or_else(|declined| {
            let (grad, ids) = *declined;
            composed::embedding_backward::<Self>(vocab, grad, ids)
        })
    }
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> CubeKernels
    for CubeBackend<R, F, I, BT>
{
}

impl<B: FusionBackend + CubeKernels> GptOps for Fusion<B> {
    const VOCAB_MULTIPLE: usize = B::VOCAB_MULTIPLE;

    fn causal_attention(
        qkv: FloatTensor<Self>,
        n_head: usize,
        scale: f32,
        dropout: f64,
    ) -> FloatTensor<Self> {
        infer_attention::<Self>(qkv, n_head, scale, dropout)
    }

    fn token_embedding_backward(
        vocab: usize,
        grad: FloatTensor<Self>,
        ids: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        fusion_ops::embedding_backward::<B>(vocab, grad, ids)
    }
}

impl<B: FusionBackend + CubeKernels> CubeKernels for Fusion<B> {}

impl<B: CubeKernels, C: CheckpointStrategy> GptOps for Autodiff<B, C> {
    const VOCAB_MULTIPLE: usize = B::VOCAB_MULTIPLE;

    fn causal_attention(
        qkv: FloatTensor<Self>,
        n_head: usize,
        scale: f32,
        dropout: f64,
    ) -> FloatTensor<Self> {
        gpu_attention::train_checked::<B, C>(qkv, n_head, scale, dropout)
            .unwrap_or_else(|qkv| composed::causal_attention::<Self>(qkv, n_head, scale, dropout))
    }

    fn token_embedding(weights: FloatTensor<Self>, ids: IntTensor<Self>) -> FloatTensor<Self> {
        embedding_node::train::<B, C>(weights, ids)
    }
}
