//! Text generation: from a prompt, new tokens until the continuation holds N characters
//! (so samples of character and BPE runs have the same length), one forward pass each
//! over the last block_size tokens, drawn with temperature and optional top-k from a
//! seeded generator.

use burn::tensor::backend::Backend;
use burn::tensor::{Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{GptError, Result};
use crate::model::Gpt;
use crate::rng::{Rng, Stream};
use crate::tokenizer::Tokenizer;

/// Most characters one sample may generate (`sample --length`, a sweep's `samples.length`).
pub const MAX_SAMPLE_LENGTH: usize = 100_000;
/// Most characters a prompt may hold.
pub const MAX_PROMPT_CHARS: usize = 100_000;

/// How to sample.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleOptions {
    /// Text to continue; empty starts from token 0, as the lecture does.
    pub prompt: String,
    /// Characters to generate.
    pub length: usize,
    /// Softmax temperature (> 0); 1 samples the model's distribution.
    pub temperature: f64,
    /// Keep only the k most likely tokens; `None` keeps all.
    pub top_k: Option<usize>,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for SampleOptions {
    fn default() -> Self {
        Self {
            prompt: "\n".into(),
            length: 500,
            temperature: 1.0,
            top_k: None,
            seed: 42,
        }
    }
}

impl SampleOptions {
    /// Checks length, prompt size, temperature and top-k.
    pub fn validate(&self) -> Result<()> {
        if !(1..=MAX_SAMPLE_LENGTH).contains(&self.length) {
            return Err(GptError::invalid(
                "length",
                self.length,
                format!("must be between 1 and {MAX_SAMPLE_LENGTH}"),
            ));
        }
        let prompt_chars = self.prompt.chars().count();
        if prompt_chars > MAX_PROMPT_CHARS {
            return Err(GptError::invalid(
                "prompt",
                format!("of {prompt_chars} characters"),
                format!("must be at most {MAX_PROMPT_CHARS} characters"),
            ));
        }
        if !(self.temperature.is_finite() && self.temperature > 0.0) {
            return Err(GptError::invalid(
                "temperature",
                self.temperature,
                "must be > 0",
            ));
        }
        if self.top_k == Some(0) {
            return Err(GptError::invalid("top_k", 0, "must be >= 1"));
        }
        Ok(())
    }
}

/// The text every finished run of a sweep generates: `count` samples with `options`, the
/// i-th drawn with seed `options.seed + i`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SamplesSpec {
    /// Samples per run.
    pub count: usize,
    /// Prompt, length, temperature, top-k and the first sample's seed.
    pub options: SampleOptions,
}

impl SamplesSpec {
    /// The options of the `i`-th sample.
    pub fn nth(&self, i: usize) -> SampleOptions {
        SampleOptions {
            seed: self.options.seed.wrapping_add(i as u64),
            ..self.options.clone()
        }
    }
}

/// Draws a token index from `logits` with the options' temperature and top-k.
fn draw(logits: &[f32], opts: &SampleOptions, rng: &mut Rng) -> usize {
    let t = opts.temperature as f32;
    let mut scaled: Vec<f32> = logits.iter().map(|l| l / t).collect();
    if let Some(k) = opts.top_k.filter(|k| *k < scaled.len()) {
        let mut sorted = scaled.clone();
        sorted.sort_by(|a, b| b.total_cmp(a));
        let kth = sorted[k - 1];
        for v in scaled.iter_mut().filter(|v| **v < kth) {
            *v = f32::NEG_INFINITY;
        }
    }
    let max = scaled.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = scaled.iter().map(|v| ((v - max) as f64).exp()).collect();
    let mut u = rng.unit_f64() * weights.iter().sum::<f64>();
    for (i, w) in weights.iter().enumerate() {
        if u < *w {
            return i;
        }
        u -= w;
    }
    weights.iter().rposition(|w| *w > 0.0).unwrap_or(0)
}

/// The continuation of `opts.prompt` (without the prompt itself): `opts.length`
/// characters, fewer only if the model strings together bytes that make no character.
pub fn generate<B: Backend>(
    model: &Gpt<B>,
    tokenizer: &Tokenizer,
    opts: &SampleOptions,
    device: &B::Device,
) -> Result<String> {
    opts.validate()?;
    let mut tokens: Vec<u16> = tokenizer.encode(&opts.prompt, "prompt")?;
    if tokens.is_empty() {
        tokens.push(tokenizer.start_token());
    }
    let start = tokens.len();
    let mut rng = Rng::keyed(opts.seed, Stream::Sample, 0);
    // Characters begun so far; a character takes at most 4 byte tokens.
    let mut chars = 0;
    for _ in 0..opts.length * 4 {
        if chars >= opts.length && tokenizer.decode(&tokens[start..]).chars().count() >= opts.length
        {
            break;
        }
        let ctx = &tokens[tokens.len().saturating_sub(model.block_size())..];
        let ids: Vec<i32> = ctx.iter().map(|t| *t as i32).collect();
        let idx = Tensor::<B, 2, Int>::from_data(TensorData::new(ids, [1, ctx.len()]), device);
        let logits = model.forward(idx);
        let [_, t, v] = logits.dims();
        let last: Vec<f32> = logits
            .slice([0..1, t - 1..t])
            .reshape([v])
            .into_data()
            .iter::<f32>()
            .collect();
        let token = draw(&last, opts, &mut rng) as u16;
        tokens.push(token);
        chars += tokenizer.chars_in(&[token]);
    }
    Ok(tokenizer
        .decode(&tokens[start..])
        .chars()
        .take(opts.length)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_1_is_argmax_and_temperature_must_be_positive() {
        let opts = SampleOptions {
            top_k: Some(1),
            ..Default::default()
        };
        let mut rng = Rng::keyed(0, Stream::Sample, 0);
        for _ in 0..20 {
            assert_eq!(draw(&[0.1, 3.0, 0.2, 2.9], &opts, &mut rng), 1);
        }
        let bad = SampleOptions {
            temperature: 0.0,
            ..Default::default()
        };
        assert!(
            bad.validate()
                .unwrap_err()
                .to_string()
                .contains("temperature = 0: must be > 0")
        );
    }

    #[test]
    fn draws_follow_the_distribution() {
        let opts = SampleOptions::default();
        let mut rng = Rng::keyed(9, Stream::Sample, 0);
        let logits = [0.0f32, (3.0f32).ln()];
        let ones = (0..4000)
            .filter(|_| draw(&logits, &opts, &mut rng) == 1)
            .count();
        assert!(
            (2800..3200).contains(&ones),
            "expected ~3000 of 4000, got {ones}"
        );
    }
}
