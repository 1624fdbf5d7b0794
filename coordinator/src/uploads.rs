//! What uploads (datasets from clients, checkpoints from workers) may take of the
//! coordinator, so that a few large ones cannot exhaust its memory or its disk:
//!
//! - **Memory**: an upload is written to a staged file chunk by chunk as it arrives
//!   ([`crate::blobs::StagedBlob`]), hashed and checked on the way; it holds the chunk in
//!   hand (at most [`MAX_CHUNK`]; gptsweep's CLI and workers send 1 MiB), the message
//!   tonic is decoding next, and the HTTP/2 window of bytes received but not yet read
//!   ([`H2_STREAM_WINDOW`]): [`UPLOAD_MEMORY`] in all, whatever its size. A checkpoint
//!   holds its metadata too until it is checked (KiBs; the format's limit is 64 MiB).
//! - **Slots**: [`DATASET_SLOTS`] dataset uploads run at once and more wait for a slot:
//!   they come from people's CLIs, few, and a waiting stream holds no more than its window.
//!   [`CHECKPOINT_SLOTS`] checkpoint uploads run at once and more are refused at once
//!   (`RESOURCE_EXHAUSTED`): they come from a fleet of workers, which retry with backoff
//!   and keep their runs (the refusal renews the lease), while a thousand waiting streams
//!   would hold a thousand windows.
//! - **Disk**: the free-space reserve ([`crate::disk_space`]), checked before an upload
//!   and before each chunk is written.
//! - **Quota**: uploaded datasets that no sweep uses yet (between an upload and its
//!   submit, or left by a client that never submitted) may total at most
//!   [`UploadLimits::dataset_quota`] bytes, uploads under way included; they are
//!   collected [`UploadLimits::unused_dataset_grace`] after their upload
//!   ([`crate::collect`]), while the coordinator runs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, Semaphore, SemaphorePermit};

use crate::byte_size::show;
use crate::disk_space::DiskReserve;
use crate::error::{CoordinatorError, Result};

/// The largest chunk (message) of an upload taken; a larger one refuses the upload.
pub const MAX_CHUNK: usize = 4 << 20;

/// Bytes a client may send on one stream before the coordinator reads them: hyper's
/// default HTTP/2 stream window, which tonic keeps.
pub const H2_STREAM_WINDOW: usize = 1 << 20;

/// The most memory one upload holds, whatever its size: the chunk being written, the next
/// one being decoded, and the window.
pub const UPLOAD_MEMORY: usize = 2 * MAX_CHUNK + H2_STREAM_WINDOW;

/// Dataset uploads received at once; more wait for a slot.
pub const DATASET_SLOTS: usize = 4;

/// Checkpoint uploads received at once; more are refused with `RESOURCE_EXHAUSTED`.
pub const CHECKPOINT_SLOTS: usize = 8;

/// Bytes of uploaded datasets no sweep uses that are held by default: eight of the
/// largest datasets (512 MiB).
pub const DEFAULT_DATASET_QUOTA: u64 = 4 << 30;

/// How long an uploaded dataset that no sweep uses is kept by default: a client between
/// its upload and its submit keeps its corpus.
pub const DEFAULT_UNUSED_DATASET_GRACE: Duration = Duration::from_secs(600);

/// The settings of uploads (`gptsweep coordinator --dataset-quota --disk-reserve
/// --unused-dataset-grace`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadLimits {
    /// Bytes of uploaded datasets no sweep uses, uploads under way included.
    pub dataset_quota: u64,
    /// Free space blobs must leave on the state directory's filesystem, bytes; `None`:
    /// the default ([`crate::disk_space`]).
    pub disk_reserve: Option<u64>,
    /// How long an uploaded dataset no sweep uses is kept.
    pub unused_dataset_grace: Duration,
    /// Bytes the fleet's kernel cache keeps ([`crate::kernels`]; `--kernel-cache-size`).
    pub kernel_cache: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        Self {
            dataset_quota: DEFAULT_DATASET_QUOTA,
            disk_reserve: None,
            unused_dataset_grace: DEFAULT_UNUSED_DATASET_GRACE,
            kernel_cache: crate::kernels::DEFAULT_KERNEL_CACHE,
        }
    }
}

impl UploadLimits {
    /// How often unused datasets are looked for while serving: half the grace, between
    /// 100 ms and a minute.
    pub fn collect_every(&self) -> Duration {
        (self.unused_dataset_grace / 2).clamp(Duration::from_millis(100), Duration::from_secs(60))
    }
}

/// The uploads of one coordinator: its limits, slots and the bytes under way.
#[derive(Debug)]
pub struct Uploads {
    /// The settings.
    pub limits: UploadLimits,
    /// The free-space reserve of the state directory.
    pub reserve: DiskReserve,
    dataset_slots: Semaphore,
    checkpoint_slots: Semaphore,
    /// Bytes of dataset uploads under way, counted against the quota.
    in_flight: AtomicU64,
    /// Held by a dataset upload from its blob's rename to its row, and by the collection
    /// of unused datasets while serving: a blob is never removed between the two, and a
    /// row never names a blob removed under it.
    pub commit_lock: Mutex<()>,
}

/// Bytes of one dataset upload counted as under way, until dropped.
#[derive(Debug)]
pub struct InFlight<'a> {
    uploads: &'a Uploads,
    bytes: u64,
}

impl Uploads {
    /// The uploads of a coordinator whose state directory is `state_dir`.
    pub fn new(state_dir: &std::path::Path, limits: UploadLimits) -> Self {
        Self {
            reserve: DiskReserve::new(state_dir, limits.disk_reserve),
            limits,
            dataset_slots: Semaphore::new(DATASET_SLOTS),
            checkpoint_slots: Semaphore::new(CHECKPOINT_SLOTS),
            in_flight: AtomicU64::new(0),
            commit_lock: Mutex::new(()),
        }
    }

    /// A slot for a dataset upload, once one is free.
    pub async fn dataset_slot(&self) -> SemaphorePermit<'_> {
        self.dataset_slots
            .acquire()
            .await
            .expect("the slots are never closed")
    }

    /// A slot for a checkpoint upload; refused at once when all are taken.
    pub fn checkpoint_slot(&self) -> Result<SemaphorePermit<'_>> {
        self.checkpoint_slots.try_acquire().map_err(|_| {
            CoordinatorError::NoRoom(format!(
                "checkpoint refused for now: all {CHECKPOINT_SLOTS} checkpoint upload slots \
                 are taken; retry later"
            ))
        })
    }

    /// Nothing counted yet for a dataset upload.
    pub fn in_flight(&self) -> InFlight<'_> {
        InFlight {
            uploads: self,
            bytes: 0,
        }
    }

    /// Refuses (`NoRoom`) `more` bytes of dataset `name` when the `unused` bytes of
    /// uploaded datasets no sweep uses, with every upload under way, would pass the quota.
    pub fn check_quota(&self, name: &str, unused: u64, more: u64) -> Result<()> {
        let total = unused
            .saturating_add(self.in_flight.load(Ordering::Relaxed))
            .saturating_add(more);
        self.within_quota(name, total)
    }

    /// Refuses (`NoRoom`) dataset `name` if uploaded datasets no sweep uses would total
    /// `total` bytes.
    pub fn within_quota(&self, name: &str, total: u64) -> Result<()> {
        let quota = self.limits.dataset_quota;
        if total <= quota {
            return Ok(());
        }
        Err(CoordinatorError::NoRoom(format!(
            "dataset {name} refused: uploaded datasets no sweep uses yet would total {} \
             ({total} bytes), over the quota of {} ({quota} bytes, --dataset-quota); submit \
             the sweeps of earlier uploads, or retry once unused ones are collected (after {} s)",
            show(total),
            show(quota),
            self.limits.unused_dataset_grace.as_secs()
        )))
    }
}

impl InFlight<'_> {
    /// Counts `more` bytes of dataset `name` as under way; refused (`NoRoom`, and not
    /// counted) when that would pass the quota with the `unused` bytes stored.
    pub fn add(&mut self, name: &str, unused: u64, more: u64) -> Result<()> {
        let before = self.uploads.in_flight.fetch_add(more, Ordering::Relaxed);
        let total = unused.saturating_add(before).saturating_add(more);
        if let Err(e) = self.uploads.within_quota(name, total) {
            self.uploads.in_flight.fetch_sub(more, Ordering::Relaxed);
            return Err(e);
        }
        self.bytes += more;
        Ok(())
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.uploads
            .in_flight
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploads(quota: u64) -> Uploads {
        Uploads::new(
            std::path::Path::new("."),
            UploadLimits {
                dataset_quota: quota,
                ..UploadLimits::default()
            },
        )
    }

    #[test]
    fn uploads_under_way_count_against_the_quota_until_dropped() {
        let u = uploads(100);
        let mut a = u.in_flight();
        a.add("a.txt", 30, 50).unwrap();
        let mut b = u.in_flight();
        let err = b.add("b.txt", 30, 21).unwrap_err().to_string();
        assert_eq!(
            err,
            "dataset b.txt refused: uploaded datasets no sweep uses yet would total 101 B \
             (101 bytes), over the quota of 100 B (100 bytes, --dataset-quota); submit the \
             sweeps of earlier uploads, or retry once unused ones are collected (after 600 s)"
        );
        b.add("b.txt", 30, 20).unwrap();
        assert!(u.check_quota("c.txt", 30, 1).is_err());
        drop(a);
        drop(b);
        assert!(u.check_quota("c.txt", 30, 70).is_ok());
        assert_eq!(u.in_flight.load(Ordering::Relaxed), 0);
    }

    #[test]
    fn checkpoint_slots_are_refused_at_once_when_all_are_taken() {
        let u = uploads(0);
        let held: Vec<_> = (0..CHECKPOINT_SLOTS)
            .map(|_| u.checkpoint_slot().unwrap())
            .collect();
        let err = u.checkpoint_slot().unwrap_err();
        assert!(matches!(err, CoordinatorError::NoRoom(_)), "{err}");
        assert_eq!(held.len(), 8);
        drop(held);
        assert!(u.checkpoint_slot().is_ok());
    }

    #[test]
    fn unused_datasets_are_looked_for_every_half_grace_within_bounds() {
        let every = |secs: f64| {
            UploadLimits {
                unused_dataset_grace: Duration::from_secs_f64(secs),
                ..UploadLimits::default()
            }
            .collect_every()
        };
        assert_eq!(every(600.0), Duration::from_secs(60));
        assert_eq!(every(2.0), Duration::from_secs(1));
        assert_eq!(every(0.0), Duration::from_millis(100));
    }
}
