//! [`Hyperparams::validate`]: every row's own rule from the table, then the rules that tie
//! two hyperparameters together, written out here.

use super::rules::finite_in;
use super::{HYPERPARAMS, Hyperparams};
use crate::error::{GptError, Result};

impl Hyperparams {
    /// Checks every rule a buildable, trainable model must satisfy: each row's own rule,
    /// then the rules that tie two hyperparameters together.
    pub fn validate(&self) -> Result<()> {
        for def in HYPERPARAMS {
            (def.check)(self)?;
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(GptError::invalid(
                "n_embd",
                self.n_embd,
                format!("must be divisible by n_head = {}", self.n_head),
            ));
        }
        if let Some(min_lr) = self.min_lr {
            finite_in(
                "min_lr",
                min_lr,
                min_lr >= 0.0 && min_lr <= self.lr,
                "must be in [0, lr]",
            )?;
        }
        Ok(())
    }
}
