//! The wgpu backend (burn-wgpu: Vulkan on Linux and Windows, Metal on macOS), behind the
//! `wgpu` feature, and the numbering behind `wgpu:N`.
//!
//! burn addresses a wgpu adapter by kind and index within its kind (`WgpuDevice::
//! DiscreteGpu(k)`, `IntegratedGpu(k)`, `VirtualGpu(k)`, `Cpu`). gptsweep lists the adapters
//! of the platform's graphics API the way burn does, ranks them (discrete, integrated,
//! virtual, then software), and `wgpu:N` is the N-th of that ranking, so `wgpu` (= `wgpu:0`)
//! is the best GPU there is. Adapters of kind "other" (which burn only reaches as a fallback)
//! and all but the first software adapter (burn's `WgpuDevice::Cpu` has no index) are left out.

use super::*;

#[cfg(not(feature = "wgpu"))]
pub fn hardware(_cuda_found: bool) -> impl Iterator<Item = usize> {
    std::iter::empty()
}

/// The adapter and driver behind `wgpu:index`, for the fleet kernel cache's scope: its
/// kernels and autotune results are valid for this adapter on this driver only. `None`
/// without the wgpu feature or such an adapter.
#[cfg(not(feature = "wgpu"))]
pub fn identity(_index: usize) -> Option<String> {
    None
}

#[cfg(not(feature = "wgpu"))]
pub fn run<T: OnBackend>(index: usize, _task: T) -> Result<T::Output> {
    Err(GptError::Device {
        spec: format!("wgpu:{index}"),
        reason: "this gptsweep was built without wgpu support; rebuild with `cargo build --release --features wgpu`".into(),
    })
}

#[cfg(feature = "wgpu")]
pub use with_wgpu::*;

#[cfg(feature = "wgpu")]
mod with_wgpu {
    use super::*;
    use burn::backend::wgpu::WgpuDevice;
    use burn::backend::wgpu::graphics::{AutoGraphicsApi, GraphicsApi};
    use std::future::Future;
    use std::task::{Context, Poll, Waker};

    /// PCI vendor id of NVIDIA, whose GPUs a CUDA build already drives through CUDA.
    const NVIDIA: u32 = 0x10de;

    /// What kind of adapter, in ranking order.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
    pub enum AdapterKind {
        /// A GPU with its own memory.
        Discrete,
        /// A GPU sharing the CPU's memory.
        Integrated,
        /// A GPU of a virtual machine.
        Virtual,
        /// Vulkan run on the CPU (lavapipe, SwiftShader): correct but slower than `cpu`.
        Software,
    }

    /// One adapter `wgpu:N` can name.
    #[derive(Debug, Clone)]
    pub struct WgpuAdapter {
        /// Its `N` in `wgpu:N`.
        pub index: usize,
        /// The driver's name for it, e.g. "llvmpipe (LLVM 15.0.6, 256 bits)".
        pub name: String,
        /// Its kind.
        pub kind: AdapterKind,
        /// PCI vendor id (0x10de NVIDIA, 0x1002 AMD, 0x8086 Intel; 0x10005 Mesa).
        pub vendor: u32,
        /// PCI device id (0 where the driver says none).
        pub device_id: u32,
        /// The graphics API and driver behind it, e.g. "Vulkan llvmpipe Mesa 22.3.6 (LLVM
        /// 15.0.6)": what compiled kernels and autotune results are valid for, with the name.
        pub driver: String,
        /// How burn names it.
        pub device: WgpuDevice,
    }

    /// Polls a future that wgpu resolves at once on native platforms.
    fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        let mut cx = Context::from_waker(Waker::noop());
        loop {
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
            std::thread::yield_now();
        }
    }

    /// The adapters `wgpu:N` names, in the ranking of the module's doc. Empty when there is
    /// no driver (for Vulkan: no libvulkan, or no ICD such as mesa-vulkan-drivers).
    pub fn wgpu_adapters() -> Vec<WgpuAdapter> {
        let backend = <AutoGraphicsApi as GraphicsApi>::backend();
        let listed = catch_panic(|| {
            let instance = ::wgpu::Instance::new(::wgpu::InstanceDescriptor {
                backends: backend.into(),
                ..::wgpu::InstanceDescriptor::new_without_display_handle()
            });
            block_on(instance.enumerate_adapters(backend.into()))
                .into_iter()
                .map(|a| a.get_info())
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
        let mut per_kind = [0usize; 4];
        let mut found: Vec<WgpuAdapter> = listed
            .into_iter()
            .filter_map(|info| {
                let kind = match info.device_type {
                    ::wgpu::DeviceType::DiscreteGpu => AdapterKind::Discrete,
                    ::wgpu::DeviceType::IntegratedGpu => AdapterKind::Integrated,
                    ::wgpu::DeviceType::VirtualGpu => AdapterKind::Virtual,
                    ::wgpu::DeviceType::Cpu => AdapterKind::Software,
                    ::wgpu::DeviceType::Other => return None,
                };
                let k = per_kind[kind as usize];
                per_kind[kind as usize] += 1;
                let device = match kind {
                    AdapterKind::Discrete => WgpuDevice::DiscreteGpu(k),
                    AdapterKind::Integrated => WgpuDevice::IntegratedGpu(k),
                    AdapterKind::Virtual => WgpuDevice::VirtualGpu(k),
                    AdapterKind::Software if k == 0 => WgpuDevice::Cpu,
                    AdapterKind::Software => return None,
                };
                Some(WgpuAdapter {
                    index: 0,
                    driver: format!("{:?} {} {}", info.backend, info.driver, info.driver_info)
                        .trim()
                        .to_string(),
                    name: info.name,
                    kind,
                    vendor: info.vendor,
                    device_id: info.device,
                    device,
                })
            })
            .collect();
        found.sort_by_key(|a| a.kind);
        for (i, a) in found.iter_mut().enumerate() {
            a.index = i;
        }
        found
    }

    /// The adapter and driver behind `wgpu:index` (see the stub without the feature).
    pub fn identity(index: usize) -> Option<String> {
        let a = wgpu_adapters().into_iter().find(|a| a.index == index)?;
        Some(format!(
            "{} [{:#06x}:{:#06x}] {}",
            a.name, a.vendor, a.device_id, a.driver
        ))
    }

    /// The adapter of `wgpu:index`, checked with a test computation.
    fn adapter(index: usize) -> Result<WgpuAdapter> {
        let spec = DeviceSpec::Wgpu(index);
        let fail = |reason: String| GptError::Device {
            spec: spec.to_string(),
            reason,
        };
        let all = wgpu_adapters();
        let Some(found) = all.get(index).cloned() else {
            return Err(fail(if all.is_empty() {
                "no wgpu adapter here: no GPU driver answered (on Linux wgpu needs Vulkan: \
                 libvulkan1 and a driver such as mesa-vulkan-drivers or NVIDIA's)"
                    .into()
            } else {
                let names: Vec<String> = all
                    .iter()
                    .map(|a| format!("wgpu:{} {} ({:?})", a.index, a.name, a.kind))
                    .collect();
                format!("this machine has only {}", names.join(", "))
            }));
        };
        probe::<WgpuInfer>(spec, &found.device)
            .map_err(|msg| fail(format!("{} does not compute ({msg})", found.name)))?;
        Ok(found)
    }

    /// Indices of the hardware adapters that answer a probe, for `--devices auto`; NVIDIA
    /// GPUs are skipped when `cuda_found` (CUDA already lists them).
    pub fn hardware(cuda_found: bool) -> impl Iterator<Item = usize> {
        wgpu_adapters()
            .into_iter()
            .filter(move |a| a.kind != AdapterKind::Software && !(cuda_found && a.vendor == NVIDIA))
            .filter(|a| adapter(a.index).is_ok())
            .map(|a| a.index)
    }

    pub fn run<T: OnBackend>(index: usize, task: T) -> Result<T::Output> {
        let found = adapter(index)?;
        Ok(task.run::<WgpuTrain>(found.device))
    }
}
