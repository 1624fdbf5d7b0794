//! Checks a worker makes before it registers, so that a misconfigured node takes no work
//! (a worker that leased runs it cannot train would fail every one of them): each device
//! computes a small tensor, and the cache directory takes a write. A problem is one line
//! naming the device or the path.

use std::path::Path;

use gptsweep_gpt::{AutodiffBackend, DeviceSpec, OnBackend, TrainBackend, with_backend};

use crate::error::{Result, WorkerError};

/// A one-element computation that needs the backend to be alive.
struct Probe;

impl OnBackend for Probe {
    type Output = bool;

    fn run<B: TrainBackend>(self, device: B::Device) -> bool {
        let t = burn_tensor_ones::<B>(&device);
        t == 2.0
    }
}

/// `1 + 1` on `device`, read back.
fn burn_tensor_ones<B: AutodiffBackend>(device: &B::Device) -> f32 {
    use burn::tensor::Tensor;
    let t = Tensor::<B, 1>::ones([1], device);
    (t.clone() + t)
        .into_data()
        .iter::<f32>()
        .next()
        .unwrap_or(f32::NAN)
}

/// Checks that `device` computes.
pub fn probe_device(device: DeviceSpec) -> Result<()> {
    match with_backend(device, Probe) {
        Ok(true) => Ok(()),
        Ok(false) => Err(WorkerError::Setup(format!(
            "--devices {device}: the device answered a test computation wrongly"
        ))),
        Err(e) => Err(WorkerError::Setup(format!("--devices {device}: {e}"))),
    }
}

/// Checks that `dir` is (or can be made) a writable directory.
pub fn check_cache_dir(dir: &Path) -> Result<()> {
    let bad = |e: String| WorkerError::Setup(format!("--cache-dir {}: {e}", dir.display()));
    if dir.exists() && !dir.is_dir() {
        return Err(bad("is not a directory".into()));
    }
    std::fs::create_dir_all(dir).map_err(|e| bad(format!("cannot create it ({e})")))?;
    let probe = dir.join(format!(".probe-{}", std::process::id()));
    std::fs::write(&probe, b"gptsweep")
        .and_then(|_| std::fs::remove_file(&probe))
        .map_err(|e| bad(format!("cannot write in it ({e})")))
}

/// Every check, devices first.
pub fn check(devices: &[DeviceSpec], cache_dir: &Path) -> Result<()> {
    for d in devices {
        probe_device(*d)?;
    }
    check_cache_dir(cache_dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cpu_passes_and_a_file_is_no_cache_dir() {
        probe_device(DeviceSpec::Cpu).unwrap();
        let dir = tempfile_dir();
        let file = dir.join("file");
        std::fs::write(&file, "x").unwrap();
        let err = check_cache_dir(&file).unwrap_err().to_string();
        assert!(err.ends_with("file: is not a directory"), "{err}");
        check_cache_dir(&dir.join("new/cache")).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[cfg(not(feature = "cuda"))]
    #[test]
    fn cuda_without_the_feature_fails_the_check() {
        let err = probe_device(DeviceSpec::Cuda(0)).unwrap_err().to_string();
        assert!(err.contains("built without CUDA support"), "{err}");
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("gptsweep-startup-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
