//! Every matrix product of the model goes through here, so that `precision: bf16` is one
//! decision in one place: with bf16 the operands (f32 master weights, f32 activations) are
//! cast to bf16, multiplied (the backends accumulate in f32), and the product is cast back.
//! The casts are differentiable (their backward casts the gradient back), so the backward
//! products run in bf16 too and every gradient reaching a weight is f32: AdamW's state,
//! LayerNorm, softmax and the loss stay f32. burn 0.21 has no autocast; this is it, by hand.

use burn::nn::Linear;
use burn::tensor::backend::Backend;
use burn::tensor::{FloatDType, Tensor};

use crate::config::Precision;

/// `a @ b` (batched over the leading dimensions) in `precision`, in `a`'s float type.
pub fn matmul<B: Backend, const D: usize>(
    a: Tensor<B, D>,
    b: Tensor<B, D>,
    precision: Precision,
) -> Tensor<B, D> {
    match precision {
        Precision::F32 => a.matmul(b),
        Precision::Bf16 => {
            let dtype = a.dtype();
            a.cast(FloatDType::BF16)
                .matmul(b.cast(FloatDType::BF16))
                .cast(dtype)
        }
    }
}

/// `layer` applied to `[batch, time, d_in]` as one `[batch * time, d_in]` matrix product
/// in `precision`, the bias added in f32. burn-flex runs a 3-D input as `batch` small
/// products, about 3x slower at these sizes (measured with `cargo run --release -p
/// gptsweep-gpt --example op_timing`).
pub fn linear<B: Backend>(
    layer: &Linear<B>,
    x: Tensor<B, 3>,
    precision: Precision,
) -> Tensor<B, 3> {
    let [b, t, c] = x.dims();
    let x = x.reshape([b * t, c]);
    let y = match precision {
        // burn's own Linear: the product and the bias as before the hyperparameter.
        Precision::F32 => layer.forward(x),
        Precision::Bf16 => {
            let y = matmul(x, layer.weight.val(), precision);
            match &layer.bias {
                Some(bias) => y + bias.val().unsqueeze::<2>(),
                None => y,
            }
        }
    };
    let out = y.dims()[1];
    y.reshape([b, t, out])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::CpuTrain;
    use crate::model::init::Weights;
    use burn::tensor::{DType, Distribution, Tolerance};

    /// bf16 products of f32 operands: f32 in and out, within bf16's rounding of the f32
    /// product, and gradients that reach the f32 operands as f32, close to f32's.
    #[test]
    fn bf16_products_take_and_give_f32_with_f32_gradients() {
        let device = Default::default();
        let layer = Weights::new(3).linear::<CpuTrain>(16, 24, true, &device);
        let x = Tensor::<CpuTrain, 3>::random([2, 5, 16], Distribution::Normal(0.0, 1.0), &device);
        let run = |precision| {
            let x = x.clone().detach().require_grad();
            let y = linear(&layer, x.clone(), precision);
            assert_eq!(y.dtype(), DType::F32);
            let grads = (y.clone() * y.clone()).sum().backward();
            let gx = x.grad(&grads).expect("a gradient for x");
            let gw = layer.weight.val().grad(&grads).expect("a gradient for w");
            assert_eq!((gx.dtype(), gw.dtype()), (DType::F32, DType::F32));
            (y.inner().into_data(), gx.into_data(), gw.into_data())
        };
        let (y32, gx32, gw32) = run(Precision::F32);
        let (y16, gx16, gw16) = run(Precision::Bf16);
        assert_ne!(y16, y32, "bf16 rounds the operands");
        // The products are sums of 16 terms of size ~0.02: bf16's 8 bits of mantissa keep
        // them within a few thousandths.
        y16.assert_approx_eq::<f32>(&y32, Tolerance::absolute(5e-3));
        gx16.assert_approx_eq::<f32>(&gx32, Tolerance::absolute(5e-3));
        gw16.assert_approx_eq::<f32>(&gw32, Tolerance::absolute(5e-2));
    }

    #[test]
    fn f32_is_burns_own_product() {
        let device = Default::default();
        let a = Tensor::<CpuTrain, 3>::random([2, 3, 4], Distribution::Normal(0.0, 1.0), &device);
        let b = Tensor::<CpuTrain, 3>::random([2, 4, 5], Distribution::Normal(0.0, 1.0), &device);
        assert_eq!(
            matmul(a.clone(), b.clone(), Precision::F32).into_data(),
            a.matmul(b).into_data()
        );
    }
}
