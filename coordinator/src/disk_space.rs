//! The free-space reserve of the state directory's filesystem. Blobs (uploaded datasets,
//! runs' checkpoints) and the SQLite database share that filesystem, and a full disk wedges
//! the database: every write fails, leases cannot be renewed, and the coordinator cannot
//! even record that it is in trouble. So a blob is refused (`RESOURCE_EXHAUSTED`, saying
//! how much is free and the reserve) before it is accepted and before each chunk of it is
//! written, when writing it would leave less free than the reserve; the database's own
//! writes are never checked, and get the reserve.
//!
//! The reserve is `--disk-reserve`, by default [`MIN_RESERVE`] or 1% of the filesystem,
//! whichever is larger.

use std::path::{Path, PathBuf};

use crate::byte_size::show;
use crate::error::{CoordinatorError, Result};

/// The least reserve by default: room for the database to grow for a long while (a sweep's
/// rows take KiBs, SQLite's WAL a few MiB).
pub const MIN_RESERVE: u64 = 256 << 20;

/// The free space blobs must leave on the state directory's filesystem.
#[derive(Debug, Clone)]
pub struct DiskReserve {
    /// A directory on the filesystem (the state directory).
    dir: PathBuf,
    /// The reserve in bytes; `None` for the default.
    reserve: Option<u64>,
}

/// Free and total bytes of a filesystem, as an unprivileged process may use them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Space {
    /// Bytes free for unprivileged use (`f_bavail`).
    pub free: u64,
    /// The filesystem's size.
    pub total: u64,
}

impl DiskReserve {
    /// The reserve `reserve` (bytes; `None`: the default) on the filesystem of `dir`.
    pub fn new(dir: &Path, reserve: Option<u64>) -> Self {
        Self {
            dir: dir.to_path_buf(),
            reserve,
        }
    }

    /// The reserve in bytes on a filesystem of `total` bytes: the one set, else
    /// [`MIN_RESERVE`] or 1% of the filesystem, whichever is larger.
    pub fn bytes(&self, total: u64) -> u64 {
        self.reserve.unwrap_or_else(|| MIN_RESERVE.max(total / 100))
    }

    /// Refuses ([`CoordinatorError::NoRoom`]) writing `more` bytes of `what` ("dataset
    /// x.txt") now if that would leave less free than the reserve. Where free space cannot
    /// be read (not Unix), nothing is refused.
    pub fn check(&self, what: &str, more: u64) -> Result<()> {
        let Some(space) = space(&self.dir)? else {
            return Ok(());
        };
        let reserve = self.bytes(space.total);
        if space.free.saturating_sub(more) >= reserve {
            return Ok(());
        }
        Err(CoordinatorError::NoRoom(format!(
            "{what} refused: the state dir's filesystem ({}) has {} free, and {} more would \
             leave less than the reserve of {} ({reserve} bytes) kept for the database \
             (--disk-reserve); free space there or retry later",
            self.dir.display(),
            show(space.free),
            show(more),
            show(reserve),
        )))
    }
}

/// The space of the filesystem holding `dir`; `None` where it cannot be asked (not Unix).
pub fn space(dir: &Path) -> Result<Option<Space>> {
    #[cfg(unix)]
    {
        let s = rustix::fs::statvfs(dir).map_err(|e| CoordinatorError::Io {
            path: dir.to_path_buf(),
            source: e.into(),
        })?;
        Ok(Some(Space {
            free: s.f_bavail.saturating_mul(s.f_frsize),
            total: s.f_blocks.saturating_mul(s.f_frsize),
        }))
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(None)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn the_default_reserve_is_256_mib_or_one_percent() {
        let reserve = DiskReserve::new(Path::new("."), None);
        assert_eq!(reserve.bytes(10 << 30), MIN_RESERVE);
        assert_eq!(reserve.bytes(100 << 30), (100 << 30) / 100);
        assert_eq!(
            DiskReserve::new(Path::new("."), Some(5)).bytes(100 << 30),
            5
        );
    }

    #[test]
    fn a_write_that_would_cross_the_reserve_is_refused_naming_free_space_and_reserve() {
        let dir = tempfile::tempdir().unwrap();
        let free = space(dir.path()).unwrap().unwrap().free;
        // Some slack: other processes write to the same filesystem meanwhile.
        let reserve = DiskReserve::new(dir.path(), Some(free.saturating_sub(64 << 20)));
        assert!(reserve.check("dataset a.txt", 1 << 20).is_ok());
        let err = reserve.check("dataset a.txt", 1 << 30).unwrap_err();
        assert!(matches!(err, CoordinatorError::NoRoom(_)), "{err}");
        let msg = err.to_string();
        assert!(
            msg.starts_with("dataset a.txt refused: the state dir's filesystem (")
                && msg.contains(" free, and 1.0 GiB more would leave less than the reserve of ")
                && msg.contains("(--disk-reserve)")
                && !msg.contains('\n'),
            "{msg}"
        );
        let status = tonic::Status::from(err);
        assert_eq!(status.code(), tonic::Code::ResourceExhausted);
    }
}
