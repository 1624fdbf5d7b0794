//! The token embedding as a graph node of its own on `Autodiff<B>`: the forward pass is the
//! inner backend's [`GptOps::token_embedding`], the backward pass its
//! [`GptOps::token_embedding_backward`] (on the cubecl backends, our kernel), where burn-autodiff
//! would call burn's `embedding_backward` (`select_add`), which no backend of ours can replace.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::tensor::TensorMetadata;
use burn::tensor::ops::{FloatTensor, IntTensor};

use crate::fused::GptOps;

/// The backward node: the ids and the table's row count are its state.
#[derive(Debug)]
struct EmbeddingBackward;

impl<B: GptOps> Backward<B, 1> for EmbeddingBackward {
    type State = (IntTensor<B>, usize);

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);
        let Some(parent) = parent else { return };
        let (ids, vocab) = ops.state;
        grads.register::<B>(parent.id, B::token_embedding_backward(vocab, grad, ids));
    }
}

/// Rows `ids` of `weights`, differentiable in `weights`.
pub fn train<B: GptOps, C: CheckpointStrategy>(
    weights: FloatTensor<Autodiff<B, C>>,
    ids: IntTensor<Autodiff<B, C>>,
) -> FloatTensor<Autodiff<B, C>> {
    let vocab = weights.primitive.shape()[0];
    match EmbeddingBackward
        .prepare::<C>([weights.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let out = B::token_embedding(weights.primitive, ids.clone());
            prep.finish((ids, vocab), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(B::token_embedding(weights.primitive, ids)),
    }
}
