//! [`GptOps`] on the cubecl backends (burn-wgpu and burn-cuda): `CubeBackend` is where a
//! kernel of ours runs, `Fusion<CubeBackend>` (what burn's `Wgpu` and `Cuda` are) hands each op
//! to it as a custom operation of its stream, and `Autodiff` over either makes a graph node of
//! each op whose backward pass is another `GptOps` method of the inner backend. Every impl is
//! generic over the runtime, so one kernel serves wgpu and CUDA alike.

use burn::backend::Autodiff;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn_cubecl::{BoolElement, CubeBackend, CubeRuntime, FloatElement, IntElement};
use burn_fusion::{Fusion, FusionBackend};

use super::GptOps;

/// The inner backends whose `Autodiff` takes its `GptOps` from the impl below: the cubecl
/// backends, plain or fused (burn-flex has its own, `cpu.rs`).
pub trait CubeKernels: GptOps {}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> GptOps
    for CubeBackend<R, F, I, BT>
{
}

impl<R: CubeRuntime, F: FloatElement, I: IntElement, BT: BoolElement> CubeKernels
    for CubeBackend<R, F, I, BT>
{
}

impl<B: FusionBackend + GptOps> GptOps for Fusion<B> {}

impl<B: FusionBackend + CubeKernels> CubeKernels for Fusion<B> {}

impl<B: CubeKernels, C: CheckpointStrategy> GptOps for Autodiff<B, C> {}
