//! [`GptOps`] on the CPU backends: burn-flex runs the fused attention kernel (evaluation and
//! sampling), `Autodiff<Flex>` (training) the fused attention, LayerNorm and dropout as graph
//! nodes of their own (`*_op`). The embedding stays burn's: its CPU `select_add` is cheap.

use burn::backend::Flex;
use burn::tensor::ops::FloatTensor;

use super::GptOps;
use super::attention_kernel::Dims;
use super::dropout_mask::Mask;
use super::{attention_op, dropout_op, layer_norm_op};
use crate::backend::CpuTrain;

impl GptOps for Flex {
    const USES_RAYON: bool = true;

    fn causal_attention(
        qkv: FloatTensor<Self>,
        n_head: usize,
        scale: f32,
        _dropout: f64,
    ) -> FloatTensor<Self> {
        let dims = Dims::of_qkv(&qkv, n_head);
        attention_op::infer(qkv, dims, scale)
    }
}

impl GptOps for CpuTrain {
    const USES_RAYON: bool = true;

    fn causal_attention(
        qkv: FloatTensor<Self>,
        n_head: usize,
        scale: f32,
        dropout: f64,
    ) -> FloatTensor<Self> {
        let dims = Dims::of_qkv(&qkv, n_head);
        let mask = (dropout > 0.0).then(|| Mask::draw(dropout));
        attention_op::train(qkv, dims, scale, mask)
    }

    fn affine_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        layer_norm_op::train(x, gamma, beta, eps as f32)
    }

    fn train_dropout(x: FloatTensor<Self>, prob: f64) -> FloatTensor<Self> {
        if prob == 0.0 {
            return x;
        }
        dropout_op::train(x, Mask::draw(prob))
    }
}
