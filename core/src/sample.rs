//! How a run samples text, without a model: the options of one sample
//! ([`SampleOptions`], checked), the samples every finished run of a sweep generates
//! ([`SamplesSpec`]) and their limits. gptsweep-gpt's `sample` draws them from a model.

use serde::{Deserialize, Serialize};

use crate::error::{GptError, Result};

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
