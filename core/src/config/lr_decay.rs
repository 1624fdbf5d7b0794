//! The learning-rate schedule after warm-up, a hyperparameter whose values are names.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kind::HyperType;

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

impl HyperType for LrDecay {
    const KIND: &'static str = "constant or cosine";
    fn from_text(text: &str) -> Option<Self> {
        Self::from_json(&Value::String(text.to_string()))
    }
}
