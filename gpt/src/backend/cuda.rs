//! The CUDA backend (burn-cuda), behind the `cuda` feature. burn-cuda loads the driver's
//! `libcuda` and NVRTC's `libnvrtc` at run time and compiles its kernels with NVRTC against
//! the CUDA toolkit's headers (`$CUDA_PATH/include`, else `/usr/local/cuda`, `/opt/cuda`), so
//! a CUDA build runs on a machine without any of these until a CUDA device is used; then the
//! probe names what is missing.

use super::*;

#[cfg(not(feature = "cuda"))]
pub fn count() -> usize {
    0
}

#[cfg(not(feature = "cuda"))]
pub fn run<T: OnBackend>(index: usize, _task: T) -> Result<T::Output> {
    Err(GptError::Device {
        spec: format!("cuda:{index}"),
        reason: "this gptsweep was built without CUDA support; rebuild with `cargo build --release --features cuda`".into(),
    })
}

/// What the runtime's panic `msg` (first line) means for someone setting up a GPU machine.
#[cfg_attr(not(feature = "cuda"), allow(dead_code))]
fn explain(msg: &str) -> String {
    let missing = if msg.contains("\"cuda\" shared library") {
        "the NVIDIA driver's libcuda.so was not found: install the NVIDIA driver (or add its \
         directory to LD_LIBRARY_PATH)"
    } else if msg.contains("\"nvrtc\" shared library") {
        "libnvrtc.so (the CUDA toolkit's runtime compiler) was not found: install the CUDA \
         toolkit and add its lib64 directory to LD_LIBRARY_PATH"
    } else if msg.contains("CUDA installation not found") {
        "the CUDA toolkit's headers, which NVRTC compiles kernels against, were not found: \
         install the CUDA toolkit and set CUDA_PATH to it (CUDA_PATH/include must exist)"
    } else if msg.contains("NO_DEVICE") || msg.contains("INVALID_DEVICE") {
        "the NVIDIA driver is installed but sees no GPU of this index (see nvidia-smi)"
    } else {
        "no usable NVIDIA GPU here"
    };
    format!("{missing} ({msg})")
}

#[cfg(feature = "cuda")]
use burn::backend::cuda::CudaDevice;

/// Touches the device once, turning the runtime's panic on a missing driver, toolkit or GPU
/// into an error that says which.
#[cfg(feature = "cuda")]
fn check(index: usize) -> Result<()> {
    let spec = DeviceSpec::Cuda(index);
    probe::<CudaInfer>(spec, &CudaDevice::new(index)).map_err(|msg| GptError::Device {
        spec: spec.to_string(),
        reason: explain(&msg),
    })
}

/// GPUs that answer a probe, counted from 0 until the first that does not (at most 16).
#[cfg(feature = "cuda")]
pub fn count() -> usize {
    (0..16).take_while(|i| check(*i).is_ok()).count()
}

#[cfg(feature = "cuda")]
pub fn run<T: OnBackend>(index: usize, task: T) -> Result<T::Output> {
    check(index)?;
    Ok(task.run::<CudaTrain>(CudaDevice::new(index)))
}

#[cfg(test)]
mod tests {
    use super::explain;

    #[test]
    fn runtime_panics_are_explained_by_what_is_missing() {
        let no_driver = "Unable to dynamically load the \"cuda\" shared library - searched for \
                         library names: [\"libcuda.so\"]";
        assert!(explain(no_driver).starts_with("the NVIDIA driver's libcuda.so was not found"));
        let no_nvrtc = "Unable to dynamically load the \"nvrtc\" shared library";
        assert!(explain(no_nvrtc).contains("CUDA toolkit"));
        let no_headers = "CUDA installation not found.";
        assert!(explain(no_headers).contains("set CUDA_PATH"));
        assert!(
            explain("DriverError(CUDA_ERROR_NO_DEVICE, \"no CUDA-capable device\")")
                .contains("sees no GPU")
        );
    }
}
