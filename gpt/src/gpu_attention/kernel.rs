//! The attention's cubecl kernels, the GPU port of `fused::attention_kernel`: one thread per
//! row of one (sequence, head), reading q, k and v straight out of the fused `[B, T, 3C]`
//! projection and writing `[B, T, C]` (and the gradient straight into `[B, T, 3C]`).
//!
//! - Forward: the row's scores against keys `0..=i`, an online softmax (a running maximum,
//!   the running sum rescaled when it grows), the dropped weights times the values summed as
//!   they come: no `[T, T]` matrix anywhere. It saves the row's log-sum-exp, all the backward
//!   pass needs besides its input and output.
//! - Backward, as FlashAttention-2: `delta_i = dO_i . O_i` (which equals
//!   `sum_j P_ij dP_ij` with or without dropout), then one kernel per query row for `dq` and
//!   one per key row for `dk` and `dv`, each rebuilding the weights from the log-sum-exp and
//!   the dropout mask from its key, so neither writes another's rows (no atomics).
//!
//! The head width is a compile-time constant (each thread holds its row's q or k, v and
//! accumulators in registers); the rest (T, heads, scale, the dropout key) are run-time
//! arguments, so a new batch or sequence length compiles nothing.

use cubecl::prelude::*;

use super::mask_hash::{keep, row_seed};

/// Rows per cube: threads of one cube walk the same keys at the same time, so their loads of
/// a key row are one broadcast.
pub const ROWS_PER_CUBE: u32 = 32;

/// A score below any real one, to start the running maximum (WGSL has no infinity literal).
const LOWEST: f32 = -1.0e30;

/// Forward pass: `out [B, T, C]`, and `lse [B * H * T]` the log-sum-exp of each row's scaled
/// scores. Cubes: (row blocks, B * H).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn attention_forward<F: Float>(
    qkv: &Tensor<F>,
    out: &mut Tensor<F>,
    lse: &mut Tensor<F>,
    time: u32,
    heads: u32,
    scale: f32,
    key_hi: u32,
    key_lo: u32,
    threshold: u32,
    keep_scale: f32,
    #[comptime] head_dim: u32,
    #[comptime] dropout: bool,
    #[define(F)] _dtype: StorageType,
) {
    let t = time as usize;
    let i = (CUBE_POS_X * CUBE_DIM_X + UNIT_POS_X) as usize;
    if i >= t {
        terminate!();
    }
    let bh = CUBE_POS_Y as usize;
    let n_heads = heads as usize;
    let d = head_dim as usize;
    let c = n_heads * d;
    let c3 = 3 * c;
    let b = bh / n_heads;
    let h = bh % n_heads;
    // Column h * d of sequence b's first row: q, then k at +C, v at +2C.
    let base = b * t * c3 + h * d;
    let scale = F::cast_from(scale);
    let keep_scale = F::cast_from(keep_scale);
    let seed = row_seed(key_hi, key_lo, (bh * t + i) as u32);

    let mut q = Array::<F>::new(d);
    let mut acc = Array::<F>::new(d);
    for e in 0..d {
        q[e] = qkv[base + i * c3 + e] * scale;
        acc[e] = F::new(0.0);
    }
    let mut m = F::new(LOWEST);
    let mut l = F::new(0.0);
    for j in 0..i + 1 {
        let k = base + j * c3 + c;
        let v = k + c;
        let mut s = F::new(0.0);
        for e in 0..d {
            s += q[e] * qkv[k + e];
        }
        let m_new = F::max(m, s);
        let rescale = F::exp(m - m_new);
        let p = F::exp(s - m_new);
        l = l * rescale + p;
        let mut w = p;
        if dropout {
            w = p * keep::<F>(seed, j as u32, threshold, keep_scale);
        }
        for e in 0..d {
            acc[e] = acc[e] * rescale + w * qkv[v + e];
        }
        m = m_new;
    }
    let o = b * t * c + i * c + h * d;
    let inv = F::new(1.0) / l;
    for e in 0..d {
        out[o + e] = acc[e] * inv;
    }
    lse[bh * t + i] = m + F::ln(l);
}

/// Backward pass, query rows: `delta [B * H * T]` (`dO_i . O_i`, for the key kernel) and the
/// q columns of `grad [B, T, 3C]`. Cubes: (row blocks, B * H).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_query<F: Float>(
    qkv: &Tensor<F>,
    out: &Tensor<F>,
    lse: &Tensor<F>,
    grad_out: &Tensor<F>,
    delta: &mut Tensor<F>,
    grad: &mut Tensor<F>,
    time: u32,
    heads: u32,
    scale: f32,
    key_hi: u32,
    key_lo: u32,
    threshold: u32,
    keep_scale: f32,
    #[comptime] head_dim: u32,
    #[comptime] dropout: bool,
    #[define(F)] _dtype: StorageType,
) {
    let t = time as usize;
    let i = (CUBE_POS_X * CUBE_DIM_X + UNIT_POS_X) as usize;
    if i >= t {
        terminate!();
    }
    let bh = CUBE_POS_Y as usize;
    let n_heads = heads as usize;
    let d = head_dim as usize;
    let c = n_heads * d;
    let c3 = 3 * c;
    let b = bh / n_heads;
    let h = bh % n_heads;
    let base = b * t * c3 + h * d;
    let o = b * t * c + i * c + h * d;
    let scale = F::cast_from(scale);
    let keep_scale = F::cast_from(keep_scale);
    let seed = row_seed(key_hi, key_lo, (bh * t + i) as u32);

    let mut q = Array::<F>::new(d);
    let mut go = Array::<F>::new(d);
    let mut dq = Array::<F>::new(d);
    let mut dsum = F::new(0.0);
    for e in 0..d {
        q[e] = qkv[base + i * c3 + e] * scale;
        go[e] = grad_out[o + e];
        dq[e] = F::new(0.0);
        dsum += go[e] * out[o + e];
    }
    delta[bh * t + i] = dsum;
    let row_lse = lse[bh * t + i];
    for j in 0..i + 1 {
        let k = base + j * c3 + c;
        let v = k + c;
        let mut s = F::new(0.0);
        let mut dp = F::new(0.0);
        for e in 0..d {
            s += q[e] * qkv[k + e];
            dp += go[e] * qkv[v + e];
        }
        if dropout {
            dp *= keep::<F>(seed, j as u32, threshold, keep_scale);
        }
        let ds = F::exp(s - row_lse) * (dp - dsum);
        for e in 0..d {
            dq[e] += ds * qkv[k + e];
        }
    }
    let g = b * t * c3 + i * c3 + h * d;
    for e in 0..d {
        grad[g + e] = dq[e] * scale;
    }
}

/// Backward pass, key rows: the k and v columns of `grad [B, T, 3C]`, from the query rows
/// `i >= j` that saw key `j`. Runs after [`attention_backward_query`] (it reads `delta`).
/// Cubes: (row blocks, B * H).
#[cube(launch)]
#[allow(clippy::too_many_arguments)]
pub fn attention_backward_key<F: Float>(
    qkv: &Tensor<F>,
    lse: &Tensor<F>,
    delta: &Tensor<F>,
    grad_out: &Tensor<F>,
    grad: &mut Tensor<F>,
    time: u32,
    heads: u32,
    scale: f32,
    key_hi: u32,
    key_lo: u32,
    threshold: u32,
    keep_scale: f32,
    #[comptime] head_dim: u32,
    #[comptime] dropout: bool,
    #[define(F)] _dtype: StorageType,
) {
    let t = time as usize;
    let j = (CUBE_POS_X * CUBE_DIM_X + UNIT_POS_X) as usize;
    if j >= t {
        terminate!();
    }
    let bh = CUBE_POS_Y as usize;
    let n_heads = heads as usize;
    let d = head_dim as usize;
    let c = n_heads * d;
    let c3 = 3 * c;
    let b = bh / n_heads;
    let h = bh % n_heads;
    let base = b * t * c3 + h * d;
    let scale = F::cast_from(scale);
    let keep_scale = F::cast_from(keep_scale);

    let mut k = Array::<F>::new(d);
    let mut v = Array::<F>::new(d);
    let mut dk = Array::<F>::new(d);
    let mut dv = Array::<F>::new(d);
    for e in 0..d {
        k[e] = qkv[base + j * c3 + c + e] * scale;
        v[e] = qkv[base + j * c3 + 2 * c + e];
        dk[e] = F::new(0.0);
        dv[e] = F::new(0.0);
    }
    for i in j..t {
        let q = base + i * c3;
        let o = b * t * c + i * c + h * d;
        let mut s = F::new(0.0);
        let mut dp = F::new(0.0);
        for e in 0..d {
            s += qkv[q + e] * k[e];
            dp += grad_out[o + e] * v[e];
        }
        let p = F::exp(s - lse[bh * t + i]);
        let mut w = p;
        if dropout {
            let seed = row_seed(key_hi, key_lo, (bh * t + i) as u32);
            let kept = keep::<F>(seed, j as u32, threshold, keep_scale);
            w = p * kept;
            dp *= kept;
        }
        let ds = p * (dp - delta[bh * t + i]);
        for e in 0..d {
            dv[e] += w * grad_out[o + e];
            dk[e] += ds * qkv[q + e];
        }
    }
    let g = b * t * c3 + j * c3 + h * d;
    for e in 0..d {
        grad[g + c + e] = dk[e] * scale;
        grad[g + 2 * c + e] = dv[e];
    }
}

/// The dropout multipliers themselves, `mask [B * H, T, T]`: element (row r, column j) is
/// what the kernels above weigh `P[r, j]` by. For tests, which compare the GPU's mask with the
/// CPU's and the kernels with the composed operations under the same mask.
#[cube(launch)]
pub fn attention_mask<F: Float>(
    mask: &mut Tensor<F>,
    time: u32,
    key_hi: u32,
    key_lo: u32,
    threshold: u32,
    keep_scale: f32,
    #[define(F)] _dtype: StorageType,
) {
    let pos = ABSOLUTE_POS;
    if pos >= mask.len() {
        terminate!();
    }
    let t = time as usize;
    let row = pos / t;
    let col = pos % t;
    let seed = row_seed(key_hi, key_lo, row as u32);
    mask[pos] = keep::<F>(seed, col as u32, threshold, F::cast_from(keep_scale));
}
