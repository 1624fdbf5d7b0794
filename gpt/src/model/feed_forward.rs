//! The position-wise feed-forward of a block: Linear(n, 4n) -> ReLU -> Linear(4n, n) -> dropout.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;
use burn::tensor::backend::Backend;

use super::init::Weights;
use super::precision;
use crate::config::{ModelConfig, Precision};
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
    /// Precision of the products.
    precision: Precision,
}

impl<B: Backend> FeedForward<B> {
    /// The feed-forward of a block of `cfg`.
    pub fn new(cfg: &ModelConfig, weights: &mut Weights, device: &B::Device) -> Self {
        let c = cfg.n_embd;
        Self {
            fc: weights.linear(c, 4 * c, true, device),
            proj: weights.linear(4 * c, c, true, device),
            drop: DropoutConfig::new(cfg.dropout).init(),
            precision: cfg.precision,
        }
    }

    /// `[batch, time, n_embd] -> [batch, time, n_embd]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3>
    where
        B: GptOps,
    {
        let hidden = relu(precision::linear(&self.fc, x, self.precision));
        fused::dropout(
            &self.drop,
            precision::linear(&self.proj, hidden, self.precision),
        )
    }
}
