//! A worker's identity on the wire. The shared worker token says only "a worker of this
//! coordinator", and lease ids are plain attempt numbers: on their own they let any holder
//! of the token report for a run another worker holds. So Register hands each worker a
//! key of its own, and every later Workers call carries `gptsweep-worker: <worker_id>:<key>`
//! ([`WORKER_HEADER`]), by which the coordinator knows the caller and refuses calls about
//! leases that are not its own. A worker's clients find the header in a [`WorkerSlot`],
//! filled once it has registered and shared by every clone of its client.

use std::sync::{Arc, PoisonError, RwLock};

use tonic::metadata::{Ascii, MetadataValue};

/// Metadata header that carries the calling worker's id and key.
pub const WORKER_HEADER: &str = "gptsweep-worker";

/// The [`WORKER_HEADER`] value for `worker_id` and its `key`: `<worker_id>:<key>`.
pub fn header_value(worker_id: i64, key: &str) -> String {
    format!("{worker_id}:{key}")
}

/// The worker id and key of a [`WORKER_HEADER`] value; `None` unless it is
/// `<worker_id>:<key>` with a numeric id and a non-empty key.
pub fn parse(value: &str) -> Option<(i64, &str)> {
    let (id, key) = value.split_once(':')?;
    let id = id.parse().ok()?;
    (!key.is_empty()).then_some((id, key))
}

/// Where a worker keeps the [`WORKER_HEADER`] value its calls carry: empty until it has
/// registered. Clones share it, so a worker sets it once (again after registering anew)
/// for every clone of its client.
#[derive(Clone, Default)]
pub struct WorkerSlot(Arc<RwLock<Option<MetadataValue<Ascii>>>>);

impl WorkerSlot {
    /// Makes every later call carry `worker_id` and its `key`; an error when the key is
    /// not printable ASCII.
    pub fn set(&self, worker_id: i64, key: &str) -> Result<(), String> {
        let value = header_value(worker_id, key).parse().map_err(|_| {
            format!("the key Register answered for worker {worker_id} is not printable ASCII")
        })?;
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Some(value);
        Ok(())
    }

    /// The header value, once set.
    pub fn header(&self) -> Option<MetadataValue<Ascii>> {
        self.0
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Says whether the slot is set, never the key.
impl std::fmt::Debug for WorkerSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = if self.header().is_some() {
            "set"
        } else {
            "empty"
        };
        write!(f, "WorkerSlot({set})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_header_value_is_the_worker_id_and_key_and_nothing_else() {
        assert_eq!(parse(&header_value(7, "abc")), Some((7, "abc")));
        assert_eq!(parse("7:a:b"), Some((7, "a:b")));
        for bad in ["", "7", "7:", ":abc", "x:abc", "7 :abc"] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn every_clone_of_a_slot_sees_the_key_set_once() {
        let slot = WorkerSlot::default();
        let clone = slot.clone();
        assert!(clone.header().is_none());
        slot.set(3, "k3").unwrap();
        assert_eq!(clone.header().unwrap(), "3:k3");
        assert_eq!(format!("{clone:?}"), "WorkerSlot(set)");
        assert!(slot.set(3, "bad\nkey").is_err());
    }
}
