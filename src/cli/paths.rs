//! Default locations: state under the XDG data directory, caches under the XDG cache one.

use std::path::PathBuf;

fn home() -> PathBuf {
    std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."))
}

/// `$XDG_DATA_HOME/gptsweep`, else `~/.local/share/gptsweep`.
pub fn default_state_dir() -> PathBuf {
    std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".local/share"))
        .join("gptsweep")
}

fn cache_home() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| home().join(".cache"))
}

/// `$XDG_CACHE_HOME/gptsweep/datasets`, else `~/.cache/gptsweep/datasets`.
pub fn default_cache_dir() -> PathBuf {
    cache_home().join("gptsweep/datasets")
}

/// `$XDG_CACHE_HOME/gptsweep/checkpoints`, else `~/.cache/gptsweep/checkpoints`: stored
/// runs' checkpoints fetched by `sample RUN` and `export RUN`, by content hash.
pub fn checkpoint_cache_dir() -> PathBuf {
    cache_home().join("gptsweep/checkpoints")
}

/// `$GPTSWEEP_KERNEL_DIR`, else `$XDG_CACHE_HOME/gptsweep/kernels`, else
/// `~/.cache/gptsweep/kernels`: compiled GPU kernels and autotune results, shared by every
/// process of this user on this machine (a worker's warm-ups compile into folders of their
/// own, named by the variable, and merge back).
pub fn kernel_cache_dir() -> PathBuf {
    match std::env::var_os(gptsweep_worker::slot_process::parent::KERNEL_DIR_VAR) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => cache_home().join("gptsweep/kernels"),
    }
}

/// This machine's name, for workers.
pub fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "worker".into())
}
