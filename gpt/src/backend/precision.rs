//! Which devices run `precision: bf16`, asked before a run trains so that a run a device
//! cannot train fails with a sentence, not a panic deep in a kernel compiler.
//!
//! Known: burn-flex (the CPU) multiplies bf16 by converting to f32 and rounding the product
//! (slower than f32, same numerics as a GPU's bf16 products); burn-cuda has bf16 products
//! on GPUs that report bf16 arithmetic (compute capability 8.0 and later: A100, H100).
//! burn-wgpu 0.21 is refused by name: WGSL has no bf16 type, and its SPIR-V path needs a
//! Vulkan extension (`VK_KHR_shader_bfloat16`) that lavapipe and most drivers lack.
//! [`check_device`] asks the backend itself at the trainer, for what the name cannot tell
//! (a CUDA GPU older than bf16).

use burn::tensor::DType;
use burn::tensor::backend::Backend;

use super::DeviceSpec;
use crate::config::Precision;
use crate::error::{GptError, Result};

/// What a device without bf16 products answers `precision: bf16`.
fn refusal(reason: String) -> GptError {
    GptError::invalid("precision", Precision::Bf16, reason)
}

/// Whether `spec` can train in `precision`, from the device's kind alone: what a worker
/// asks before it trains a leased run, and `gptsweep local` before it submits.
pub fn check_precision(spec: DeviceSpec, precision: Precision) -> Result<()> {
    match (precision, spec) {
        (Precision::F32, _) | (Precision::Bf16, DeviceSpec::Cpu | DeviceSpec::Cuda(_)) => Ok(()),
        (Precision::Bf16, DeviceSpec::Wgpu(_)) => Err(refusal(format!(
            "bf16 products need a CUDA device or the CPU; {spec} trains through burn's wgpu \
             backend, which has no bf16 arithmetic"
        ))),
    }
}

/// Whether backend `B` has bf16 arithmetic on `device`, as the backend itself reports it:
/// the trainer's own check, whatever drove it.
pub fn check_device<B: Backend>(precision: Precision, device: &B::Device) -> Result<()> {
    if precision == Precision::Bf16 && !B::supports_dtype(device, DType::BF16) {
        return Err(refusal(format!(
            "this device has no bf16 arithmetic ({}); bf16 products need a CUDA GPU of \
             compute capability 8.0 or later, or the CPU",
            B::name(device)
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::{CpuInfer, CpuTrain};

    #[test]
    fn bf16_runs_on_the_cpu_and_cuda_and_is_refused_through_wgpu() {
        for spec in [DeviceSpec::Cpu, DeviceSpec::Cuda(0), DeviceSpec::Wgpu(1)] {
            check_precision(spec, Precision::F32).unwrap();
        }
        check_precision(DeviceSpec::Cpu, Precision::Bf16).unwrap();
        check_precision(DeviceSpec::Cuda(1), Precision::Bf16).unwrap();
        assert_eq!(
            check_precision(DeviceSpec::Wgpu(1), Precision::Bf16)
                .unwrap_err()
                .to_string(),
            "precision = bf16: bf16 products need a CUDA device or the CPU; wgpu:1 trains \
             through burn's wgpu backend, which has no bf16 arithmetic"
        );
        // burn-flex says it has bf16 arithmetic, with and without autodiff.
        check_device::<CpuTrain>(Precision::Bf16, &Default::default()).unwrap();
        check_device::<CpuInfer>(Precision::Bf16, &Default::default()).unwrap();
    }
}
