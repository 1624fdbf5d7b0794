//! Fused causal self-attention on the GPU backends (burn-wgpu, burn-cuda), forward and
//! backward, dropout inside: the CPU's fused attention (`fused::attention_kernel`) ported to
//! cubecl kernels ([`kernel`]), so that a training step on a GPU neither materialises the
//! `[B, H, T, T]` scores, weights and mask nor walks the dozen-node graph of the composed
//! version. It is a burn custom operation in layers, as burn's `custom-cubecl-kernel` example
//! builds one (the model reaches it through `GptOps::causal_attention` of these backends,
//! `fused/cube/`):
//! - [`AttentionOps`], implemented by `CubeBackend` (launching the kernels, `cube_op`) and by
//!   `Fusion<CubeBackend>` (registering them as one custom operation in the fusion stream,
//!   `fusion_op`), which is what burn's `Wgpu` and `Cuda` types are;
//! - `Autodiff<B>` over either: a graph node whose backward pass is the backward kernels
//!   (`autodiff_op`).
//!
//! What the kernels cover: f32 tensors, head widths up to [`MAX_HEAD_DIM`] (held in
//! registers), any sequence length and batch, up to 65,535 (sequence, head) pairs. Anything
//! else takes the composed tensor operations, which stay the reference.

mod autodiff_op;
mod cube_op;
mod fusion_op;
mod kernel;
mod mask_hash;

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::tensor::backend::Backend;
use burn::tensor::ops::FloatTensor;
use burn::tensor::{DType, Tensor, TensorMetadata, TensorPrimitive};

pub use crate::fused::{Dims, Mask};

pub use autodiff_op::{train, train_primitive};

/// The widest head the kernels take: each thread keeps a few rows of this many values.
pub const MAX_HEAD_DIM: usize = 128;

/// One attention call: its shape, the scores' scale and the dropout on the weights.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Call {
    /// Batch, sequence length, heads and head width.
    pub dims: Dims,
    /// The scores' factor, `head_dim^-0.5` in the model.
    pub scale: f32,
    /// Dropout on the attention weights, if any.
    pub mask: Option<Mask>,
}

impl Call {
    /// Whether the kernels take this call on a tensor of `dtype` (else the composed
    /// operations run).
    pub fn covered(&self, dtype: DType) -> bool {
        let Dims {
            batch,
            time,
            heads,
            head_dim,
        } = self.dims;
        dtype == DType::F32
            && (1..=MAX_HEAD_DIM).contains(&head_dim)
            && time > 0
            && (1..=65_535).contains(&(batch * heads))
            && batch * heads * time <= u32::MAX as usize
    }
}

/// The attention kernels of a backend, on its tensor primitives (`qkv [B, T, 3C]`,
/// contiguous or not).
pub trait AttentionOps: Backend {
    /// `(out [B, T, C], lse [B * H * T])`: the output and each row's log-sum-exp of the scaled
    /// scores (before dropout), which is what the backward pass keeps.
    fn attention_forward(
        qkv: FloatTensor<Self>,
        call: Call,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The gradient of `qkv [B, T, 3C]` from that of `out`, given the forward's input, output
    /// and log-sum-exp; the dropout mask is regenerated from `call.mask`.
    fn attention_backward(
        qkv: FloatTensor<Self>,
        out: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        call: Call,
    ) -> FloatTensor<Self>;

    /// The dropout multipliers the kernels apply, `[B * H, T, T]` (the factor of each weight:
    /// the mask's scale, or zero), on the device of `like`. For tests.
    fn attention_mask(like: FloatTensor<Self>, call: Call) -> FloatTensor<Self>;
}

/// The dropout multipliers of `call.mask` as the kernels apply them, `[B * H, T, T]`, on
/// `like`'s device: a test hook, so that the composed operations can run under the same mask.
pub fn mask_tensor<B: AttentionOps>(like: &Tensor<B, 3>, call: Call) -> Tensor<B, 3> {
    let out = B::attention_mask(like.clone().into_primitive().tensor(), call);
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// The call of the model's attention of shape `dims`, drawing the dropout key (the next of
/// the step's keyed stream, as on the CPU) when `dropout` is above 0.
pub fn model_call(dims: Dims, scale: f32, dropout: f64) -> Call {
    Call {
        dims,
        scale,
        mask: (dropout > 0.0).then(|| Mask::draw(dropout)),
    }
}

/// The kernels without a gradient (evaluation, sampling) on a backend's primitives, for
/// `GptOps::causal_attention` on `CubeBackend` and `Fusion` (`fused/cube/`): `Err(qkv)` where
/// they do not cover the call, for the composed version to run.
pub fn infer_primitive<B: AttentionOps>(
    qkv: FloatTensor<B>,
    n_head: usize,
    scale: f32,
) -> Result<FloatTensor<B>, FloatTensor<B>> {
    let call = model_call(Dims::of_qkv(&qkv, n_head), scale, 0.0);
    if !call.covered(qkv.dtype()) {
        return Err(qkv);
    }
    Ok(B::attention_forward(qkv, call).0)
}

/// The kernels' output, or `Err` with the input where they do not cover the call.
type Covered<B> = Result<FloatTensor<B>, FloatTensor<B>>;

/// The kernels with a backward node (training) on the autodiff backend's primitives, for
/// `GptOps::causal_attention` on `Autodiff` over a cubecl backend: `Err(qkv)` where they do
/// not cover the call.
pub fn train_checked<B: AttentionOps, C: CheckpointStrategy>(
    qkv: FloatTensor<Autodiff<B, C>>,
    n_head: usize,
    scale: f32,
    dropout: f64,
) -> Covered<Autodiff<B, C>> {
    // Coverage is checked before the dropout key is drawn: a call the kernels decline leaves
    // the step's key stream to the composed version.
    let dims = Dims::of_qkv(&qkv, n_head);
    if !model_call(dims, scale, 0.0).covered(qkv.dtype()) {
        return Err(qkv);
    }
    Ok(train_primitive::<B, C>(
        qkv,
        model_call(dims, scale, dropout),
    ))
}
