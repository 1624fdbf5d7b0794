//! The one error type of the trainer crate: every way a config, a corpus, a prompt,
//! a device or a checkpoint can be wrong, each with a message that names the value and
//! the rule it broke.

use std::path::PathBuf;

/// Everything that can go wrong in the trainer.
#[derive(Debug, thiserror::Error)]
pub enum GptError {
    /// A hyperparameter breaks a rule; `field` names it as the user wrote it.
    #[error("{field} = {value}: {rule}")]
    InvalidConfig {
        /// Name of the hyperparameter (`n_embd`, `dropout`, ...).
        field: &'static str,
        /// The offending value, as text.
        value: String,
        /// What the value must satisfy.
        rule: String,
    },
    /// The corpus could not be read or is unusable.
    #[error("dataset {source_name}: {reason}")]
    Dataset {
        /// Path or built-in name of the corpus.
        source_name: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A character that the vocabulary does not contain.
    #[error(
        "{what} contains {ch:?} (at char {index}), which is not in the {vocab_size}-character vocabulary"
    )]
    UnknownChar {
        /// What was being encoded ("prompt", ...).
        what: &'static str,
        /// The character.
        ch: char,
        /// Its position in the text, counted in chars.
        index: usize,
        /// Size of the vocabulary.
        vocab_size: usize,
    },
    /// A device string that cannot be parsed, or a device this build or machine lacks.
    #[error("device {spec:?}: {reason}")]
    Device {
        /// The device as the user wrote it.
        spec: String,
        /// Why it cannot be used.
        reason: String,
    },
    /// A checkpoint directory that is missing, incomplete or corrupt.
    #[error("checkpoint {path}: {reason}")]
    Checkpoint {
        /// The checkpoint directory.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A file the user named that cannot be taken as input: missing, not a regular file,
    /// too large, or not UTF-8 where text is needed (see [`crate::input_file`]).
    #[error("{what} {path}: {reason}")]
    Input {
        /// What the file was meant to be ("sweep file", "dataset", "--token-file", ...).
        what: String,
        /// The path as given.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// Any other I/O failure, with the path involved.
    #[error("{path}: {source}")]
    Io {
        /// File or directory being read or written.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// Training produced a non-finite loss (diverged).
    #[error("training diverged at step {step}: loss is {loss}")]
    Diverged {
        /// Step at which the loss stopped being finite.
        step: usize,
        /// The loss value (NaN or infinite).
        loss: f32,
    },
}

/// Result alias for the trainer crate.
pub type Result<T, E = GptError> = std::result::Result<T, E>;

impl GptError {
    /// Shorthand for [`GptError::InvalidConfig`].
    pub fn invalid(field: &'static str, value: impl ToString, rule: impl Into<String>) -> Self {
        Self::InvalidConfig {
            field,
            value: value.to_string(),
            rule: rule.into(),
        }
    }

    /// Shorthand for [`GptError::Io`].
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }
}
