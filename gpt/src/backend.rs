//! Device choice, kept out of the model code: `--device cpu|cuda|cuda:N` parses into a
//! [`DeviceSpec`], and [`with_backend`] runs a backend-generic task on the matching burn
//! backend. CPU is burn-flex (SIMD + rayon), measured fastest of burn 0.21's pure-Rust CPU
//! backends; CUDA is burn-cuda behind the `cuda` cargo feature.

use std::fmt;
use std::str::FromStr;

use burn::backend::{Autodiff, Flex};
pub use burn::tensor::backend::{AutodiffBackend, Backend};

use crate::error::{GptError, Result};

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

/// Where a model trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceSpec {
    /// All CPU cores, through burn-flex.
    Cpu,
    /// The NVIDIA GPU of this index.
    Cuda(usize),
}

impl FromStr for DeviceSpec {
    type Err = GptError;

    fn from_str(s: &str) -> Result<Self> {
        let bad = |reason: &str| GptError::Device {
            spec: s.to_string(),
            reason: reason.to_string(),
        };
        match s {
            "cpu" => Ok(Self::Cpu),
            "cuda" => Ok(Self::Cuda(0)),
            _ => match s.strip_prefix("cuda:") {
                Some(n) => n
                    .parse()
                    .map(Self::Cuda)
                    .map_err(|_| bad("the GPU index after 'cuda:' must be a non-negative integer")),
                None => Err(bad("expected cpu, cuda or cuda:N")),
            },
        }
    }
}

impl fmt::Display for DeviceSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cpu => write!(f, "cpu"),
            Self::Cuda(i) => write!(f, "cuda:{i}"),
        }
    }
}

/// Whether this build can drive NVIDIA GPUs.
pub const CUDA_BUILT: bool = cfg!(feature = "cuda");

/// The devices this machine offers: every NVIDIA GPU that answers (CUDA builds), else the CPU.
pub fn detect_devices() -> Vec<DeviceSpec> {
    let gpus = cuda::count();
    if gpus == 0 {
        vec![DeviceSpec::Cpu]
    } else {
        (0..gpus).map(DeviceSpec::Cuda).collect()
    }
}

/// A computation that works on any autodiff backend; [`with_backend`] picks which.
pub trait OnBackend {
    /// What the task produces.
    type Output;
    /// Runs the task on backend `B` and `device`.
    fn run<B: AutodiffBackend>(self, device: B::Device) -> Self::Output;
}

/// Runs `task` on the backend and device of `spec`. A CUDA device in a build without the
/// `cuda` feature, or one the machine does not have, is an error, never a panic.
pub fn with_backend<T: OnBackend>(spec: DeviceSpec, task: T) -> Result<T::Output> {
    match spec {
        DeviceSpec::Cpu => Ok(task.run::<CpuTrain>(Default::default())),
        DeviceSpec::Cuda(index) => cuda::run(index, task),
    }
}

#[cfg(not(feature = "cuda"))]
mod cuda {
    use super::*;

    pub fn count() -> usize {
        0
    }

    pub fn run<T: OnBackend>(index: usize, _task: T) -> Result<T::Output> {
        Err(GptError::Device {
            spec: format!("cuda:{index}"),
            reason: "this gptsweep was built without CUDA support; rebuild with `cargo build --release --features cuda`".into(),
        })
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use super::*;
    use burn::backend::cuda::CudaDevice;
    use burn::tensor::Tensor;

    /// Touches the device once, turning the runtime's panic on a missing driver or GPU
    /// into an error.
    fn probe(index: usize) -> Result<()> {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let outcome = std::panic::catch_unwind(|| {
            let device = CudaDevice::new(index);
            let t = Tensor::<CudaInfer, 1>::ones([1], &device);
            t.into_data().iter::<f32>().next()
        });
        std::panic::set_hook(hook);
        match outcome {
            Ok(Some(v)) if v == 1.0 => Ok(()),
            Ok(_) => Err(GptError::Device {
                spec: format!("cuda:{index}"),
                reason: "the GPU answered a test computation wrongly".into(),
            }),
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "unknown failure".into());
                Err(GptError::Device {
                    spec: format!("cuda:{index}"),
                    reason: format!(
                        "no usable NVIDIA GPU here ({})",
                        msg.lines().next().unwrap_or("")
                    ),
                })
            }
        }
    }

    /// GPUs that answer a probe, counted from 0 until the first that does not (at most 16).
    pub fn count() -> usize {
        (0..16).take_while(|i| probe(*i).is_ok()).count()
    }

    pub fn run<T: OnBackend>(index: usize, task: T) -> Result<T::Output> {
        probe(index)?;
        Ok(task.run::<CudaTrain>(CudaDevice::new(index)))
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
        let err = "gpu".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(err.contains("expected cpu, cuda or cuda:N"), "{err}");
        let err = "cuda:x".parse::<DeviceSpec>().unwrap_err().to_string();
        assert!(err.contains("non-negative integer"), "{err}");
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_is_a_clear_error() {
        struct Nothing;
        impl OnBackend for Nothing {
            type Output = ();
            fn run<B: AutodiffBackend>(self, _device: B::Device) {}
        }
        let err = with_backend(DeviceSpec::Cuda(0), Nothing)
            .unwrap_err()
            .to_string();
        assert!(err.contains("built without CUDA support"), "{err}");
    }
}
