//! The token embedding's gradient as a cubecl kernel: one thread per element of the output
//! gradient `[B*T, C]`, each adding its value into row `ids[row]` of a zeroed `[V, C]` table
//! with an atomic f32 add. burn's own (`select_add` into zeros) runs one thread per column that
//! walks all B*T rows in turn: 384 threads for the lecture's shape, 5.2 ms of a 48 ms H100 step.
//! Here B*T*C threads run at once, the reads coalesced; adds into the same table row meet in
//! the GPU's L2 atomics, V*C distinct addresses (25k for the lecture), so even a small vocabulary
//! leaves enough of them apart, and a large one (BPE, 50k rows) hardly ever collides. A one-hot
//! product (`[V, B*T] @ [B*T, C]`) would be as fast for V = 65 but grows with V (2*V*B*T*C
//! flops and a V*B*T one-hot matrix: 3.3 GB at V = 50k), and on tensor cores rounds the
//! gradient to TF32. The order of the adds varies from run to run, as PyTorch's
//! `index_add_`/embedding backward on CUDA does: sums agree to f32 rounding, not bit for bit.
//!
//! Where the device has no atomic f32 add (Vulkan without `shaderBufferFloat32AtomicAdd`),
//! burn's composed version runs. (A compare-and-swap loop on the value's `u32` bits was tried
//! for those: cubecl 0.10's SPIR-V compiler panics on it, "Atomic should have a scope
//! registered"; CUDA devices all have the f32 add.)

use burn::tensor::{DType, Shape};
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::tensor::CubeTensor;
use burn_cubecl::{CubeRuntime, IntElement};
use cubecl::features::AtomicUsage;
use cubecl::ir::FloatKind;
use cubecl::prelude::*;
use cubecl::{CubeDim, calculate_cube_count_elemwise};

/// Whether the device of `client` has the atomic f32 add the kernel needs.
pub fn has_float_atomic_add<R: CubeRuntime>(client: &ComputeClient<R>) -> bool {
    let f32_atomic = Type::new(StorageType::Atomic(FloatKind::F32.into()));
    client
        .properties()
        .atomic_type_usage(f32_atomic)
        .contains(AtomicUsage::Add)
}

#[cube(launch)]
fn add_rows_float<I: Int>(
    grad: &Tensor<f32>,
    ids: &Tensor<I>,
    table: &mut Tensor<Atomic<f32>>,
    width: usize,
    total: usize,
) {
    if ABSOLUTE_POS >= total {
        terminate!();
    }
    let row = ABSOLUTE_POS / width;
    let col = ABSOLUTE_POS % width;
    let slot = usize::cast_from(ids[row]) * width + col;
    table[slot].fetch_add(grad[ABSOLUTE_POS]);
}

/// The inputs of a call the kernel declines, handed back (boxed: two tensors' metadata).
pub type Declined<R> = Box<(CubeTensor<R>, CubeTensor<R>)>;

/// The table's gradient, or the inputs where the kernel declines.
pub type Table<R> = Result<CubeTensor<R>, Declined<R>>;

/// The gradient of an embedding of `vocab` rows from the output gradient `grad [B, T, C]` and
/// the ids `[B, T]`: `[vocab, C]`. `Err` with the inputs (the caller composes it instead)
/// unless `grad` is f32, the ids are the backend's integer type `I` and the device has an
/// atomic f32 add. Ids must be below `vocab` (the model's are:
/// the tokenizer checks them).
pub fn backward<R: CubeRuntime, I: IntElement>(
    vocab: usize,
    grad: CubeTensor<R>,
    ids: CubeTensor<R>,
    zeros: impl FnOnce(Shape) -> CubeTensor<R>,
) -> Table<R> {
    if grad.dtype != DType::F32
        || ids.dtype != I::dtype()
        || grad.meta.num_dims() != 3
        || !has_float_atomic_add(&grad.client)
    {
        return Err(Box::new((grad, ids)));
    }
    let width = grad.meta.shape()[2];
    let total = grad.meta.num_elements();
    let table = zeros(Shape::new([vocab, width]));
    if total == 0 {
        return Ok(table);
    }
    let (grad, ids) = (into_contiguous(grad), into_contiguous(ids));
    let client = grad.client.clone();
    let cube_dim = CubeDim::new(&client, total);
    let cube_count = calculate_cube_count_elemwise(&client, total, cube_dim);
    let args = (
        grad.into_tensor_arg(),
        ids.into_tensor_arg(),
        table.clone().into_tensor_arg(),
    );
    add_rows_float::launch::<I, R>(
        &client, cube_count, cube_dim, args.0, args.1, args.2, width, total,
    );
    Ok(table)
}
