//! Causal multi-head self-attention with every head in one batched matmul: one fused
//! q/k/v projection (no bias, as the lecture's per-head Linear layers), scores scaled by
//! head_size^-0.5, a causal mask, softmax, dropout on the weights, the output projection
//! and dropout. On the CPU backends the attention itself, with its dropout, is one fused
//! kernel, on wgpu and CUDA cubecl kernels ([`crate::gpu_attention`]), elsewhere it is composed
//! of tensor operations (all through [`fused::causal_attention`], the [`GptOps`] of the backend
//! deciding). bf16 products (the kernels multiply in f32) always take the composed version.

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Linear};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use super::init::Weights;
use super::precision;
use crate::config::{ModelConfig, Precision};
use crate::fused::{self, GptOps};

/// All heads of one block's attention.
#[derive(Module, Debug)]
pub struct CausalSelfAttention<B: Backend> {
    /// Query, key and value projections of every head, `n_embd -> 3 * n_embd`.
    qkv: Linear<B>,
    /// Output projection, `n_embd -> n_embd`.
    proj: Linear<B>,
    /// Dropout on the attention weights.
    attn_drop: Dropout,
    /// Dropout after the projection.
    resid_drop: Dropout,
    /// Number of heads.
    n_head: usize,
    /// Precision of the products.
    precision: Precision,
}

impl<B: Backend> CausalSelfAttention<B> {
    /// The attention of a block of `cfg`.
    pub fn new(cfg: &ModelConfig, weights: &mut Weights, device: &B::Device) -> Self {
        let c = cfg.n_embd;
        Self {
            qkv: weights.linear(c, 3 * c, false, device),
            proj: weights.linear(c, c, true, device),
            attn_drop: DropoutConfig::new(cfg.dropout).init(),
            resid_drop: DropoutConfig::new(cfg.dropout).init(),
            n_head: cfg.n_head,
            precision: cfg.precision,
        }
    }

    /// `[batch, time, n_embd] -> [batch, time, n_embd]`, position t attending to <= t only.
    pub fn forward(&self, x: Tensor<B, 3>) -> Tensor<B, 3>
    where
        B: GptOps,
    {
        let [_, _, c] = x.dims();
        let scale = ((c / self.n_head) as f64).powf(-0.5);
        let qkv = precision::linear(&self.qkv, x, self.precision);
        let out = match self.precision {
            Precision::F32 => {
                fused::causal_attention(qkv, self.n_head, scale as f32, &self.attn_drop)
            }
            Precision::Bf16 => fused::composed::causal_attention_with(
                qkv,
                self.n_head,
                scale as f32,
                self.attn_drop.prob,
                |a, b| precision::matmul(a, b, Precision::Bf16),
            ),
        };
        fused::dropout(
            &self.resid_drop,
            precision::linear(&self.proj, out, self.precision),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{CpuInfer, CpuTrain};
    use crate::config::Hyperparams;
    use burn::module::AutodiffModule;
    use burn::tensor::{Distribution, Tolerance};

    fn attention<B: Backend>(n_embd: usize, n_head: usize) -> CausalSelfAttention<B> {
        let cfg = Hyperparams {
            n_embd,
            n_head,
            dropout: 0.0,
            ..Default::default()
        }
        .model_config(11);
        CausalSelfAttention::new(&cfg, &mut Weights::new(3), &Default::default())
    }

    /// The fused CPU kernel against the composed tensor operations on the same input: the
    /// output, and the gradient of a weighted sum of it with respect to q, k and v.
    fn fused_matches_composed(b: usize, t: usize, h: usize, d: usize) {
        let device = Default::default();
        let c = h * d;
        let scale = (d as f64).powf(-0.5);
        let attn = attention::<CpuTrain>(c, h);
        let qkv =
            Tensor::<CpuTrain, 3>::random([b, t, 3 * c], Distribution::Normal(0.0, 1.0), &device);
        let weights =
            Tensor::<CpuTrain, 3>::random([b, t, c], Distribution::Normal(0.0, 1.0), &device);
        let run = |fused: bool| {
            let x = qkv.clone().detach().require_grad();
            let out = if fused {
                fused::causal_attention(x.clone(), h, scale as f32, &attn.attn_drop)
            } else {
                let p = fused::composed::causal_attention::<CpuTrain>(
                    x.clone().into_primitive().tensor(),
                    h,
                    scale as f32,
                    0.0,
                );
                Tensor::from_primitive(burn::tensor::TensorPrimitive::Float(p))
            };
            let grads = (out.clone() * weights.clone()).sum().backward();
            (
                out.inner().into_data(),
                x.grad(&grads).expect("a gradient").into_data(),
            )
        };
        let ((out_f, grad_f), (out_c, grad_c)) = (run(true), run(false));
        let tol = Tolerance::absolute(2e-5);
        out_f.assert_approx_eq::<f32>(&out_c, tol);
        grad_f.assert_approx_eq::<f32>(&grad_c, tol);
        // Without autodiff (evaluation, sampling) the same kernel answers the same.
        let infer = fused::causal_attention(
            Tensor::<CpuInfer, 3>::from_data(qkv.inner().into_data(), &device),
            h,
            scale as f32,
            &attn.attn_drop,
        );
        infer.into_data().assert_approx_eq::<f32>(&out_c, tol);
    }

    #[test]
    fn fused_attention_matches_the_composed_one() {
        fused_matches_composed(2, 5, 2, 3);
        fused_matches_composed(1, 1, 1, 4);
        fused_matches_composed(3, 64, 4, 16);
        // Past one row block of the kernel (64), and not a multiple of it.
        fused_matches_composed(2, 150, 3, 8);
    }

    #[test]
    fn dropout_on_the_weights_draws_a_new_mask_each_call_in_training_only() {
        let cfg = Hyperparams {
            n_embd: 8,
            n_head: 2,
            dropout: 0.5,
            ..Default::default()
        }
        .model_config(11);
        let device = Default::default();
        let mut attn = CausalSelfAttention::<CpuTrain>::new(&cfg, &mut Weights::new(3), &device);
        attn.resid_drop.prob = 0.0;
        let x = Tensor::<CpuTrain, 3>::ones([1, 4, 8], &device);
        let a = attn.forward(x.clone()).into_data();
        let b = attn.forward(x.clone()).into_data();
        assert_ne!(a, b, "dropout on the weights must apply in training");
        let infer = attn.valid();
        let x = x.inner();
        assert_eq!(
            infer.forward(x.clone()).into_data(),
            infer.forward(x).into_data()
        );
    }
}
