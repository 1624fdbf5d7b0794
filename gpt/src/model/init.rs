//! The lecture's weight initialisation (`_init_weights` in gpt.py): normal(0, 0.02)
//! weights and zero biases for every Linear and Embedding.

use burn::module::Initializer;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

/// N(0, 0.02), the lecture's initialiser for linear and embedding weights.
pub const WEIGHT_INIT: Initializer = Initializer::Normal {
    mean: 0.0,
    std: 0.02,
};

/// A `d_in -> d_out` linear layer initialised as in the lecture.
pub fn linear<B: Backend>(d_in: usize, d_out: usize, bias: bool, device: &B::Device) -> Linear<B> {
    Linear {
        weight: WEIGHT_INIT.init_with([d_in, d_out], Some(d_in), Some(d_out), device),
        bias: bias.then(|| Initializer::Zeros.init([d_out], device)),
    }
}

/// `layer` applied to `[batch, time, d_in]` as one `[batch * time, d_in]` matrix product.
/// burn-flex runs a 3-D input as `batch` small products, about 3x slower at these sizes
/// (measured with `cargo run --release -p gptsweep-gpt --example op_timing`).
pub fn apply<B: Backend>(layer: &Linear<B>, x: Tensor<B, 3>) -> Tensor<B, 3> {
    let [b, t, c] = x.dims();
    let y = layer.forward(x.reshape([b * t, c]));
    let out = y.dims()[1];
    y.reshape([b, t, out])
}
