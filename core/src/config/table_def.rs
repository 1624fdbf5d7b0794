//! What the table knows about one hyperparameter ([`HyperparamDef`]). The rows are in
//! `table.rs`; finding one by name is in `by_name.rs`.

use serde_json::Value;

use super::Hyperparams;
use crate::error::Result;

/// One row of the hyperparameter table.
#[derive(Debug)]
pub struct HyperparamDef {
    /// The field name, as sweep files and stored runs spell it (`n_embd`).
    pub name: &'static str,
    /// What a value must be, for messages ("a non-negative integer").
    pub kind: &'static str,
    /// The default, as a user writes it (`64`, `3e-4`, `constant`, `none`).
    pub default: &'static str,
    /// The field's doc comment, as written in the table.
    pub doc: &'static str,
    pub(crate) get: fn(&Hyperparams) -> Value,
    pub(crate) set: fn(&mut Hyperparams, &Value) -> bool,
    pub(crate) set_text: fn(&mut Hyperparams, &str) -> bool,
    pub(crate) check: fn(&Hyperparams) -> Result<()>,
}

impl HyperparamDef {
    /// One line of help: the doc without its leading space and final full stop.
    pub fn help(&self) -> &'static str {
        self.doc.trim().trim_end_matches('.')
    }

    /// The rule `value` breaks, if it has this hyperparameter's type but not its rule
    /// (`dropout` 1.5: "must be in [0, 1)"); `None` when it keeps it or has another type
    /// (which [`Hyperparams::set`] reports).
    pub fn broken_rule(&self, value: &Value) -> Option<String> {
        let mut hp = Hyperparams::default();
        if !(self.set)(&mut hp, value) {
            return None;
        }
        match (self.check)(&hp) {
            Err(crate::GptError::InvalidConfig { rule, .. }) => Some(rule),
            Err(other) => Some(other.to_string()),
            Ok(()) => None,
        }
    }

    /// Whether `text` (as on a command line) is a value of this hyperparameter's type.
    pub fn parses(&self, text: &str) -> bool {
        (self.set_text)(&mut Hyperparams::default(), text)
    }
}
