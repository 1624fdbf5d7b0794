//! The lecture's weight initialisation (`_init_weights` in gpt.py): normal(0, 0.02)
//! weights and zero biases for every Linear and Embedding. The normal draws are made on the
//! host from the run's seed ([`Weights`]), not by the backend's RNG: backends draw
//! differently (and burn-flex's RNG is one global shared by every run of a process), so the
//! same seed gives the same model on the CPU, on CUDA and on wgpu, and a packed run's
//! model does not depend on what the runs beside it do.

use burn::module::Param;
use burn::nn::{Embedding, Linear};
use burn::tensor::backend::Backend;
use burn::tensor::{Tensor, TensorData};

use crate::rng::{Rng, Stream};

/// Standard deviation of the lecture's N(0, 0.02) initialiser.
const WEIGHT_STD: f64 = 0.02;

/// The source of a model's initial weights: one generator keyed by the seed, drawn in the
/// model's construction order; or none, for a model whose weights a checkpoint replaces.
pub struct Weights {
    rng: Option<Rng>,
}

impl Weights {
    /// The weights of the model seeded by `seed`.
    pub fn new(seed: u64) -> Self {
        Self {
            rng: Some(Rng::keyed(seed, Stream::Init, 0)),
        }
    }

    /// Zeros in place of every draw: the shapes of a model about to be loaded, without
    /// drawing millions of normals the checkpoint overwrites.
    pub fn placeholder() -> Self {
        Self { rng: None }
    }

    /// A `shape` tensor of N(0, 0.02) draws on `device` (zeros for a placeholder).
    pub fn normal<B: Backend, const D: usize>(
        &mut self,
        shape: [usize; D],
        device: &B::Device,
    ) -> Param<Tensor<B, D>> {
        let Some(rng) = self.rng.as_mut() else {
            return Param::from_tensor(Tensor::zeros(shape, device));
        };
        let n: usize = shape.iter().product();
        let mut values = Vec::with_capacity(n + 1);
        while values.len() < n {
            let (a, b) = rng.normal_pair();
            values.extend([(a * WEIGHT_STD) as f32, (b * WEIGHT_STD) as f32]);
        }
        values.truncate(n);
        Param::from_tensor(Tensor::from_data(TensorData::new(values, shape), device))
    }

    /// A `d_in -> d_out` linear layer initialised as in the lecture.
    pub fn linear<B: Backend>(
        &mut self,
        d_in: usize,
        d_out: usize,
        bias: bool,
        device: &B::Device,
    ) -> Linear<B> {
        Linear {
            weight: self.normal([d_in, d_out], device),
            bias: bias.then(|| Param::from_tensor(Tensor::zeros([d_out], device))),
        }
    }

    /// An embedding table of `n` rows of width `c`, initialised as in the lecture.
    pub fn embedding<B: Backend>(
        &mut self,
        n: usize,
        c: usize,
        device: &B::Device,
    ) -> Embedding<B> {
        Embedding {
            weight: self.normal([n, c], device),
        }
    }
}
