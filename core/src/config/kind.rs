//! The types a hyperparameter can have, and how each reads a value: from JSON (sweep files,
//! stored runs) with serde's own rules, and from text (command-line flags).

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A type a row of the table can have.
pub(crate) trait HyperType: Sized + Serialize + DeserializeOwned {
    /// What a value must be, for messages.
    const KIND: &'static str;

    /// Reads a value as a user writes it on the command line.
    fn from_text(text: &str) -> Option<Self>;

    /// Reads a JSON value exactly as deserialising [`super::Hyperparams`] would.
    fn from_json(value: &Value) -> Option<Self> {
        Self::deserialize(value).ok()
    }

    /// The value as JSON, as serialising [`super::Hyperparams`] writes it.
    fn to_json(&self) -> Value {
        serde_json::to_value(self).expect("hyperparameter values serialise")
    }
}

impl HyperType for usize {
    const KIND: &'static str = "a non-negative integer";
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl HyperType for u64 {
    const KIND: &'static str = "a non-negative integer";
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

impl HyperType for f64 {
    const KIND: &'static str = "a number";
    fn from_text(text: &str) -> Option<Self> {
        text.parse().ok()
    }
}

/// An optional number: `none` on the command line, `null` in JSON.
impl HyperType for Option<f64> {
    const KIND: &'static str = "a number or none";
    fn from_text(text: &str) -> Option<Self> {
        match text {
            "none" => Some(None),
            _ => text.parse().ok().map(Some),
        }
    }
}

impl HyperType for crate::tokenizer::TokenizerKind {
    const KIND: &'static str = "char or gpt2";
    fn from_text(text: &str) -> Option<Self> {
        Self::from_json(&Value::String(text.to_string()))
    }
}
