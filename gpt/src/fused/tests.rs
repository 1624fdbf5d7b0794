//! The fused dropout against burn tensor operations given the same mask, materialised: the
//! fused operations' outputs and gradients must be those of the composed model with that mask.

use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Distribution, Tensor, TensorData, TensorPrimitive, Tolerance};

use super::attention_kernel::Dims;
use super::dropout_mask::Mask;
use super::{attention_op, dropout_op};
use crate::backend::CpuTrain;

type T<const D: usize> = Tensor<CpuTrain, D>;

/// `mask`'s values (0 or the scale) as a `[rows, cols]` tensor, row `r` being mask row
/// `r`'s first `cols` elements.
fn materialised(mask: &Mask, rows: usize, cols: usize) -> T<2> {
    let mut values = vec![1.0f32; rows * cols];
    for (r, row) in values.chunks_mut(cols).enumerate() {
        mask.apply(r as u64, row);
    }
    T::from_data(TensorData::new(values, [rows, cols]), &Default::default())
}

/// The output and the gradient of a weighted sum of it with respect to the input, for `f`.
fn output_and_grad<const D: usize>(
    input: &T<D>,
    weights: &T<D>,
    f: impl Fn(T<D>) -> T<D>,
) -> (TensorData, TensorData) {
    let x = input.clone().detach().require_grad();
    let out = f(x.clone());
    let grads = (out.clone() * weights.clone()).sum().backward();
    (
        out.inner().into_data(),
        x.grad(&grads).expect("a gradient").into_data(),
    )
}

#[test]
fn dropout_is_the_input_times_its_mask() {
    let device = Default::default();
    // Past one row of the op's mask (4096 elements), and not a multiple of it.
    let (rows, cols) = (3, 4500);
    let x = T::<2>::random([rows, cols], Distribution::Normal(0.0, 1.0), &device);
    let w = T::<2>::random([rows, cols], Distribution::Normal(0.0, 1.0), &device);
    let mask = Mask::with_key(99, 0.3);
    let fused = output_and_grad(&x, &w, |x| {
        let out = dropout_op::train(x.into_primitive().tensor(), mask);
        Tensor::from_primitive(TensorPrimitive::Float(out))
    });
    // The op numbers its mask rows in chunks of 4096 elements of the flattened tensor.
    let m = materialised(&mask, 4, 4096)
        .reshape([4 * 4096])
        .narrow(0, 0, rows * cols)
        .reshape([rows, cols]);
    let composed = output_and_grad(&x, &w, |x| x * m.clone());
    let tol = Tolerance::absolute(1e-6);
    fused.0.assert_approx_eq::<f32>(&composed.0, tol);
    fused.1.assert_approx_eq::<f32>(&composed.1, tol);
    let zeros = fused.0.iter::<f32>().filter(|v| *v == 0.0).count();
    let frac = zeros as f64 / (rows * cols) as f64;
    assert!((0.25..0.35).contains(&frac), "dropped {frac} at p = 0.3");
}

/// Causal attention over `qkv [b, t, 3c]` in tensor operations, its weights multiplied by
/// `m [b * h * t, t]` after the softmax.
fn composed_attention(qkv: T<3>, h: usize, scale: f32, m: T<2>) -> T<3> {
    let [b, t, c3] = qkv.dims();
    let (c, device) = (c3 / 3, qkv.device());
    let d = c / h;
    let heads = |m: T<3>| m.reshape([b, t, h, d]).swap_dims(1, 2);
    let mut parts = qkv.chunk(3, 2).into_iter().map(heads);
    let (q, k, v) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    let future = Tensor::<CpuTrain, 2, Bool>::tril_mask([t, t], 0, &device);
    let scores = q.matmul(k.swap_dims(2, 3)).mul_scalar(scale);
    let scores = scores.mask_fill(
        future.reshape([1, 1, t, t]).expand([b, h, t, t]),
        f32::NEG_INFINITY,
    );
    let weights = softmax(scores, 3) * m.reshape([b, h, t, t]);
    weights.matmul(v).swap_dims(1, 2).reshape([b, t, c])
}

#[test]
fn attention_dropout_is_the_composed_attention_with_its_mask() {
    let device = Default::default();
    // Past one row block of the kernel (64), and not a multiple of it.
    let (b, t, h, d) = (2, 70, 3, 4);
    let c = h * d;
    let scale = (d as f32).powf(-0.5);
    let qkv = T::<3>::random([b, t, 3 * c], Distribution::Normal(0.0, 1.0), &device);
    let w = T::<3>::random([b, t, c], Distribution::Normal(0.0, 1.0), &device);
    let mask = Mask::with_key(5, 0.25);
    let dims = Dims {
        batch: b,
        time: t,
        heads: h,
        head_dim: d,
    };
    let fused = output_and_grad(&qkv, &w, |x| {
        let out = attention_op::train(x.into_primitive().tensor(), dims, scale, Some(mask));
        Tensor::from_primitive(TensorPrimitive::Float(out))
    });
    let m = materialised(&mask, b * h * t, t);
    let composed = output_and_grad(&qkv, &w, |x| composed_attention(x, h, scale, m.clone()));
    let tol = Tolerance::absolute(2e-5);
    fused.0.assert_approx_eq::<f32>(&composed.0, tol);
    fused.1.assert_approx_eq::<f32>(&composed.1, tol);
    // And the mask does something: without it the output differs.
    let plain = output_and_grad(&qkv, &w, |x| {
        let out = attention_op::train(x.into_primitive().tensor(), dims, scale, None);
        Tensor::from_primitive(TensorPrimitive::Float(out))
    });
    assert_ne!(plain.0, fused.0);
}
