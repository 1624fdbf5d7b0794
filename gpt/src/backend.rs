//! Device choice, kept out of the model code: `--device cpu|cuda[:N]|wgpu[:N]` parses into a
//! [`DeviceSpec`], and [`with_backend`] runs a backend-generic task on the matching burn
//! backend. CPU is burn-flex (SIMD + rayon), measured fastest of burn 0.21's pure-Rust CPU
//! backends; CUDA is burn-cuda behind the `cuda` cargo feature (`backend/cuda.rs`); wgpu
//! (Vulkan, Metal, DX12) is burn-wgpu behind the `wgpu` cargo feature (`backend/wgpu.rs`).
//! A GPU named in a build without its feature, or absent from the machine, is an error that
//! says what is missing, never a panic.

use std::fmt;
use std::str::FromStr;

use burn::backend::{Autodiff, Flex};
pub use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::error::{GptError, Result};
pub use crate::fused::{GptOps, TrainBackend};

mod cuda;
mod kernel_cache;
mod kernel_sources;
mod precision;
mod wgpu;

pub use kernel_cache::{kernel_build, use_kernel_cache};
pub use precision::{check_device, check_precision};
pub use wgpu::identity as wgpu_identity;

#[cfg(feature = "wgpu")]
pub use wgpu::{AdapterKind, WgpuAdapter, wgpu_adapters};

/// CPU backend without autodiff: evaluation and sampling.
pub type CpuInfer = Flex;
/// CPU backend with autodiff: training.
pub type CpuTrain = Autodiff<Flex>;
/// CUDA backend without autodiff.
#[cfg(feature = "cuda")]
pub type CudaInfer = burn::backend::Cuda;
/// CUDA backend with autodiff.
#[cfg(feature = "cuda")]
pub type CudaTrain = Autodiff<burn::backend::Cuda>;
/// wgpu backend (with burn's kernel fusion) without autodiff.
#[cfg(feature = "wgpu")]
pub type WgpuInfer = burn::backend::Wgpu;
/// wgpu backend with autodiff.
#[cfg(feature = "wgpu")]
pub type WgpuTrain = Autodiff<burn::backend::Wgpu>;

/// Where a model trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// All CPU cores, through burn-flex.
    Cpu,
    /// The NVIDIA GPU of this index, in CUDA's numbering (`CUDA_VISIBLE_DEVICES` applies).
    Cuda(usize),
    /// The wgpu adapter of this index in `wgpu_adapters()`' ranking: hardware GPUs
    /// first (discrete, then integrated, then virtual, each group in the order the driver
    /// lists them), software adapters such as lavapipe last. Adapter `N` of kind K is burn's
    /// `WgpuDevice::DiscreteGpu(k)` / `IntegratedGpu(k)` / `VirtualGpu(k)` / `Cpu`, where `k`
    /// counts the adapters of kind K before it.
    Wgpu(usize),
}

impl FromStr for DeviceSpec {
    type Err = GptError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| GptError::Device {
            spec: s.to_string(),
            reason: reason.to_string(),
        };
        let index = |n: &str, kind: &str| {
            n.parse().map_err(|_| {
                bad(&format!(
                    "the GPU index after '{kind}:' must be a non-negative integer"
                ))
            })
        };
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            "wgpu" => Ok(Self::Wgpu(0)),
            _ => {
                if let Some(n) = s.strip_prefix("cuda:") {
                    index(n, "cuda").map(Self::Cuda)
                } else if let Some(n) = s.strip_prefix("wgpu:") {
                    index(n, "wgpu").map(Self::Wgpu)
                } else {
                    Err(bad("expected cpu, cuda, cuda:N, wgpu or wgpu:N"))
                }
            }
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
            Self::Wgpu(i) => write!(f, "wgpu:{i}"),
        }
    }
}

/// Whether this build can drive NVIDIA GPUs.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");
/// Whether this build can drive GPUs through wgpu (Vulkan, Metal, DX12).
pub const WGPU_BUILT: bool = cfg!(feature = "wgpu");

/// The devices this machine offers, for `--devices auto`: every NVIDIA GPU that answers
/// (CUDA builds), then every hardware wgpu adapter that answers (wgpu builds; an NVIDIA GPU
/// already found through CUDA is not listed again), else the CPU. Software adapters such as
/// lavapipe are never chosen: they compute on the same cores as the CPU backend, and more
/// slowly; name one as `wgpu:N` to use it anyway.
pub fn detect_devices() -> Vec<DeviceSpec> {
    let mut found: Vec<DeviceSpec> = (0..cuda::count()).map(DeviceSpec::Cuda).collect();
    found.extend(wgpu::hardware(!found.is_empty()).map(DeviceSpec::Wgpu));
    if found.is_empty() {
        vec![DeviceSpec::Cpu]
    } else {
        found
    }
}

/// A computation that works on any autodiff backend; [`with_backend`] picks which.
pub trait OnBackend {
    /// What the task produces.
    type Output;
    /// Runs the task on backend `B` and `device`.
    fn run<B: TrainBackend>(self, device: B::Device) -> Self::Output;
}

/// Runs `task` on the backend and device of `spec`. A GPU device in a build without its
/// feature, or one the machine does not have, is an error, never a panic.
pub fn with_backend<T: OnBackend>(spec: DeviceSpec, task: T) -> Result<T::Output> {
    match spec {
        DeviceSpec::Cpu => Ok(task.run::<CpuTrain>(Default::default())),
        DeviceSpec::Cuda(index) => cuda::run(index, task),
        DeviceSpec::Wgpu(index) => wgpu::run(index, task),
    }
}

/// Runs `touch` (a first computation on a device) with panics silenced and caught: GPU
/// runtimes panic on a missing driver or device, and a probe must report that instead.
/// Returns the first line of the panic's message.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn catch_panic<R>(touch: impl FnOnce() -> R) -> std::result::Result<R, String> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(touch));
    std::panic::set_hook(hook);
    outcome.map_err(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "unknown failure".into());
        msg.trim().lines().next().unwrap_or("").trim().to_string()
    })
}

/// Computes `1 + 1` on `device` and reads it back: the check that a GPU really works.
#[cfg(any(feature = "cuda", feature = "wgpu"))]
fn probe<B: Backend>(spec: DeviceSpec, device: &B::Device) -> std::result::Result<(), String> {
    let answer = catch_panic(|| {
        let t = burn::tensor::Tensor::<B, 1>::ones([4], device);
        (t.clone() + t)
            .into_data()
            .iter::<f32>()
            .collect::<Vec<_>>()
    })?;
    if answer == [2.0; 4] {
        Ok(())
    } else {
        Err(format!(
            "{spec} answered a test computation wrongly ({answer:?})"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_strings_parse_or_explain() {
        assert_eq!("cpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cpu);
        assert_eq!("cuda".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(0));
        assert_eq!("cuda:3".parse::<DeviceSpec>().unwrap(), DeviceSpec::Cuda(3));
        assert_eq!("wgpu".parse::<DeviceSpec>().unwrap(), DeviceSpec::Wgpu(0));
        assert_eq!("wgpu:2".parse::<DeviceSpec>().unwrap(), DeviceSpec::Wgpu(2));
        let err = "gpu".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(
            err.contains("expected cpu, cuda, cuda:N, wgpu or wgpu:N"),
            "{err}"
        );
        let err = "cuda:x".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(
            err.contains("after 'cuda:' must be a non-negative integer"),
            "{err}"
        );
        let err = "wgpu:-1".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(
            err.contains("after 'wgpu:' must be a non-negative integer"),
            "{err}"
        );
    }

    #[test]
    fn device_strings_round_trip_through_display() {
        for spec in [
            DeviceSpec::Cpu,
            DeviceSpec::Cuda(0),
            DeviceSpec::Cuda(5),
            DeviceSpec::Wgpu(0),
            DeviceSpec::Wgpu(7),
        ] {
            assert_eq!(spec.to_string().parse::<DeviceSpec>().unwrap(), spec);
        }
        assert_eq!(DeviceSpec::Wgpu(1).to_string(), "wgpu:1");
    }

    #[cfg(not(all(feature = "cuda", feature = "wgpu")))]
    struct Nothing;
    #[cfg(not(all(feature = "cuda", feature = "wgpu")))]
    impl OnBackend for Nothing {
        type Output = ();
        fn run<B: TrainBackend>(self, _device: B::Device) {}
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        let err = with_backend(DeviceSpec::Cuda(0), Nothing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("built without CUDA support"), "{err}");
        assert!(err.contains("--features cuda"), "{err}");
    }

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_without_the_feature_is_a_clear_error() {
        let err = with_backend(DeviceSpec::Wgpu(0), Nothing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("built without wgpu support"), "{err}");
        assert!(err.contains("--features wgpu"), "{err}");
    }
}
