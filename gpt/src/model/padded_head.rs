//! The lm_head with its vocabulary padded to a multiple of [`GptOps::VOCAB_MULTIPLE`] (8 on the
//! GPU backends): cubecl's matrix products vectorise an operand only when its contiguous extent
//! is a multiple of the vector width, so a vocabulary of 65 leaves the lm_head's products, its
//! logits and their softmax unvectorised. The weights stay `[n_embd, vocab]` (checkpoints,
//! optimiser state and exports are as before, on every backend); each forward pass appends
//! zero columns to the weight and `-inf` to the bias, a copy of `n_embd x vocab` floats, so
//! the padded logits are `-inf`: softmax gives them probability 0, the loss's gradient there
//! is 0, and the gradient of the real columns is the product's, narrowed.

use burn::nn::Linear;
use burn::tensor::Tensor;

use super::precision;
use crate::config::Precision;
use crate::fused::GptOps;

/// `head` applied to `x [batch, time, n_embd]` with its outputs padded to a multiple of
/// `multiple`: `[batch, time, padded]`, the padded logits `-inf`; the product in `precision`.
pub fn logits<B: GptOps>(
    head: &Linear<B>,
    x: Tensor<B, 3>,
    multiple: usize,
    precision: Precision,
) -> Tensor<B, 3> {
    let [c, vocab] = head.weight.dims();
    let padded = vocab.next_multiple_of(multiple.max(1));
    let Some(bias) = head.bias.as_ref().filter(|_| padded > vocab) else {
        return precision::linear(head, x, precision);
    };
    let device = x.device();
    let extra = padded - vocab;
    let weight = Tensor::cat(
        vec![head.weight.val(), Tensor::zeros([c, extra], &device)],
        1,
    );
    let bias = Tensor::cat(
        vec![
            bias.val(),
            Tensor::full([extra], f32::NEG_INFINITY, &device),
        ],
        0,
    );
    let [b, t, _] = x.dims();
    let y = precision::matmul(x.reshape([b * t, c]), weight, precision) + bias.unsqueeze::<2>();
    y.reshape([b, t, padded])
}
