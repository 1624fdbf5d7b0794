//! [`AttentionOps`] on burn's cubecl backend itself (`CubeBackend`, what `Fusion` wraps):
//! buffers allocated, inputs made contiguous, the kernels of [`super::kernel`] launched.

use burn::tensor::Shape;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use cubecl::{CubeCount, CubeDim, calculate_cube_count_elemwise};

use super::kernel::{self, ROWS_PER_CUBE};
use super::{AttentionOps, Call, Dims};

/// The dropout arguments of the kernels: the key's halves, the threshold and the scale
/// (all zero, and unused, without dropout).
struct DropArgs {
    key_hi: u32,
    key_lo: u32,
    threshold: u32,
    scale: f32,
    on: bool,
}

impl DropArgs {
    fn of(call: &Call) -> Self {
        match call.mask {
            Some(mask) => Self {
                key_hi: (mask.key() >> 32) as u32,
                key_lo: mask.key() as u32,
                threshold: mask.threshold(),
                scale: mask.scale(),
                on: true,
            },
            None => Self {
                key_hi: 0,
                key_lo: 0,
                threshold: 0,
                scale: 1.0,
                on: false,
            },
        }
    }
}

/// Cubes of [`ROWS_PER_CUBE`] rows, one column of cubes per (sequence, head).
fn row_grid(dims: Dims) -> (CubeCount, CubeDim) {
    let blocks = dims.time.div_ceil(ROWS_PER_CUBE as usize) as u32;
    let pairs = (dims.batch * dims.heads) as u32;
    (
        CubeCount::Static(blocks, pairs, 1),
        CubeDim::new_1d(ROWS_PER_CUBE),
    )
}

/// A fresh `shape` tensor of `like`'s device and type.
fn empty_like<R: CubeRuntime>(like: &CubeTensor<R>, shape: Shape) -> CubeTensor<R> {
    empty_device_dtype(like.client.clone(), like.device.clone(), shape, like.dtype)
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> AttentionOps
    for CubeBackend<R, F, I, BT>
{
    fn attention_forward(qkv: CubeTensor<R>, call: Call) -> (CubeTensor<R>, CubeTensor<R>) {
        let Dims {
            batch,
            time,
            heads,
            head_dim,
        } = call.dims;
        let qkv = into_contiguous(qkv);
        let out = empty_like(&qkv, Shape::new([batch, time, heads * head_dim]));
        let lse = empty_like(&qkv, Shape::new([batch * heads * time]));
        let (count, dim) = row_grid(call.dims);
        let drop = DropArgs::of(&call);
        let dtype = qkv.dtype;
        kernel::attention_forward::launch::<R>(
            &qkv.client.clone(),
            count,
            dim,
            qkv.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            lse.clone().into_tensor_arg(),
            time as u32,
            heads as u32,
            call.scale,
            drop.key_hi,
            drop.key_lo,
            drop.threshold,
            drop.scale,
            head_dim as u32,
            drop.on,
            dtype.into(),
        );
        (out, lse)
    }

    fn attention_backward(
        qkv: CubeTensor<R>,
        out: CubeTensor<R>,
        lse: CubeTensor<R>,
        grad_out: CubeTensor<R>,
        call: Call,
    ) -> CubeTensor<R> {
        let Dims {
            batch,
            time,
            heads,
            head_dim,
        } = call.dims;
        let [qkv, out, lse, grad_out] = [qkv, out, lse, grad_out].map(into_contiguous);
        let grad = empty_like(&qkv, Shape::new([batch, time, 3 * heads * head_dim]));
        let delta = empty_like(&qkv, Shape::new([batch * heads * time]));
        let (count, dim) = row_grid(call.dims);
        let drop = DropArgs::of(&call);
        let dtype = qkv.dtype;
        let client = qkv.client.clone();
        kernel::attention_backward_query::launch::<R>(
            &client,
            count.clone(),
            dim,
            qkv.clone().into_tensor_arg(),
            out.into_tensor_arg(),
            lse.clone().into_tensor_arg(),
            grad_out.clone().into_tensor_arg(),
            delta.clone().into_tensor_arg(),
            grad.clone().into_tensor_arg(),
            time as u32,
            heads as u32,
            call.scale,
            drop.key_hi,
            drop.key_lo,
            drop.threshold,
            drop.scale,
            head_dim as u32,
            drop.on,
            dtype.into(),
        );
        kernel::attention_backward_key::launch::<R>(
            &client,
            count,
            dim,
            qkv.into_tensor_arg(),
            lse.into_tensor_arg(),
            delta.into_tensor_arg(),
            grad_out.into_tensor_arg(),
            grad.clone().into_tensor_arg(),
            time as u32,
            heads as u32,
            call.scale,
            drop.key_hi,
            drop.key_lo,
            drop.threshold,
            drop.scale,
            head_dim as u32,
            drop.on,
            dtype.into(),
        );
        grad
    }

    fn attention_mask(like: CubeTensor<R>, call: Call) -> CubeTensor<R> {
        let Dims {
            batch, time, heads, ..
        } = call.dims;
        let mask = empty_like(&like, Shape::new([batch * heads, time, time]));
        let n = batch * heads * time * time;
        let dim = CubeDim::new(&like.client, n);
        let count = calculate_cube_count_elemwise(&like.client, n, dim);
        let drop = DropArgs::of(&call);
        kernel::attention_mask::launch::<R>(
            &like.client,
            count,
            dim,
            mask.clone().into_tensor_arg(),
            time as u32,
            drop.key_hi,
            drop.key_lo,
            drop.threshold,
            drop.scale,
            like.dtype.into(),
        );
        mask
    }
}
