//! The GPT of Karpathy's "Let's build GPT" lecture (final gpt.py), in burn: token and
//! position embeddings, `n_layer` pre-LayerNorm blocks, a final LayerNorm and the lm_head.
//! Submodules hold one layer each; this file holds the whole model and its loss.

mod attention;
mod block;
mod feed_forward;
mod init;
mod padded_head;
mod precision;

use init::Weights;

pub use attention::CausalSelfAttention;
pub use block::Block;
pub use feed_forward::FeedForward;

use burn::module::Module;
use burn::nn::{Embedding, LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::log_softmax;
use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor};

use crate::config::{ModelConfig, Precision};
use crate::fused::{self, GptOps};

/// The language model: logits over the vocabulary for every position of a sequence.
#[derive(Module, Debug)]
pub struct Gpt<B: Backend> {
    /// Token embedding table, `[vocab, n_embd]`.
    tok_emb: Embedding<B>,
    /// Learned position embedding table, `[block_size, n_embd]`.
    pos_emb: Embedding<B>,
    /// The transformer blocks.
    blocks: Vec<Block<B>>,
    /// Final LayerNorm.
    ln_f: LayerNorm<B>,
    /// Projection to vocabulary logits.
    lm_head: Linear<B>,
    /// Longest context the position table covers.
    block_size: usize,
    /// Precision of the products (not saved: the weights are f32 either way).
    precision: Precision,
}

impl<B: Backend> Gpt<B> {
    /// Builds the model of `config` with the lecture's initialisation: N(0, 0.02) for
    /// linear and embedding weights, zero biases, LayerNorm at (1, 0). The draws are a
    /// function of `seed` alone, the same on every backend and device (`init::Weights`).
    pub fn init(config: &ModelConfig, seed: u64, device: &B::Device) -> Self {
        Self::build(config, Weights::new(seed), device)
    }

    /// The model's shape with every weight zero, for loading a checkpoint into.
    pub fn init_for_loading(config: &ModelConfig, device: &B::Device) -> Self {
        Self::build(config, Weights::placeholder(), device)
    }

    fn build(config: &ModelConfig, mut weights: Weights, device: &B::Device) -> Self {
        let c = config.n_embd;
        Gpt {
            tok_emb: weights.embedding(config.vocab_size, c, device),
            pos_emb: weights.embedding(config.block_size, c, device),
            blocks: (0..config.n_layer)
                .map(|_| Block::new(config, &mut weights, device))
                .collect(),
            ln_f: LayerNormConfig::new(c).init(device),
            lm_head: weights.linear(c, config.vocab_size, true, device),
            block_size: config.block_size,
            precision: config.precision,
        }
    }
}

impl<B: GptOps> Gpt<B> {
    /// Logits `[batch, time, vocab]` for token ids `[batch, time]`, time <= block_size.
    pub fn forward(&self, idx: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        let vocab = self.vocab_size();
        let logits = self.padded_logits(idx);
        let [b, t, padded] = logits.dims();
        if padded == vocab {
            return logits;
        }
        logits.slice([0..b, 0..t, 0..vocab])
    }

    /// The logits with the vocabulary padded as the backend prefers
    /// ([`GptOps::VOCAB_MULTIPLE`]): `[batch, time, padded]`, the padded logits `-inf`. What
    /// the loss takes in training ([`Gpt::loss`] gives the same value as on [`Gpt::forward`]).
    pub fn padded_logits(&self, idx: Tensor<B, 2, Int>) -> Tensor<B, 3> {
        self.padded_logits_to(idx, B::VOCAB_MULTIPLE)
    }

    /// [`Gpt::padded_logits`] with the vocabulary padded to a multiple of `multiple` (1: none).
    pub fn padded_logits_to(&self, idx: Tensor<B, 2, Int>, multiple: usize) -> Tensor<B, 3> {
        let [_, t] = idx.dims();
        debug_assert!(
            t <= self.block_size,
            "sequence of {t} exceeds block_size {}",
            self.block_size
        );
        let tok = fused::embedding(&self.tok_emb, idx);
        let pos = self.pos_emb.weight.val().narrow(0, 0, t).unsqueeze::<3>();
        let mut x = tok + pos;
        for block in &self.blocks {
            x = block.forward(x);
        }
        padded_head::logits(
            &self.lm_head,
            fused::layer_norm(&self.ln_f, x),
            multiple,
            self.precision,
        )
    }

    /// The number of tokens the model predicts.
    pub fn vocab_size(&self) -> usize {
        self.lm_head.weight.dims()[1]
    }

    /// Mean cross entropy of `logits` `[batch, time, vocab]` (or padded, the padding `-inf`)
    /// against `targets` `[batch, time]`.
    pub fn loss(logits: Tensor<B, 3>, targets: Tensor<B, 2, Int>) -> Tensor<B, 1> {
        let [b, t, v] = logits.dims();
        let logp = log_softmax(logits.reshape([b * t, v]), 1);
        logp.gather(1, targets.reshape([b * t, 1])).mean().neg()
    }

    /// The longest context this model accepts.
    pub fn block_size(&self) -> usize {
        self.block_size
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuInfer;
    use crate::config::Hyperparams;
    use burn::tensor::{Distribution, TensorData, Tolerance};

    fn tiny() -> ModelConfig {
        Hyperparams {
            block_size: 16,
            n_embd: 32,
            n_head: 4,
            n_layer: 2,
            dropout: 0.0,
            ..Default::default()
        }
        .model_config(11)
    }

    #[test]
    fn built_model_has_the_shape_formula_count() {
        let device = Default::default();
        let cfg = tiny();
        let model = Gpt::<CpuInfer>::init(&cfg, 1, &device);
        assert_eq!(model.num_params(), cfg.num_params());
    }

    #[test]
    fn the_seed_alone_decides_the_initial_weights() {
        let device = Default::default();
        let weights = |seed| {
            CpuInfer::seed(&device, 99);
            let m = Gpt::<CpuInfer>::init(&tiny(), seed, &device);
            m.lm_head.weight.val().into_data().to_vec::<f32>().unwrap()
        };
        let a = weights(7);
        assert_eq!(a, weights(7), "the backend's RNG must not matter");
        assert_ne!(a, weights(8));
        let std = (a.iter().map(|w| (w * w) as f64).sum::<f64>() / a.len() as f64).sqrt();
        assert!(
            (std - 0.02).abs() < 0.004,
            "std of the lm_head weights {std}"
        );
    }

    #[test]
    fn lecture_model_has_10_788_929_params() {
        let cfg = Hyperparams::default().model_config(65);
        let model = Gpt::<CpuInfer>::init(&cfg, 1, &Default::default());
        assert_eq!(model.num_params(), 10_788_929);
    }

    #[test]
    fn changing_later_tokens_leaves_earlier_logits_unchanged() {
        let device = Default::default();
        let model = Gpt::<CpuInfer>::init(&tiny(), 5, &device);
        let a: Vec<i32> = (0..16).map(|i| i % 11).collect();
        let mut b = a.clone();
        for tok in b.iter_mut().skip(9) {
            *tok = (*tok + 3) % 11;
        }
        let run = |ids: Vec<i32>| {
            model.forward(Tensor::from_data(TensorData::new(ids, [1, 16]), &device))
        };
        let (la, lb) = (run(a), run(b));
        la.clone()
            .slice([0..1, 0..9])
            .into_data()
            .assert_approx_eq::<f32>(
                &lb.clone().slice([0..1, 0..9]).into_data(),
                Tolerance::absolute(1e-6),
            );
        let diff = (la.slice([0..1, 9..16]) - lb.slice([0..1, 9..16]))
            .abs()
            .max()
            .into_data()
            .iter::<f32>()
            .next()
            .unwrap();
        assert!(diff > 1e-4, "later logits should change, max diff {diff}");
    }

    #[test]
    fn loss_at_initialisation_is_close_to_ln_vocab() {
        let device = Default::default();
        CpuInfer::seed(&device, 1);
        let cfg = Hyperparams {
            block_size: 32,
            n_embd: 64,
            n_head: 4,
            n_layer: 2,
            dropout: 0.0,
            ..Default::default()
        }
        .model_config(65);
        let model = Gpt::<CpuInfer>::init(&cfg, 1, &device);
        let x =
            Tensor::<CpuInfer, 2>::random([8, 32], Distribution::Uniform(0.0, 65.0), &device).int();
        let y =
            Tensor::<CpuInfer, 2>::random([8, 32], Distribution::Uniform(0.0, 65.0), &device).int();
        let loss: f32 = Gpt::loss(model.forward(x), y)
            .into_data()
            .iter::<f32>()
            .next()
            .unwrap();
        assert!(
            (loss - 65f32.ln()).abs() < 0.05,
            "loss at init {loss}, ln 65 = {}",
            65f32.ln()
        );
    }
}
