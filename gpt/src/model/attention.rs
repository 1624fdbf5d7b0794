//! Causal multi-head self-attention with every head in one batched matmul: one fused
//! q/k/v projection (no bias, as the lecture's per-head Linear layers), scores scaled by
//! head_size^-0.5, a causal mask, softmax, dropout on the weights, the output projection
//! and dropout.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::activation::softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Bool, Tensor};

use super::init::{self, Weights};
use crate::config::ModelConfig;

/// All heads of one block's attention.
#[derive(Module, Debug)]
pub struct CausalSelfAttention<B: Backend> {
    /// Query, key and value projections of every head, `n_embd -> 3 * n_embd`.
    qkv: Linear<B>,
    /// Output projection, `n_embd -> n_embd`.
    proj: Linear<B>,
    /// Dropout on the attention weights.
    attn_drop: Dropout,
    /// Dropout after the projection.
    resid_drop: Dropout,
    /// Number of heads.
    n_head: usize,
}

impl<B: Backend> CausalSelfAttention<B> {
    /// The attention of a block of `cfg`.
    pub fn new(cfg: &ModelConfig, weights: &mut Weights, device: &B::Device) -> Self {
        let c = cfg.n_embd;
        Self {
            qkv: weights.linear(c, 3 * c, false, device),
            proj: weights.linear(c, c, true, device),
            attn_drop: DropoutConfig::new(cfg.dropout).init(),
            resid_drop: DropoutConfig::new(cfg.dropout).init(),
            n_head: cfg.n_head,
        }
    }

    /// `[batch, time, n_embd] -> [batch, time, n_embd]`, position t attending to <= t only.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3> {
        let [b, t, c] = x.dims();
        let (h, d) = (self.n_head, c / self.n_head);
        let device = x.device();
        let heads = |m: Tensor<B, 3>| m.reshape([b, t, h, d]).swap_dims(1, 2);
        let mut qkv = init::apply(&self.qkv, x).chunk(3, 2).into_iter();
        let (q, k, v) = (
            heads(qkv.next().expect("q")),
            heads(qkv.next().expect("k")),
            heads(qkv.next().expect("v")),
        );
        let scores = q
            .matmul(k.swap_dims(2, 3))
            .mul_scalar((d as f64).powf(-0.5));
        // burn's tril_mask is true strictly above the diagonal: the future positions. The
        // mask is applied as an additive bias of -inf there, one [T*T] row shared by every
        // (batch, head): flattened so, the add takes burn-flex's SIMD shared-row path, where
        // a [1, 1, T, T] bias would be walked element by element (13% of a step, measured),
        // and no [B, H, T, T] mask is ever materialised, forward or backward.
        let future = Tensor::<B, 2, Bool>::tril_mask([t, t], 0, &device);
        let bias = Tensor::<B, 2>::zeros([t, t], &device)
            .mask_fill(future, f32::NEG_INFINITY)
            .reshape([1, t * t]);
        let scores = (scores.reshape([b * h, t * t]) + bias).reshape([b, h, t, t]);
        let weights = softmax(scores, 3);
        let out = self.attn_drop.forward(weights).matmul(v);
        let out = out.swap_dims(1, 2).reshape([b, t, c]);
        self.resid_drop.forward(init::apply(&self.proj, out))
    }
}
