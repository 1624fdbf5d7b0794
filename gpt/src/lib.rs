//! The GPT of Karpathy's "Let's build GPT" lecture, in burn, with
//! everything needed to train it well and nothing about networks or sweeps.
//!
//! A tour:
//! - [`config`]: [`Hyperparams`], the flat record of a run's knobs, generated with its
//!   defaults, rules and help from one table ([`HYPERPARAMS`]);
//! - [`corpus`], [`tokenizer`], [`token_cache`], [`batch`]: text in, characters or GPT-2's
//!   BPE, a 90/10 split, bits per character, seeded (x, y) batches;
//! - [`model`]: the GPT itself ([`Gpt`]);
//! - [`trainer`]: the explicit AdamW loop ([`Trainer`]) and its evaluations ([`eval`]);
//! - [`driver`]: one run from start (new or resumed) through training to samples, as both
//!   `gptsweep train` and a worker drive it;
//! - [`checkpoint`]: weights + optimiser + progress, in memory or on disk;
//! - [`sample`]: text generation;
//! - [`input_file`]: every file a user names is read bounded (kind and size first);
//! - [`text_check`]: a corpus's checks made on a stream of chunks (an upload);
//! - [`backend`]: CPU (burn-flex), CUDA (burn-cuda) or wgpu (burn-wgpu: Vulkan, Metal, DX12), chosen at run time.
//!
//! Every random draw is keyed by (seed, step) ([`rng`]), so a run is reproducible and a
//! resumed run continues exactly as an uninterrupted one.

pub mod backend;
pub mod batch;
pub mod checkpoint;
mod clip;
pub mod config;
pub mod corpus;
mod cpu_pool;
pub mod driver;
pub mod error;
pub mod eval;
pub mod export;
pub mod fused;
pub mod input_file;
pub mod model;
pub mod rng;
pub mod sample;
pub mod text_check;
pub mod token_cache;
pub mod tokenizer;
pub mod trainer;

pub use backend::{
    AutodiffBackend, Backend, DeviceSpec, OnBackend, detect_devices, kernel_build,
    use_kernel_cache, with_backend,
};
pub use checkpoint::Checkpoint;
pub use config::{
    HYPERPARAMS, HyperparamDef, HyperparamError, Hyperparams, MAX_SHAPE_CHARS, ModelConfig,
    nearest_name, shape_key,
};
pub use corpus::Corpus;
pub use driver::{Observer, RunOutput, Start, train_then_sample};
pub use error::{GptError, Result};
pub use eval::Eval;
pub use model::Gpt;
pub use sample::SampleOptions;
pub use tokenizer::{Tokenizer, TokenizerKind};
pub use trainer::{Event, Flow, RunSummary, Trainer};
