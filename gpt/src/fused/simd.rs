//! The row loops of the fused kernels (softmax and its gradient), written as eight-lane
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
