//! LayerNorm over the last dimension on the CPU, forward and backward, one pass a row: burn's
//! autodiff builds it from nine tensor operations (two means, broadcasts, a square root, a
//! division), each a pass over the activations and an allocation, and about twice as many in
//! the backward pass.

use rayon::prelude::*;

use super::simd;

/// Rows per parallel task: enough work to be worth a task.
const ROWS_PER_TASK: usize = 64;

/// `y = (x - mean) / sqrt(var + eps) * gamma + beta` for each row of `x` (`gamma.len()`
/// wide); also each row's mean and 1 / sqrt(var + eps), which the backward pass needs.
pub fn forward(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32) -> (Vec<f32>, Vec<[f32; 2]>) {
    let width = gamma.len();
    assert_eq!(beta.len(), width, "beta of the LayerNorm");
    assert_eq!(x.len() % width, 0, "input rows of the LayerNorm");
    let rows = x.len() / width;
    let mut y = vec![0.0f32; x.len()];
    let mut stats = vec![[0.0f32; 2]; rows];
    y.par_chunks_mut(ROWS_PER_TASK * width)
        .zip(stats.par_chunks_mut(ROWS_PER_TASK))
        .zip(x.par_chunks(ROWS_PER_TASK * width))
        .for_each(|((y, stats), x)| {
            for ((y, stat), x) in y
                .chunks_exact_mut(width)
                .zip(stats.iter_mut())
                .zip(x.chunks_exact(width))
            {
                *stat = simd::layer_norm_row(x, gamma, beta, eps, y);
            }
        });
    (y, stats)
}

/// The gradients of the input, gamma and beta from the output's gradient `grad_y`.
pub fn backward(
    x: &[f32],
    stats: &[[f32; 2]],
    gamma: &[f32],
    grad_y: &[f32],
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let width = gamma.len();
    assert_eq!(x.len(), stats.len() * width, "input of the LayerNorm");
    assert_eq!(grad_y.len(), x.len(), "output gradient of the LayerNorm");
    let mut grad_x = vec![0.0f32; x.len()];
    let partials: Vec<(Vec<f32>, Vec<f32>)> = grad_x
        .par_chunks_mut(ROWS_PER_TASK * width)
        .zip(stats.par_chunks(ROWS_PER_TASK))
        .zip(x.par_chunks(ROWS_PER_TASK * width))
        .zip(grad_y.par_chunks(ROWS_PER_TASK * width))
        .map(|(((grad_x, stats), x), grad_y)| {
            let mut grad_gamma = vec![0.0f32; width];
            let mut grad_beta = vec![0.0f32; width];
            for (((gx, &stat), x), gy) in grad_x
                .chunks_exact_mut(width)
                .zip(stats)
                .zip(x.chunks_exact(width))
                .zip(grad_y.chunks_exact(width))
            {
                simd::layer_norm_row_grad(x, stat, gamma, gy, gx, &mut grad_gamma, &mut grad_beta);
            }
            (grad_gamma, grad_beta)
        })
        .collect();
    let mut grad_gamma = vec![0.0f32; width];
    let mut grad_beta = vec![0.0f32; width];
    for (gg, gb) in partials {
        grad_gamma.iter_mut().zip(gg).for_each(|(a, b)| *a += b);
        grad_beta.iter_mut().zip(gb).for_each(|(a, b)| *a += b);
    }
    (grad_x, grad_gamma, grad_beta)
}
