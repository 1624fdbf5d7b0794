//! Dropout in training on `Autodiff<Flex>` as one graph node: the forward pass masks and
//! scales in one parallel pass (in place when the input is not shared), and the backward
//! pass regenerates the same mask from the call's key ([`Mask`]) to mask the gradient, so no
//! mask tensor is drawn element by element from a ChaCha stream (burn's `Dropout`, 30% of a
//! small model's step) or kept for the backward pass.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::ops::FloatTensor;
use rayon::prelude::*;

use super::dropout_mask::Mask;
use crate::backend::CpuTrain;

/// Elements per row of the mask (and per parallel task).
const ROW: usize = 4096;

/// `t` with `mask` applied, in place when `t` holds its buffer alone.
fn masked(t: FlexTensor, mask: Mask) -> FlexTensor {
    // `to_contiguous` of a contiguous tensor shares its buffer: drop the original so that
    // the buffer is written in place, not copied, when nothing else holds it.
    let mut t = {
        let contiguous = t.to_contiguous();
        drop(t);
        contiguous
    };
    t.storage_mut::<f32>()
        .par_chunks_mut(ROW)
        .enumerate()
        .for_each(|(row, values)| mask.apply(row as u64, values));
    t
}

/// The backward node: the mask is its whole state.
#[derive(Debug)]
struct DropoutBackward;

impl Backward<Flex, 1> for DropoutBackward {
    type State = Mask;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Some(parent) = parent else { return };
        grads.register::<Flex>(parent.id, masked(grad, ops.state));
    }
}

/// `x` with each element dropped with the mask's probability and the rest scaled.
pub fn train(x: FloatTensor<CpuTrain>, mask: Mask) -> FloatTensor<CpuTrain> {
    match DropoutBackward
        .prepare::<NoCheckpointing>([x.node.clone()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => prep.finish(mask, masked(x.primitive, mask)),
        OpsKind::UnTracked(prep) => prep.finish(masked(x.primitive, mask)),
    }
}
