//! Hyperparameters: the model's shape and the training recipe, as one flat, serialisable
//! record. Flat because a sweep file names them directly (`n_embd`, `lr`, ...), and the
//! record is what a run stores as its parameters.
//!
//! Each hyperparameter is one row of the table in `table.rs` (name, type, default, rule,
//! help), expanded by the macro in `define.rs` into the [`Hyperparams`] struct, its
//! `Default` and [`HYPERPARAMS`]; the sweep checker, `gptsweep train`'s flags and the
//! override merge ([`Hyperparams::with_overrides`]) all read that table.

mod by_name;
mod define;
mod kind;
mod lr_decay;
mod model_config;
mod precision;
mod rules;
mod schedule;
mod shape;
mod suggest;
mod table;
mod table_def;
mod validate;

pub use by_name::HyperparamError;
pub use lr_decay::LrDecay;
pub use model_config::ModelConfig;
pub use precision::Precision;
pub use shape::{MAX_SHAPE_CHARS, SHAPE_PARAMS, SHAPE_SWITCHES, shape_key};
pub use suggest::nearest_name;
pub use table::{HYPERPARAMS, Hyperparams};
pub use table_def::HyperparamDef;

#[cfg(test)]
mod tests;
