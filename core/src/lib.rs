//! What every part of gptsweep knows about a run, without a tensor library: the
//! coordinator plans, checks and stores sweeps with it, the worker and the trainer
//! (gptsweep-gpt, on burn) train with it, and neither the coordinator nor the fuzz target
//! compiles burn for it.
//!
//! A tour:
//! - [`config`]: [`Hyperparams`], the flat record of a run's knobs, generated with its
//!   defaults, rules and help from one table ([`HYPERPARAMS`]);
//! - [`corpus`], [`tokenizer`], [`token_cache`], [`batch`]: text in, characters or GPT-2's
//!   BPE, a 90/10 split, bits per character, seeded (x, y) batches;
//! - [`eval`]: one evaluation of a run;
//! - [`sample`]: what text a run generates ([`SamplesSpec`]), not how;
//! - [`checkpoint`]: a checkpoint's metadata and the streamed check of a blob;
//! - [`input_file`]: every file a user names is read bounded (kind and size first);
//! - [`text_check`]: a corpus's checks made on a stream of chunks (an upload);
//! - [`rng`]: every random draw keyed by (seed, stream, step), so a run is reproducible
//!   and a resumed run continues exactly as an uninterrupted one.

pub mod batch;
pub mod checkpoint;
pub mod config;
pub mod corpus;
pub mod error;
pub mod eval;
pub mod input_file;
pub mod rng;
pub mod sample;
pub mod text_check;
pub mod token_cache;
pub mod tokenizer;

pub use config::{
    HYPERPARAMS, HyperparamDef, HyperparamError, Hyperparams, MAX_SHAPE_CHARS, ModelConfig,
    Precision, nearest_name, shape_key,
};
pub use corpus::Corpus;
pub use error::{GptError, Result};
pub use eval::Eval;
pub use sample::{SampleOptions, SamplesSpec};
pub use tokenizer::{Tokenizer, TokenizerKind};
