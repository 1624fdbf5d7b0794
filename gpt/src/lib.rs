//! The GPT of Karpathy's "Let's build GPT" lecture, in burn, with
//! everything needed to train it well and nothing about networks or sweeps.
//!
//! What does not need a tensor library (hyperparameters, corpora, tokenizers, batches,
//! evaluations, seeded randomness, checkpoint metadata, input files) lives in
//! gptsweep-core and is re-exported here under the same paths.
//!
//! A tour:
//! - [`config`], [`corpus`], [`tokenizer`], [`token_cache`], [`batch`], [`eval`], [`rng`],
//!   [`input_file`], [`text_check`]: gptsweep-core's, re-exported;
//! - [`model`]: the GPT itself ([`Gpt`]);
//! - [`trainer`]: the explicit AdamW loop ([`Trainer`]) and its evaluations ([`eval`]);
//! - [`driver`]: one run from start (new or resumed) through training to samples, as both
//!   `gptsweep train` and a worker drive it;
//! - [`checkpoint`]: weights + optimiser + progress, in memory or on disk;
//! - [`sample`]: text generation;
//! - [`backend`]: CPU (burn-flex), CUDA (burn-cuda) or wgpu (burn-wgpu: Vulkan, Metal, DX12), chosen at run time.
//!
//! Every random draw is keyed by (seed, step) ([`rng`]), so a run is reproducible and a
//! resumed run continues exactly as an uninterrupted one.

pub mod backend;
pub mod checkpoint;
mod clip;
mod cpu_pool;
pub mod driver;
pub mod export;
pub mod fused;
#[cfg(feature = "gpu-kernels")]
pub mod gpu_attention;
pub mod model;
pub mod sample;
pub mod trainer;

pub use gptsweep_core::{
    batch, config, corpus, error, eval, input_file, rng, text_check, token_cache, tokenizer,
};

pub use backend::{
    AutodiffBackend, Backend, DeviceSpec, GptOps, OnBackend, TrainBackend, detect_devices,
    kernel_build, use_kernel_cache, with_backend,
};
pub use checkpoint::Checkpoint;
pub use config::{
    HYPERPARAMS, HyperparamDef, HyperparamError, Hyperparams, MAX_SHAPE_CHARS, ModelConfig,
    Precision, nearest_name, shape_key,
};
pub use corpus::Corpus;
pub use driver::{Observer, RunOutput, Start, train_then_sample};
pub use error::{GptError, Result};
pub use eval::Eval;
pub use model::Gpt;
pub use sample::SampleOptions;
pub use tokenizer::{Tokenizer, TokenizerKind};
pub use trainer::{Event, Flow, RunSummary, Trainer};
