//! Text generation: from a prompt, new tokens until the continuation holds N characters
//! (so samples of character and BPE runs have the same length), one forward pass each
//! over the last block_size tokens, drawn with temperature and optional top-k from a
//! seeded generator.

use crate::fused::GptOps;
use burn::tensor::{Int, Tensor, TensorData};
pub use gptsweep_core::sample::{MAX_PROMPT_CHARS, MAX_SAMPLE_LENGTH, SampleOptions, SamplesSpec};

use crate::error::Result;
use crate::model::Gpt;
use crate::rng::{Rng, Stream};
use crate::tokenizer::Tokenizer;

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
pub fn generate<B: GptOps>(
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
