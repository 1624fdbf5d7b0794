//! The one way the model reaches a kernel of ours: [`GptOps`], a backend-extension trait
//! (burn's custom-kernel pattern). Each operation has a default that composes burn tensor
//! operations (the reference, and what every backend without a kernel runs); a backend with a
//! kernel of its own overrides the method in its `impl` (`cpu.rs` for burn-flex and
//! `Autodiff<Flex>`, `cube/` for the cubecl backends of wgpu and CUDA). The model is generic
//! over `B: GptOps`; training needs [`TrainBackend`], an autodiff backend whose inner backend
//! is a `GptOps` too (evaluation and sampling run on the inner one).
//!
//! Methods take and return burn primitives (`FloatTensor<Self>`), as burn's own backend traits
//! do; `fused/mod.rs` has the `Tensor`-level wrappers the model calls.

use burn::tensor::backend::{AutodiffBackend, Backend};
use burn::tensor::ops::{FloatTensor, IntTensor};

use super::composed;

/// Operations of the GPT that a backend may run as kernels of its own.
pub trait GptOps: Backend {
    /// Whether the backend computes on this process's rayon threads (burn-flex), so that a run
    /// gives its steps a rayon pool of their own (`cpu_pool`).
    const USES_RAYON: bool = false;

    /// The lm_head's vocabulary is padded to a multiple of this (`model/padded_head.rs`):
    /// 8 where the matrix products vectorise only whole vectors (cubecl), 1 (none) elsewhere.
    const VOCAB_MULTIPLE: usize = 1;

    /// Causal self-attention of `n_head` heads over the fused projection `qkv [B, T, 3C]`
    /// (q, k, v in that order along the last dimension, each head `C / n_head` wide): scores
    /// `q k^T * scale`, future positions masked, softmax, the weights dropped with probability
    /// `dropout` where the backend is differentiating (`Self::ad_enabled`, i.e. training;
    /// never otherwise), times v. Returns `[B, T, C]`, head `h` in columns `h*hd..(h+1)*hd`.
    fn causal_attention(
        qkv: FloatTensor<Self>,
        n_head: usize,
        scale: f32,
        dropout: f64,
    ) -> FloatTensor<Self> {
        composed::causal_attention::<Self>(qkv, n_head, scale, dropout)
    }

    /// LayerNorm of `x` (any rank) over its last dimension, `gamma` and `beta` of that width.
    fn affine_layer_norm(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        eps: f64,
    ) -> FloatTensor<Self> {
        Self::layer_norm(x, gamma, Some(beta), eps)
    }

    /// `x` (rank 1 to 4) with each element zeroed with probability `prob` and the rest scaled
    /// by `1 / (1 - prob)` where the backend is differentiating; `x` unchanged otherwise.
    fn train_dropout(x: FloatTensor<Self>, prob: f64) -> FloatTensor<Self> {
        composed::dropout::<Self>(x, prob)
    }

    /// Rows `ids [B, T]` of the table `weights [V, C]`: `[B, T, C]`, differentiable in
    /// `weights` (an autodiff backend's override routes the gradient to
    /// [`GptOps::token_embedding_backward`] of its inner backend).
    fn token_embedding(weights: FloatTensor<Self>, ids: IntTensor<Self>) -> FloatTensor<Self> {
        Self::embedding(weights, ids)
    }

    /// The gradient of [`GptOps::token_embedding`] with respect to its table of `vocab` rows:
    /// `[vocab, C]`, row `v` the sum of the rows of `grad [B, T, C]` whose id is `v`.
    fn token_embedding_backward(
        vocab: usize,
        grad: FloatTensor<Self>,
        ids: IntTensor<Self>,
    ) -> FloatTensor<Self> {
        composed::embedding_backward::<Self>(vocab, grad, ids)
    }
}

/// A backend the trainer can train on: autodiff, with [`GptOps`] both on it and on the inner
/// backend its evaluations and samples run on.
pub trait TrainBackend: AutodiffBackend<InnerBackend: GptOps> + GptOps {}

impl<B> TrainBackend for B
where
    B: AutodiffBackend + GptOps,
    B::InnerBackend: GptOps,
{
}
