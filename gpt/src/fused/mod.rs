//! Fused CPU kernels for the model's hot paths, used where the backend is burn-flex (with or
//! without autodiff) and the composed tensor-op version everywhere else (CUDA, wgpu, whose
//! compilers fuse on their own). burn has no specialisation, so the model stays generic over
//! its backend and [`causal_attention`] looks at the backend's type: on the CPU backends it
//! hands the tensor's primitive to the fused operation (`attention_op`), otherwise it gives
//! the tensor back for the caller's composed version. The tests check each fused operation
//! against the composed one, forward and gradient.

mod attention_kernel;
mod attention_op;
mod fast_exp;
mod simd;

use std::any::{Any, TypeId};

use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorPrimitive};

pub use attention_kernel::Dims;

use crate::backend::{CpuInfer, CpuTrain};

/// `value` as type `T`, which the caller has checked is its own type.
fn same_type<S: 'static, T: 'static>(value: S) -> T {
    *(Box::new(value) as Box<dyn Any>)
        .downcast::<T>()
        .unwrap_or_else(|_| unreachable!("the caller compared the TypeIds"))
}

fn is<B: 'static, T: 'static>() -> bool {
    TypeId::of::<B>() == TypeId::of::<T>()
}

/// Causal self-attention of `n_head` heads over the fused projection `qkv [B, T, 3C]`
/// (q, k, v in that order, each head `C / n_head` wide), scores scaled by `scale`, without
/// dropout: `[B, T, C]`, each head's output in its own columns. `Err(qkv)` on a backend
/// without a fused kernel.
pub fn causal_attention<B: Backend>(
    qkv: Tensor<B, 3>,
    n_head: usize,
    scale: f32,
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
        same_type(attention_op::train(primitive, dims, scale))
    } else if is::<B, CpuInfer>() {
        let primitive = same_type(qkv.into_primitive().tensor());
        same_type(attention_op::infer(primitive, dims, scale))
    } else {
        return Err(qkv);
    };
    Ok(Tensor::from_primitive(TensorPrimitive::Float(out)))
}
