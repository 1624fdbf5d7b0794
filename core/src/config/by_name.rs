//! Hyperparameters by name: finding a row of the table, typed get and set through it, and
//! the override merge that turns a base and a map of swept values into one run's
//! [`Hyperparams`], each value checked once against its field's type.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{HYPERPARAMS, HyperparamDef, Hyperparams};

/// A name or value that the table refuses.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HyperparamError {
    /// No row has this name.
    #[error("{name}: unknown hyperparameter; {}known: {}", HyperparamDef::suggest(name).map(|s| format!("did you mean {s}? ")).unwrap_or_default(), HyperparamDef::names().collect::<Vec<_>>().join(", "))]
    Unknown {
        /// The name as given.
        name: String,
    },
    /// The value does not have the field's type.
    #[error("{name}: {value} is not a valid value (expected {expected})")]
    Invalid {
        /// The hyperparameter.
        name: &'static str,
        /// The value as given (JSON, or the text of a flag).
        value: String,
        /// What it must be ([`HyperparamDef::kind`]).
        expected: &'static str,
    },
}

impl HyperparamError {
    /// The name the error is about.
    pub fn name(&self) -> &str {
        match self {
            Self::Unknown { name } => name,
            Self::Invalid { name, .. } => name,
        }
    }
}

impl HyperparamDef {
    /// The row named `name`, if there is one.
    pub fn find(name: &str) -> Option<&'static HyperparamDef> {
        HYPERPARAMS.iter().find(|d| d.name == name)
    }

    /// Every name, in table order.
    pub fn names() -> impl Iterator<Item = &'static str> {
        HYPERPARAMS.iter().map(|d| d.name)
    }

    /// The row named `name`, or the error that lists the known names.
    pub fn named(name: &str) -> Result<&'static HyperparamDef, HyperparamError> {
        Self::find(name).ok_or_else(|| HyperparamError::Unknown {
            name: name.to_string(),
        })
    }
}

impl Hyperparams {
    /// The value of `name` as JSON (as it is stored), if there is such a hyperparameter.
    pub fn get(&self, name: &str) -> Option<Value> {
        HyperparamDef::find(name).map(|d| (d.get)(self))
    }

    /// Sets `name` to a JSON value, which must have the field's type (by serde's rules).
    pub fn set(&mut self, name: &str, value: &Value) -> Result<(), HyperparamError> {
        let def = HyperparamDef::named(name)?;
        if (def.set)(self, value) {
            Ok(())
        } else {
            Err(HyperparamError::Invalid {
                name: def.name,
                value: value.to_string(),
                expected: def.kind,
            })
        }
    }

    /// Sets `name` from text as written on a command line (`3e-4`, `cosine`, `none`).
    pub fn set_text(&mut self, name: &str, text: &str) -> Result<(), HyperparamError> {
        let def = HyperparamDef::named(name)?;
        if (def.set_text)(self, text) {
            Ok(())
        } else {
            Err(HyperparamError::Invalid {
                name: def.name,
                value: text.to_string(),
                expected: def.kind,
            })
        }
    }

    /// These hyperparameters with each of `overrides` (name -> JSON value) set once; the
    /// error names the first key, in name order, that is unknown or has the wrong type.
    /// Rules are not checked here: see [`Hyperparams::validate`].
    pub fn with_overrides(
        &self,
        overrides: &BTreeMap<String, Value>,
    ) -> Result<Self, HyperparamError> {
        let mut hp = self.clone();
        for (name, value) in overrides {
            hp.set(name, value)?;
        }
        Ok(hp)
    }
}
