//! The position-wise feed-forward of a block: Linear(n, 4n) -> ReLU -> Linear(4n, n) -> dropout.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

use super::init::{self, Weights};
use crate::config::ModelConfig;
use crate::fused::{self, GptOps};

/// The 4x ReLU MLP of a block.
#[derive(Module, Debug)]
pub struct FeedForward<B: Backend> {
    /// Expansion, `n_embd -> 4 * n_embd`.
    fc: Linear<B>,
    /// Projection back, `4 * n_embd -> n_embd`.
    proj: Linear<B>,
    /// Dropout on the output.
    drop: Dropout,
}

impl<B: Backend> FeedForward<B> {
    /// The feed-forward of a block of `cfg`.
    pub fn new(cfg: &ModelConfig, weights: &mut Weights, device: &B::Device) -> Self {
        let c = cfg.n_embd;
        Self {
            fc: weights.linear(c, 4 * c, true, device),
            proj: weights.linear(4 * c, c, true, device),
            drop: DropoutConfig::new(cfg.dropout).init(),
        }
    }

    /// `[batch, time, n_embd] -> [batch, time, n_embd]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3>
    where
        B: GptOps,
    {
        let hidden = relu(init::apply(&self.fc, x));
        fused::dropout(&self.drop, init::apply(&self.proj, hidden))
    }
}
