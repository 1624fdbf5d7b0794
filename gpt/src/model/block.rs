//! One transformer block, pre-LayerNorm with residuals: x + attn(ln1(x)), then x + ffwd(ln2(x)).

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::init::Weights;
use super::{CausalSelfAttention, FeedForward};
use crate::config::ModelConfig;
use crate::fused::{self, GptOps};

/// A block: communication (attention) then computation (feed-forward).
#[derive(Module, Debug)]
pub struct Block<B: Backend> {
    /// LayerNorm before attention.
    ln1: LayerNorm<B>,
    /// Multi-head causal self-attention.
    attn: CausalSelfAttention<B>,
    /// LayerNorm before the feed-forward.
    ln2: LayerNorm<B>,
    /// The feed-forward.
    ffwd: FeedForward<B>,
}

impl<B: Backend> Block<B> {
    /// A block of `cfg`.
    pub fn new(cfg: &ModelConfig, weights: &mut Weights, device: &B::Device) -> Self {
        Self {
            ln1: LayerNormConfig::new(cfg.n_embd).init(device),
            attn: CausalSelfAttention::new(cfg, weights, device),
            ln2: LayerNormConfig::new(cfg.n_embd).init(device),
            ffwd: FeedForward::new(cfg, weights, device),
        }
    }

    /// `[batch, time, n_embd] -> [batch, time, n_embd]`.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3>
    where
        B: GptOps,
    {
        let x = x.clone() + self.attn.forward(fused::layer_norm(&self.ln1, x));
        x.clone() + self.ffwd.forward(fused::layer_norm(&self.ln2, x))
    }
}
