//! The API layer's one error: a wire message that cannot become a domain value.

/// A wire message the domain cannot accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// A field the domain needs is absent from the message.
    #[error("{message}: {field} is missing")]
    Missing {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
    },
    /// A field holds a value outside its domain.
    #[error("{message}: {field} = {value:?} {rule}")]
    Invalid {
        /// The message type.
        message: &'static str,
        /// The field.
        field: &'static str,
        /// The value as received.
        value: String,
        /// What it must be.
        rule: String,
    },
    /// An element's field holds a value outside its range (`evals[2].val_loss = -inf`).
    #[error("{field} = {value}: {rule}")]
    OutOfRange {
        /// The field, with the element's index.
        field: String,
        /// The value as received.
        value: String,
        /// What it must be.
        rule: String,
    },
}
