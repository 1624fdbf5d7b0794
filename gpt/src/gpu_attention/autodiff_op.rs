//! The attention as one node of burn-autodiff's graph over any [`AttentionOps`] backend: the
//! forward kernel, and a backward pass (the `Backward` trait) that runs the backward kernels
//! from the input, the output and the rows' log-sum-exp, regenerating the dropout mask.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::ops::FloatTensor;
use burn::tensor::{Tensor, TensorPrimitive};

use super::{AttentionOps, Call};

/// The backward node.
#[derive(Debug)]
struct AttentionBackward;

impl<B: AttentionOps> Backward<B, 1> for AttentionBackward {
    /// The forward's input, output and log-sum-exp, and its call.
    type State = (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>, Call);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad_out = grads.consume::<B>(&ops.node);
        let Some(parent) = parent else { return };
        let (qkv, out, lse, call) = ops.state;
        let grad = B::attention_backward(qkv, out, lse, grad_out, call);
        grads.register::<B>(parent.id, grad);
    }
}

/// `qkv [B, T, 3C] -> [B, T, C]` through the kernels, differentiable, with `call.mask` (if
/// any) dropping attention weights.
pub fn train<B: AttentionOps, C: CheckpointStrategy>(
    qkv: Tensor<Autodiff<B, C>, 3>,
    call: Call,
) -> Tensor<Autodiff<B, C>, 3> {
    let out = train_primitive::<B, C>(qkv.into_primitive().tensor(), call);
    Tensor::from_primitive(TensorPrimitive::Float(out))
}

/// [`train`] on the autodiff backend's primitives (for a backend-extension trait's method).
pub fn train_primitive<B: AttentionOps, C: CheckpointStrategy>(
    qkv: FloatTensor<Autodiff<B, C>>,
    call: Call,
) -> FloatTensor<Autodiff<B, C>> {
    match AttentionBackward
        .prepare::<C>([qkv.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (out, lse) = B::attention_forward(qkv.primitive.clone(), call);
            prep.finish((qkv.primitive, out.clone(), lse, call), out)
        }
        OpsKind::UnTracked(prep) => {
            let (out, _) = B::attention_forward(qkv.primitive, call);
            prep.finish(out)
        }
    }
}
