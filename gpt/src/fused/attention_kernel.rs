//! Causal multi-head self-attention on the CPU as one kernel per (sequence, head), forward
//! and backward, on plain `f32` slices. It reads q, k and v straight out of the fused
//! projection's `[B, T, 3C]` output and writes the heads' outputs straight into `[B, T, C]`
//! (and the gradient straight into `[B, T, 3C]`): no head split, no transposes, no
//! `[B, H, T, T]` mask, no separate softmax passes. Products go through the `gemm` crate
//! burn-flex itself uses (strided operands, so the column slices of a head need no copy); the
//! causal structure is used to skip the blocks above the diagonal; the softmax and its
//! gradient are one pass a row with a vectorised `exp`. Dropout on the attention weights is
//! a [`Mask`] the backward pass regenerates: only the undropped weights are kept.

#![allow(unsafe_code)]

use burn::tensor::TensorMetadata;
use rayon::prelude::*;

use super::dropout_mask::Mask;
use super::simd;

/// The shape of one attention call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dims {
    /// Sequences in the batch.
    pub batch: usize,
    /// Positions per sequence.
    pub time: usize,
    /// Heads.
    pub heads: usize,
    /// Width of one head.
    pub head_dim: usize,
}

impl Dims {
    /// The shape of the model's attention over `qkv [B, T, 3C]` with `n_head` heads.
    pub fn of_qkv(qkv: &impl TensorMetadata, n_head: usize) -> Self {
        let shape = qkv.shape();
        Self {
            batch: shape[0],
            time: shape[1],
            heads: n_head,
            head_dim: shape[2] / 3 / n_head,
        }
    }

    /// (batch, time, heads, head width, C, 3C), after checking that `qkv` is `[B, T, 3C]`.
    fn check(&self, qkv: &[f32]) -> (usize, usize, usize, usize, usize, usize) {
        let c = self.heads * self.head_dim;
        assert_eq!(qkv.len(), self.batch * self.time * 3 * c, "qkv of {self:?}");
        (self.batch, self.time, self.heads, self.head_dim, c, 3 * c)
    }
}

/// Rows of the score matrix computed per product: blocks above the diagonal are skipped.
const ROW_BLOCK: usize = 64;

/// A pointer shared by the tasks of one call, each writing its own (sequence, head)'s
/// disjoint columns of the output.
#[derive(Clone, Copy)]
struct Shared(*mut f32);
// SAFETY: every task writes a disjoint set of elements (its head's columns of its own
// sequence's rows), and the buffer outlives the parallel loop that uses it.
unsafe impl Send for Shared {}
unsafe impl Sync for Shared {}

impl Shared {
    /// The pointer (a method, so that closures capture the `Send` wrapper, not its field).
    fn get(self) -> *mut f32 {
        self.0
    }
}

/// A strided matrix operand: base pointer, row stride, column stride (in elements).
type Operand = (*const f32, isize, isize);

/// `dst (m x n, row stride dst_rs) = scale * lhs (m x k) . rhs (k x n)`, overwriting `dst`.
///
/// # Safety
/// Every element the strides reach must lie in live buffers; `dst` must not alias the
/// operands.
unsafe fn product(
    (m, n, k): (usize, usize, usize),
    dst: *mut f32,
    dst_rs: usize,
    lhs: Operand,
    rhs: Operand,
    scale: f32,
) {
    // SAFETY: forwarded from the caller.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            1,
            dst_rs as isize,
            false,
            lhs.0,
            lhs.2,
            lhs.1,
            rhs.0,
            rhs.2,
            rhs.1,
            0.0,
            scale,
            false,
            false,
            false,
            gemm::Parallelism::None,
        )
    }
}

/// Row blocks `[r0, r1)` of a `t`-row matrix.
fn row_blocks(t: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..t)
        .step_by(ROW_BLOCK)
        .map(move |r0| (r0, (r0 + ROW_BLOCK).min(t)))
}

/// The weights of (sequence, head) `bh` with `mask` applied, into `dropped`: row `i` of
/// `weights` is mask row `bh * T + i`, its first `i + 1` columns (the rest are zero).
fn drop_weights(mask: &Mask, bh: usize, t: usize, weights: &[f32], dropped: &mut [f32]) {
    dropped.copy_from_slice(weights);
    for i in 0..t {
        mask.apply((bh * t + i) as u64, &mut dropped[i * t..=i * t + i]);
    }
}

/// A task's scratch for the dropped weights: empty without dropout.
fn scratch(mask: Option<&Mask>, t: usize) -> Vec<f32> {
    vec![0.0f32; if mask.is_some() { t * t } else { 0 }]
}

/// What a forward call's heads share: `qkv [B, T, 3C]`, its shape, the scores' scale and the
/// dropout on the weights.
#[derive(Clone, Copy)]
struct Call<'a> {
    qkv: &'a [f32],
    dims: Dims,
    scale: f32,
    mask: Option<&'a Mask>,
}

/// One (sequence, head)'s forward: its attention weights into `p` (T x T), then, dropped by
/// the call's mask (into the scratch `dropped`), their product with its values into `out`'s
/// columns.
///
/// # Safety
/// `out` must point to a live `[B, T, C]` buffer whose head `bh` columns no other thread
/// touches meanwhile.
unsafe fn head_forward(call: Call, bh: usize, p: &mut [f32], dropped: &mut [f32], out: Shared) {
    let Call {
        qkv,
        dims,
        scale,
        mask,
    } = call;
    let (_, t, heads, d, c, c3) = dims.check(qkv);
    let (b, h) = (bh / heads, bh % heads);
    let q = qkv[b * t * c3 + h * d..].as_ptr();
    // SAFETY: q, k and v rows are `c3` apart inside `qkv`, `d` columns each; `p` and
    // `dropped` are T x T; the caller gives this call head bh's columns of `out`.
    unsafe {
        let (k, v) = (q.add(c), q.add(2 * c));
        for (r0, r1) in row_blocks(t) {
            product(
                (r1 - r0, r1, d),
                p[r0 * t..].as_mut_ptr(),
                t,
                (q.add(r0 * c3), c3 as isize, 1),
                (k, 1, c3 as isize),
                scale,
            );
        }
        for i in 0..t {
            let row = &mut p[i * t..(i + 1) * t];
            simd::softmax_in_place(&mut row[..=i]);
            row[i + 1..].fill(0.0);
        }
        let weights: &[f32] = match mask {
            Some(mask) => {
                drop_weights(mask, bh, t, p, dropped);
                dropped
            }
            None => p,
        };
        let o = out.get().add(b * t * c + h * d);
        for (r0, r1) in row_blocks(t) {
            product(
                (r1 - r0, d, r1),
                o.add(r0 * c),
                c,
                (weights[r0 * t..].as_ptr(), t as isize, 1),
                (v, c3 as isize, 1),
                1.0,
            );
        }
    }
}

/// Forward pass in training: `out [B, T, C]` and the attention weights `[B, H, T, T]` (zero
/// above the diagonal, before dropout), which the backward pass needs. With a `mask`, the
/// weights are dropped (and the rest scaled) before they weigh the values.
pub fn forward(qkv: &[f32], dims: Dims, scale: f32, mask: Option<Mask>) -> (Vec<f32>, Vec<f32>) {
    let (batch, t, heads, _, c, _) = dims.check(qkv);
    let mut out = vec![0.0f32; batch * t * c];
    let mut probs = vec![0.0f32; batch * heads * t * t];
    let out_ptr = Shared(out.as_mut_ptr());
    let call = Call {
        qkv,
        dims,
        scale,
        mask: mask.as_ref(),
    };
    probs.par_chunks_mut(t * t).enumerate().for_each_init(
        || scratch(mask.as_ref(), t),
        |dropped, (bh, p)| {
            // SAFETY: each task is one (sequence, head), writing its own columns of `out`,
            // which outlives the loop.
            unsafe { head_forward(call, bh, p, dropped, out_ptr) }
        },
    );
    (out, probs)
}

/// Forward pass without a backward to come (evaluation, sampling): `out [B, T, C]`, each
/// head's weights in a worker's scratch instead of a `[B, H, T, T]` tensor.
pub fn infer(qkv: &[f32], dims: Dims, scale: f32) -> Vec<f32> {
    let (batch, t, heads, _, c, _) = dims.check(qkv);
    let mut out = vec![0.0f32; batch * t * c];
    let out_ptr = Shared(out.as_mut_ptr());
    let call = Call {
        qkv,
        dims,
        scale,
        mask: None,
    };
    (0..batch * heads).into_par_iter().for_each_init(
        || vec![0.0f32; t * t],
        |p, bh| {
            // SAFETY: as in `forward`.
            unsafe { head_forward(call, bh, p, &mut [], out_ptr) }
        },
    );
    out
}

/// Backward pass: the gradient of `qkv [B, T, 3C]` from the gradient of `out [B, T, C]`,
/// given the forward's input, attention weights (before dropout) and dropout mask.
pub fn backward(
    qkv: &[f32],
    probs: &[f32],
    grad_out: &[f32],
    dims: Dims,
    scale: f32,
    mask: Option<Mask>,
) -> Vec<f32> {
    let (batch, t, heads, d, c, c3) = dims.check(qkv);
    assert_eq!(probs.len(), batch * heads * t * t, "weights of {dims:?}");
    assert_eq!(grad_out.len(), batch * t * c, "output gradient of {dims:?}");
    let mut grad = vec![0.0f32; batch * t * c3];
    let grad_ptr = Shared(grad.as_mut_ptr());
    (0..batch * heads).into_par_iter().for_each_init(
        || (vec![0.0f32; t * t], scratch(mask.as_ref(), t)),
        |(ds, dropped), bh| {
            let (b, h) = (bh / heads, bh % heads);
            let p = &probs[bh * t * t..(bh + 1) * t * t];
            let weights: &[f32] = match &mask {
                Some(mask) => {
                    drop_weights(mask, bh, t, p, dropped);
                    dropped
                }
                None => p,
            };
            let q = qkv[b * t * c3 + h * d..].as_ptr();
            let dout = grad_out[b * t * c + h * d..].as_ptr();
            // SAFETY: as in `forward`; `ds` and `dropped` are this worker's own scratch; the three
            // gradient column slices of head h in sequence b are written by this task alone.
            unsafe {
                let (k, v) = (q.add(c), q.add(2 * c));
                let dq = grad_ptr.get().add(b * t * c3 + h * d);
                let (dk, dv) = (dq.add(c), dq.add(2 * c));
                for (r0, r1) in row_blocks(t) {
                    // dV[j] = sum over i >= j of P[i, j] dO[i] (P after dropout).
                    product(
                        (r1 - r0, d, t - r0),
                        dv.add(r0 * c3),
                        c3,
                        (weights[r0 * t + r0..].as_ptr(), 1, t as isize),
                        (dout.add(r0 * c), c as isize, 1),
                        1.0,
                    );
                    // dP = dO . V^T, the causal part of these rows.
                    product(
                        (r1 - r0, r1, d),
                        ds[r0 * t..].as_mut_ptr(),
                        t,
                        (dout.add(r0 * c), c as isize, 1),
                        (v, 1, c3 as isize),
                        1.0,
                    );
                }
                for i in 0..t {
                    let row = &mut ds[i * t..(i + 1) * t];
                    if let Some(mask) = &mask {
                        // The gradient of the weights before dropout.
                        mask.apply((bh * t + i) as u64, &mut row[..=i]);
                    }
                    simd::softmax_grad_in_place(&p[i * t..=i * t + i], &mut row[..=i], scale);
                    row[i + 1..].fill(0.0);
                }
                for (r0, r1) in row_blocks(t) {
                    // dQ = dS . K.
                    product(
                        (r1 - r0, d, r1),
                        dq.add(r0 * c3),
                        c3,
                        (ds[r0 * t..].as_ptr(), t as isize, 1),
                        (k, c3 as isize, 1),
                        1.0,
                    );
                    // dK[j] = sum over i >= j of dS[i, j] Q[i].
                    product(
                        (r1 - r0, d, t - r0),
                        dk.add(r0 * c3),
                        c3,
                        (ds[r0 * t + r0..].as_ptr(), 1, t as isize),
                        (q.add(r0 * c3), c3 as isize, 1),
                        1.0,
                    );
                }
            }
        },
    );
    grad
}
