//! The scope of a worker's kernels in the fleet's kernel cache ([`crate::kernel_sync`]):
//! everything that decides whether a compiled kernel or an autotune result from another
//! node is valid here. For a CUDA GPU: its model, compute capability and driver (as
//! nvidia-smi names them); for a wgpu adapter: its name, PCI ids, graphics API and driver;
//! then the build and autotune level ([`gptsweep_gpt::kernel_build`]). Two workers share
//! records only when their scopes are equal; a worker whose GPUs cannot be named (no
//! nvidia-smi) takes no part rather than risk another device's kernels.

use std::collections::BTreeSet;

use gptsweep_gpt::DeviceSpec;

use crate::memory::NVIDIA_SMI_TIMEOUT;

/// The scope of `devices`, or why they have none (`Ok(None)`: CPU only, nothing to share).
pub async fn scope(devices: &[DeviceSpec]) -> Result<Option<String>, String> {
    let mut identities = BTreeSet::new();
    let mut cuda: Option<BTreeSet<String>> = None;
    for device in devices {
        match device {
            DeviceSpec::Cpu => {}
            DeviceSpec::Wgpu(i) => {
                let id = gptsweep_gpt::backend::wgpu_identity(*i)
                    .ok_or_else(|| format!("wgpu:{i} cannot be named"))?;
                identities.insert(format!("wgpu {id}"));
            }
            DeviceSpec::Cuda(_) => {
                if cuda.is_none() {
                    cuda = Some(cuda_identities().await?);
                }
            }
        }
    }
    // Every GPU nvidia-smi lists: exact on a node of one GPU model, as GPU nodes are, and
    // on a mixed node a scope of its own rather than a wrong one.
    identities.extend(cuda.unwrap_or_default());
    if identities.is_empty() {
        return Ok(None);
    }
    let devices: Vec<String> = identities.into_iter().collect();
    Ok(Some(format!(
        "{} | {}",
        devices.join(" + "),
        gptsweep_gpt::kernel_build()
    )))
}

/// "cuda NAME, sm CC, driver VERSION" of each GPU model nvidia-smi lists.
async fn cuda_identities() -> Result<BTreeSet<String>, String> {
    let child = tokio::process::Command::new("nvidia-smi")
        .args([
            "--query-gpu=name,compute_cap,driver_version",
            "--format=csv,noheader",
        ])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    let out = match tokio::time::timeout(NVIDIA_SMI_TIMEOUT, child).await {
        Err(_) => return Err("nvidia-smi did not answer".into()),
        Ok(Err(e)) => return Err(format!("nvidia-smi: {e}")),
        Ok(Ok(out)) if !out.status.success() => {
            return Err(format!("nvidia-smi failed ({})", out.status));
        }
        Ok(Ok(out)) => out,
    };
    parse_cuda_identities(&String::from_utf8_lossy(&out.stdout))
}

fn parse_cuda_identities(csv: &str) -> Result<BTreeSet<String>, String> {
    let mut found = BTreeSet::new();
    for line in csv.lines().filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        let [name, cc, driver] = fields[..] else {
            return Err(format!("nvidia-smi: unexpected line {line:?}"));
        };
        if [name, cc, driver]
            .iter()
            .any(|f| f.is_empty() || f.starts_with('['))
        {
            return Err(format!("nvidia-smi does not name the GPU fully: {line:?}"));
        }
        found.insert(format!("cuda {name}, sm {cc}, driver {driver}"));
    }
    if found.is_empty() {
        return Err("nvidia-smi lists no GPU".into());
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpus_of_one_model_are_one_identity() {
        let csv = "NVIDIA H100 80GB HBM3, 9.0, 550.54.15\nNVIDIA H100 80GB HBM3, 9.0, 550.54.15\n";
        let ids = parse_cuda_identities(csv).unwrap();
        assert_eq!(
            ids.into_iter().collect::<Vec<_>>(),
            vec!["cuda NVIDIA H100 80GB HBM3, sm 9.0, driver 550.54.15"]
        );
        assert!(parse_cuda_identities("").is_err());
        assert!(parse_cuda_identities("A100, [N/A], 550\n").is_err());
        assert!(parse_cuda_identities("A100, 8.0\n").is_err());
    }

    #[tokio::test]
    async fn the_cpu_has_no_scope() {
        assert_eq!(scope(&[DeviceSpec::Cpu]).await, Ok(None));
    }
}
