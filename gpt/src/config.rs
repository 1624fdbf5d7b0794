//! Hyperparameters: the model's shape and the training recipe, as one flat, serialisable
//! record. Flat because a sweep file names them directly (`n_embd`, `lr`, ...), and the
//! record is what a run stores as its parameters. Defaults are the lecture's gpt.py.

use serde::{Deserialize, Serialize};

use crate::error::{GptError, Result};

/// Learning-rate schedule after warm-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LrDecay {
    /// Constant learning rate (the lecture).
    #[default]
    Constant,
    /// Cosine decay from `lr` to `min_lr` over `max_iters` (nanoGPT).
    Cosine,
}

/// Every knob of one training run. Field names are the sweep file's parameter names.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Hyperparams {
    /// Sequences per batch.
    pub batch_size: usize,
    /// Context length in tokens.
    pub block_size: usize,
    /// Embedding width.
    pub n_embd: usize,
    /// Attention heads per block (must divide `n_embd`).
    pub n_head: usize,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Dropout probability in [0, 1).
    pub dropout: f64,
    /// Peak learning rate of AdamW.
    pub lr: f64,
    /// Final learning rate of the cosine schedule (defaults to lr / 10).
    pub min_lr: Option<f64>,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_iters: usize,
    /// Schedule after warm-up.
    pub lr_decay: LrDecay,
    /// Decoupled weight decay of AdamW (PyTorch's default 0.01, as in the lecture).
    pub weight_decay: f64,
    /// AdamW beta1.
    pub beta1: f64,
    /// AdamW beta2.
    pub beta2: f64,
    /// AdamW epsilon (PyTorch's default 1e-8).
    pub eps: f64,
    /// Clip the global gradient norm to this value; 0 disables clipping.
    pub grad_clip: f64,
    /// Optimisation steps.
    pub max_iters: usize,
    /// Steps between evaluations (an evaluation also runs at the last step).
    pub eval_interval: usize,
    /// Batches averaged per split in an evaluation.
    pub eval_iters: usize,
    /// Seed of parameter initialisation, batches and dropout.
    pub seed: u64,
}

impl Default for Hyperparams {
    fn default() -> Self {
        Self {
            batch_size: 64,
            block_size: 256,
            n_embd: 384,
            n_head: 6,
            n_layer: 6,
            dropout: 0.2,
            lr: 3e-4,
            min_lr: None,
            warmup_iters: 0,
            lr_decay: LrDecay::Constant,
            weight_decay: 0.01,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            grad_clip: 0.0,
            max_iters: 5000,
            eval_interval: 500,
            eval_iters: 200,
            seed: 1337,
        }
    }
}

/// Names of the hyperparameters, in the order of [`Hyperparams`].
pub const HYPERPARAM_NAMES: &[&str] = &[
    "batch_size",
    "block_size",
    "n_embd",
    "n_head",
    "n_layer",
    "dropout",
    "lr",
    "min_lr",
    "warmup_iters",
    "lr_decay",
    "weight_decay",
    "beta1",
    "beta2",
    "eps",
    "grad_clip",
    "max_iters",
    "eval_interval",
    "eval_iters",
    "seed",
];

fn positive(field: &'static str, v: usize) -> Result<()> {
    if v == 0 {
        return Err(GptError::invalid(field, v, "must be a positive integer"));
    }
    Ok(())
}

fn finite_in(field: &'static str, v: f64, ok: bool, rule: &str) -> Result<()> {
    if !v.is_finite() || !ok {
        return Err(GptError::invalid(field, v, rule));
    }
    Ok(())
}

impl Hyperparams {
    /// Checks every rule a buildable, trainable model must satisfy.
    pub fn validate(&self) -> Result<()> {
        positive("batch_size", self.batch_size)?;
        positive("block_size", self.block_size)?;
        positive("n_embd", self.n_embd)?;
        positive("n_head", self.n_head)?;
        positive("n_layer", self.n_layer)?;
        positive("max_iters", self.max_iters)?;
        positive("eval_interval", self.eval_interval)?;
        positive("eval_iters", self.eval_iters)?;
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(GptError::invalid(
                "n_embd",
                self.n_embd,
                format!("must be divisible by n_head = {}", self.n_head),
            ));
        }
        finite_in(
            "dropout",
            self.dropout,
            (0.0..1.0).contains(&self.dropout),
            "must be in [0, 1)",
        )?;
        finite_in("lr", self.lr, self.lr > 0.0, "must be > 0")?;
        if let Some(min_lr) = self.min_lr {
            finite_in(
                "min_lr",
                min_lr,
                min_lr >= 0.0 && min_lr <= self.lr,
                "must be in [0, lr]",
            )?;
        }
        finite_in(
            "weight_decay",
            self.weight_decay,
            self.weight_decay >= 0.0,
            "must be >= 0",
        )?;
        finite_in(
            "beta1",
            self.beta1,
            (0.0..1.0).contains(&self.beta1),
            "must be in [0, 1)",
        )?;
        finite_in(
            "beta2",
            self.beta2,
            (0.0..1.0).contains(&self.beta2),
            "must be in [0, 1)",
        )?;
        finite_in("eps", self.eps, self.eps > 0.0, "must be > 0")?;
        finite_in(
            "grad_clip",
            self.grad_clip,
            self.grad_clip >= 0.0,
            "must be >= 0 (0 disables clipping)",
        )?;
        Ok(())
    }

    /// The learning rate at `step` (0-based): linear warm-up, then constant or cosine.
    pub fn lr_at(&self, step: usize) -> f64 {
        if step < self.warmup_iters {
            return self.lr * (step + 1) as f64 / (self.warmup_iters + 1) as f64;
        }
        match self.lr_decay {
            LrDecay::Constant => self.lr,
            LrDecay::Cosine => {
                let min_lr = self.min_lr.unwrap_or(self.lr / 10.0);
                let span = self.max_iters.saturating_sub(self.warmup_iters).max(1) as f64;
                let progress = ((step - self.warmup_iters) as f64 / span).min(1.0);
                min_lr + 0.5 * (1.0 + (std::f64::consts::PI * progress).cos()) * (self.lr - min_lr)
            }
        }
    }

    /// The model built from these hyperparameters for a vocabulary of `vocab_size`.
    pub fn model_config(&self, vocab_size: usize) -> ModelConfig {
        ModelConfig {
            vocab_size,
            block_size: self.block_size,
            n_embd: self.n_embd,
            n_head: self.n_head,
            n_layer: self.n_layer,
            dropout: self.dropout,
        }
    }

    /// True when an evaluation follows the `done`-th completed step: every `eval_interval`
    /// steps and after the last one. Evaluations are labelled by completed steps, so a run of
    /// 1000 steps with interval 250 reports at 250, 500, 750 and 1000.
    pub fn evaluates_after(&self, done: usize) -> bool {
        done > 0 && (done.is_multiple_of(self.eval_interval) || done == self.max_iters)
    }

    /// The steps (counted as completed steps) after which a complete run evaluates.
    pub fn eval_steps(&self) -> Vec<usize> {
        (1..=self.max_iters)
            .filter(|d| self.evaluates_after(*d))
            .collect()
    }

    /// The number of evaluations a complete run reports.
    pub fn expected_evals(&self) -> usize {
        self.max_iters / self.eval_interval
            + usize::from(!self.max_iters.is_multiple_of(self.eval_interval))
    }
}

/// The architecture of one GPT: what is needed to build it and load its weights.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Tokens in the vocabulary.
    pub vocab_size: usize,
    /// Context length.
    pub block_size: usize,
    /// Embedding width.
    pub n_embd: usize,
    /// Attention heads.
    pub n_head: usize,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Dropout probability.
    pub dropout: f64,
}

impl ModelConfig {
    /// Parameter count, computed from the shape (equal to the built model's count).
    pub fn num_params(&self) -> usize {
        let (v, t, c) = (self.vocab_size, self.block_size, self.n_embd);
        // per block: qkv (3c^2, no bias) + proj (c^2 + c) + ffn (4c^2 + 4c + 4c^2 + c) + 2 LN (4c)
        let block = 12 * c * c + 10 * c;
        v * c + t * c + self.n_layer * block + 2 * c + c * v + v
    }

    /// Rough bytes of device memory that training takes with AdamW at `batch_size`:
    /// weights, gradients and two moments (4 copies), plus the activations autodiff keeps
    /// (per block about 16 * B*T*C floats and 2 * B*H*T*T for the attention matrices).
    pub fn training_bytes(&self, batch_size: usize) -> u64 {
        let (b, t, c, h) = (
            batch_size as u64,
            self.block_size as u64,
            self.n_embd as u64,
            self.n_head as u64,
        );
        let params = self.num_params() as u64 * 4 * 4;
        let per_block = 16 * b * t * c + 3 * b * h * t * t;
        let logits = 3 * b * t * self.vocab_size as u64;
        params + (self.n_layer as u64 * per_block + 4 * b * t * c + logits) * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lecture_config_has_exactly_10_788_929_params() {
        assert_eq!(
            Hyperparams::default().model_config(65).num_params(),
            10_788_929
        );
    }

    #[test]
    fn each_rule_names_its_field() {
        let cases: Vec<(Hyperparams, &str)> = vec![
            (
                Hyperparams {
                    n_embd: 30,
                    n_head: 4,
                    ..Default::default()
                },
                "n_embd = 30: must be divisible by n_head = 4",
            ),
            (
                Hyperparams {
                    n_layer: 0,
                    ..Default::default()
                },
                "n_layer = 0",
            ),
            (
                Hyperparams {
                    block_size: 0,
                    ..Default::default()
                },
                "block_size = 0",
            ),
            (
                Hyperparams {
                    dropout: 1.0,
                    ..Default::default()
                },
                "dropout = 1: must be in [0, 1)",
            ),
            (
                Hyperparams {
                    dropout: -0.1,
                    ..Default::default()
                },
                "dropout = -0.1",
            ),
            (
                Hyperparams {
                    lr: 0.0,
                    ..Default::default()
                },
                "lr = 0: must be > 0",
            ),
            (
                Hyperparams {
                    lr: f64::NAN,
                    ..Default::default()
                },
                "lr = NaN",
            ),
        ];
        for (hp, want) in cases {
            let err = hp.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err:?} should contain {want:?}");
        }
        Hyperparams::default().validate().unwrap();
    }

    #[test]
    fn eval_steps_are_every_interval_and_the_last() {
        let hp = Hyperparams {
            max_iters: 10,
            eval_interval: 4,
            ..Default::default()
        };
        assert_eq!(hp.eval_steps(), vec![4, 8, 10]);
        assert_eq!(hp.expected_evals(), 3);
        let hp = Hyperparams {
            max_iters: 8,
            eval_interval: 4,
            ..Default::default()
        };
        assert_eq!(hp.expected_evals(), 2);
    }

    #[test]
    fn cosine_schedule_warms_up_then_decays_to_min_lr() {
        let hp = Hyperparams {
            lr: 1e-3,
            min_lr: Some(1e-4),
            warmup_iters: 10,
            lr_decay: LrDecay::Cosine,
            max_iters: 110,
            ..Default::default()
        };
        assert!(hp.lr_at(0) < hp.lr_at(5));
        assert!((hp.lr_at(10) - 1e-3).abs() < 1e-12);
        assert!((hp.lr_at(110) - 1e-4).abs() < 1e-12);
        assert!((hp.lr_at(60) - 5.5e-4).abs() < 1e-9);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_str::<Hyperparams>(r#"{"n_embed": 3}"#)
            .unwrap_err()
            .to_string();
        assert!(err.contains("n_embed"), "{err}");
    }
}
