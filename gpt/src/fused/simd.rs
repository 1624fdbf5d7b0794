//! The row loops of the fused kernels (softmax, LayerNorm, and their gradients), written as eight-lane
//! chunks the compiler vectorises, and compiled twice: for AVX2 + FMA, chosen at run time
//! when the CPU has them (the default x86-64 target stops at SSE2), and for the baseline.

#![allow(unsafe_code)]

use super::fast_exp;

/// Lanes per chunk: one AVX2 register of `f32`.
const LANES: usize = 8;

/// Defines `pub fn $name($args)` running `$body` compiled with AVX2 and FMA when this CPU
/// has them, else as compiled for the baseline target.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident($($arg:ident: $ty:ty),*) $body:block) => {
        $(#[$doc])*
        pub fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx2,fma")]
                fn avx2($($arg: $ty),*) {
                    body($($arg),*)
                }
                if std::arch::is_x86_feature_detected!("avx2")
                    && std::arch::is_x86_feature_detected!("fma")
                {
                    // SAFETY: the CPU was just checked to have both features.
                    return unsafe { avx2($($arg),*) };
                }
            }
            body($($arg),*)
        }
    };
}

#[inline(always)]
fn max(xs: &[f32]) -> f32 {
    let (chunks, rest) = xs.as_chunks::<LANES>();
    let mut acc = [f32::NEG_INFINITY; LANES];
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = if x > *a { x } else { *a };
        }
    }
    rest.iter()
        .chain(&acc)
        .fold(f32::NEG_INFINITY, |m, &x| m.max(x))
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let (ca, ra) = a.as_chunks::<LANES>();
    let (cb, rb) = b.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for (x, y) in ca.iter().zip(cb) {
        for l in 0..LANES {
            acc[l] += x[l] * y[l];
        }
    }
    let tail: f32 = ra.iter().zip(rb).map(|(x, y)| x * y).sum();
    acc.iter().sum::<f32>() + tail
}

/// `e^(x - max)` in place; returns the sum.
#[inline(always)]
fn exp_shifted(xs: &mut [f32], shift: f32) -> f32 {
    let (chunks, rest) = xs.as_chunks_mut::<LANES>();
    let mut acc = [0.0f32; LANES];
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk.iter_mut()) {
            *x = fast_exp::exp(*x - shift);
            *a += *x;
        }
    }
    let mut tail = 0.0;
    for x in rest {
        *x = fast_exp::exp(*x - shift);
        tail += *x;
    }
    acc.iter().sum::<f32>() + tail
}

multiversion! {
    /// Softmax of one row, in place.
    fn softmax_in_place(row: &mut [f32]) {
        let sum = exp_shifted(row, max(row));
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|x| *x *= inv);
    }
}

multiversion! {
    /// The gradient of the scores of one row from the gradient of its softmax `grad` (in
    /// place) and the softmax itself `p`: `scale * p * (grad - <p, grad>)`.
    fn softmax_grad_in_place(p: &[f32], grad: &mut [f32], scale: f32) {
        let centre = dot(p, grad);
        for (g, &pj) in grad.iter_mut().zip(p) {
            *g = scale * pj * (*g - centre);
        }
    }
}

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    let (chunks, rest) = xs.as_chunks::<LANES>();
    let mut acc = [0.0f32; LANES];
    for chunk in chunks {
        for (a, x) in acc.iter_mut().zip(chunk) {
            *a += x;
        }
    }
    acc.iter().sum::<f32>() + rest.iter().sum::<f32>()
}

/// LayerNorm of one row into `y`; returns the row's mean and 1 / sqrt(var + eps).
#[inline(always)]
pub fn layer_norm_row(x: &[f32], gamma: &[f32], beta: &[f32], eps: f32, y: &mut [f32]) -> [f32; 2] {
    let mut stat = [0.0; 2];
    layer_norm_row_into(x, gamma, beta, eps, y, &mut stat);
    stat
}

multiversion! {
    fn layer_norm_row_into(
        x: &[f32],
        gamma: &[f32],
        beta: &[f32],
        eps: f32,
        y: &mut [f32],
        stat: &mut [f32; 2]
    ) {
        let n = x.len() as f32;
        let mean = sum(x) / n;
        for (y, &x) in y.iter_mut().zip(x) {
            *y = x - mean;
        }
        let var = dot(y, y) / n;
        let rstd = 1.0 / (var + eps).sqrt();
        for ((y, &g), &b) in y.iter_mut().zip(gamma).zip(beta) {
            *y = *y * rstd * g + b;
        }
        *stat = [mean, rstd];
    }
}

multiversion! {
    /// One row's LayerNorm gradient: `grad_x` written, `grad_gamma` and `grad_beta`
    /// accumulated. With `xhat = (x - mean) * rstd` and `g = grad_y * gamma`:
    /// `grad_x = rstd * (g - mean(g) - xhat * mean(g * xhat))`.
    fn layer_norm_row_grad(
        x: &[f32],
        stat: [f32; 2],
        gamma: &[f32],
        grad_y: &[f32],
        grad_x: &mut [f32],
        grad_gamma: &mut [f32],
        grad_beta: &mut [f32]
    ) {
        let [mean, rstd] = stat;
        let n = x.len() as f32;
        // grad_x holds g first, then the result.
        for ((((gx, &x), &gy), &gm), (gg, gb)) in grad_x
            .iter_mut()
            .zip(x)
            .zip(grad_y)
            .zip(gamma)
            .zip(grad_gamma.iter_mut().zip(grad_beta.iter_mut()))
        {
            *gg += gy * (x - mean) * rstd;
            *gb += gy;
            *gx = gy * gm;
        }
        let sum_g = sum(grad_x);
        // sum of g * xhat = rstd * (sum of g * x - mean * sum of g).
        let sum_gx = rstd * (dot(grad_x, x) - mean * sum_g);
        let (mean_g, mean_gx) = (sum_g / n, sum_gx / n);
        for (gx, &x) in grad_x.iter_mut().zip(x) {
            let xhat = (x - mean) * rstd;
            *gx = rstd * (*gx - mean_g - xhat * mean_gx);
        }
    }
}

/// The multiplier of the Weyl sequence that spreads a row's element indices over `u32`
/// (2^32 / golden ratio).
const WEYL: u32 = 0x9E37_79B9;

/// A 32-bit integer hash with full avalanche (Chris Wellons' "lowbias32"): a bijection,
/// so distinct inputs give distinct outputs.
#[inline(always)]
fn hash32(mut x: u32) -> u32 {
    x ^= x >> 16;
    x = x.wrapping_mul(0x7feb_352d);
    x ^= x >> 15;
    x = x.wrapping_mul(0x846c_a68b);
    x ^ (x >> 16)
}

/// Eight elements of a dropout row whose first index hashes from `base`: each kept (times
/// `scale`) or zeroed. Branch-free on arrays, so that it compiles to vector instructions.
#[inline(always)]
fn dropout_lanes(base: u32, threshold: u32, scale: f32, xs: &mut [f32; LANES]) {
    let mut h = [0u32; LANES];
    for (l, h) in h.iter_mut().enumerate() {
        *h = hash32(base.wrapping_add((l as u32).wrapping_mul(WEYL)));
    }
    for (x, h) in xs.iter_mut().zip(h) {
        // Unsigned comparison as a signed one (AVX2 compares signed lanes only).
        let keep = ((h ^ 0x8000_0000) as i32) >= ((threshold ^ 0x8000_0000) as i32);
        *x *= if keep { scale } else { 0.0 };
    }
}

multiversion! {
    /// Inverted dropout of one row in place: element `j` is kept, times `scale`, when
    /// `hash32(seed + j * WEYL) >= threshold`, else zeroed. The same `seed` gives the same
    /// mask, so a backward pass regenerates its forward's mask instead of storing it.
    fn dropout_row(seed: u32, threshold: u32, scale: f32, xs: &mut [f32]) {
        let (chunks, rest) = xs.as_chunks_mut::<LANES>();
        let step = (LANES as u32).wrapping_mul(WEYL);
        let mut base = seed;
        for chunk in chunks {
            dropout_lanes(base, threshold, scale, chunk);
            base = base.wrapping_add(step);
        }
        if !rest.is_empty() {
            let mut tail = [0.0f32; LANES];
            tail[..rest.len()].copy_from_slice(rest);
            dropout_lanes(base, threshold, scale, &mut tail);
            rest.copy_from_slice(&tail[..rest.len()]);
        }
    }
}
