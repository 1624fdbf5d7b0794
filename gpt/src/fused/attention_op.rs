//! The fused attention as a burn operation on the CPU backends: plain on burn-flex (evaluation
//! and sampling), and on `Autodiff<Flex>` a graph node of its own whose backward pass is
//! [`attention_kernel::backward`], through burn-autodiff's backend-extension API (the
//! `Backward` trait), so training never builds the dozen-node graph of the composed version.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::ops::FloatTensor;

use super::attention_kernel::{self, Dims};
use super::dropout_mask::Mask;
use super::primitive::{slice, tensor};
use crate::backend::CpuTrain;

type TrainTensor = FloatTensor<CpuTrain>;

/// `qkv [B, T, 3C] -> [B, T, C]` on burn-flex, no gradient.
pub fn infer(qkv: FlexTensor, dims: Dims, scale: f32) -> FlexTensor {
    let qkv = qkv.to_contiguous();
    let out = attention_kernel::infer(slice(&qkv), dims, scale);
    tensor(out, vec![dims.batch, dims.time, dims.heads * dims.head_dim])
}

/// The backward node: the forward's input, attention weights and dropout are its state.
#[derive(Debug)]
struct AttentionBackward;

impl Backward<Flex, 1> for AttentionBackward {
    type State = (FlexTensor, FlexTensor, Dims, f32, Option<Mask>);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad_out = grads.consume::<Flex>(&ops.node).to_contiguous();
        let Some(parent) = parent else { return };
        let (qkv, probs, dims, scale, mask) = ops.state;
        let grad = attention_kernel::backward(
            slice(&qkv),
            slice(&probs),
            slice(&grad_out),
            dims,
            scale,
            mask,
        );
        let c3 = 3 * dims.heads * dims.head_dim;
        grads.register::<Flex>(parent.id, tensor(grad, vec![dims.batch, dims.time, c3]));
    }
}

/// `qkv [B, T, 3C] -> [B, T, C]` on `Autodiff<Flex>`, differentiable, with `mask` (if any)
/// dropping attention weights.
pub fn train(qkv: TrainTensor, dims: Dims, scale: f32, mask: Option<Mask>) -> TrainTensor {
    let out_shape = vec![dims.batch, dims.time, dims.heads * dims.head_dim];
    match AttentionBackward
        .prepare::<NoCheckpointing>([qkv.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let input = qkv.primitive.to_contiguous();
            let (out, probs) = attention_kernel::forward(slice(&input), dims, scale, mask);
            let probs = tensor(probs, vec![dims.batch * dims.heads, dims.time * dims.time]);
            prep.finish((input, probs, dims, scale, mask), tensor(out, out_shape))
        }
        OpsKind::UnTracked(prep) => {
            let input = qkv.primitive.to_contiguous();
            let (out, _) = attention_kernel::forward(slice(&input), dims, scale, mask);
            prep.finish(tensor(out, out_shape))
        }
    }
}
