//! Where GPU kernels are remembered between processes. burn's GPU backends compile their
//! kernels at run time (NVRTC for CUDA) and time candidate kernels for each new shape
//! (autotune); on an H100 that warm-up took 270 s before the first 50 steps of a small
//! model (BENCHMARKS.md), every time a process met the shape again, because cubecl keeps
//! compiled kernels only in memory and its autotune results under a `target/` directory
//! found from the working directory. Pointing both at one cache directory per machine
//! makes the warm-up a once-per-machine cost, shared by every run, worker and `train` of
//! the same shape. Autotune runs at cubecl's `minimal` level: on an H100 it compiled about
//! half the kernels of the default `balanced` level (a 47 MB cache against 87 MB for the
//! lecture's config) for the same steady speed (336,504 against 339,708 tokens/s, BENCHMARKS.md).
//! A `cubecl.toml` of the user's (or `CUBECL_*` variables) still wins for anything it sets.

use std::path::Path;

use super::kernel_sources::OUR_KERNELS;

/// Points cubecl's compilation and autotune caches at `dir` (subdirectories `compiled/ours-`
/// the fingerprint of our kernels, so that a changed kernel of ours is compiled anew, and
/// `autotune`) and autotunes at the `minimal` level, unless the user's cubecl configuration
/// already chose. Call it before any GPU work; later calls, or a configuration cubecl has
/// already read, are left alone. A build without GPU backends has nothing to configure.
pub fn use_kernel_cache(dir: &Path) {
    #[cfg(any(feature = "cuda", feature = "wgpu"))]
    gpu::configure(dir);
    #[cfg(not(any(feature = "cuda", feature = "wgpu")))]
    let _ = dir;
}

/// What, besides the device and its driver, decides whether a cached kernel or autotune
/// result is valid: this build (gptsweep's version, which fixes burn's and cubecl's kernels,
/// and the fingerprint of our own kernels' source, which can change within a version) and the
/// autotune level (a `minimal` result is not the `full` one). Part of the fleet kernel
/// cache's scope; call it after [`use_kernel_cache`].
pub fn kernel_build() -> String {
    #[cfg(any(feature = "cuda", feature = "wgpu"))]
    let level = gpu::autotune_level();
    #[cfg(not(any(feature = "cuda", feature = "wgpu")))]
    let level = "none";
    format!(
        "gptsweep {} (burn 0.21, cubecl 0.10, our kernels {:016x}), autotune {level}",
        env!("CARGO_PKG_VERSION"),
        OUR_KERNELS
    )
}

#[cfg(any(feature = "cuda", feature = "wgpu"))]
mod gpu {
    use std::path::Path;

    use burn::cubecl::config::autotune::AutotuneLevel;
    use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig, cache::CacheConfig};

    pub fn configure(dir: &Path) {
        let mut slot = CubeClRuntimeConfig::storage().lock();
        if slot.is_some() {
            return;
        }
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        if config.compilation.cache.is_none() {
            let ours = format!("ours-{:016x}", super::OUR_KERNELS);
            config.compilation.cache = Some(CacheConfig::File(dir.join("compiled").join(ours)));
        }
        if matches!(config.autotune.cache, CacheConfig::Target) {
            config.autotune.cache = CacheConfig::File(dir.join("autotune"));
        }
        // `balanced` is cubecl's default: a level still at it was not chosen by the user,
        // unless through the variable.
        if matches!(config.autotune.level, AutotuneLevel::Balanced)
            && std::env::var_os("CUBECL_AUTOTUNE_LEVEL").is_none()
        {
            config.autotune.level = AutotuneLevel::Minimal;
        }
        *slot = Some(std::sync::Arc::new(config));
    }

    /// The autotune level in force, lowercase.
    pub fn autotune_level() -> String {
        format!("{:?}", CubeClRuntimeConfig::get().autotune.level).to_lowercase()
    }
}
