//! The precision of a run's matrix products, a hyperparameter whose values are names.
//! `bf16` is mixed precision as nanoGPT's autocast runs it: the operands of each product are
//! cast to bf16 and the product (accumulated in f32) is cast back, while the weights, the
//! AdamW moments, LayerNorm, softmax and the loss stay f32. It is a hyperparameter rather
//! than a worker setting so that a sweep's runs share one precision unless it is swept, and
//! runs of different precisions are never ranked as if they were alike.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::kind::HyperType;

/// The precision of the matrix products.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Precision {
    /// Every product in f32 (TF32 on CUDA): what runs stored without the key trained in.
    #[default]
    F32,
    /// Products of bf16 casts, accumulated in f32; weights, optimiser state and loss f32.
    Bf16,
}

impl Precision {
    /// Whether this is f32 (serde's `skip_serializing_if`).
    pub fn is_f32(&self) -> bool {
        *self == Self::F32
    }

    /// The name as sweep files write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Bf16 => "bf16",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl HyperType for Precision {
    const KIND: &'static str = "f32 or bf16";
    fn from_text(text: &str) -> Option<Self> {
        Self::from_json(&Value::String(text.to_string()))
    }
}
