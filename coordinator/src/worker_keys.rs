//! Which worker is calling. The worker token opens the Workers service to any worker of
//! this coordinator, and lease ids are plain attempt numbers, so on their own they let one
//! token holder report, finish or disable for another worker. At registration each worker
//! gets a key of its own (256 random bits from the thread's CSPRNG, hex); only its sha256
//! is stored (`workers.key_sha256`), and kept here in memory for every call to check:
//! loaded when the coordinator opens, so workers keep their keys through a restart. Every
//! Workers call but Register names its worker and key in the `gptsweep-worker` header
//! ([`gptsweep_proto::worker_key`]); [`WorkerKeys::authenticate`] answers the worker, and
//! the service then refuses what is not that worker's.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use rand::Rng;
use sha2::{Digest, Sha256};
use sqlx::AnyPool;

use gptsweep_api::WorkerId;
use gptsweep_proto::worker_key::{self, WORKER_HEADER};

use crate::access::constant_time_eq;
use crate::error::{CoordinatorError, Result};
use crate::store::reads;

/// A key made for a worker being registered: the secret it is sent, and the sha256 that
/// is stored.
#[derive(Clone)]
pub struct MintedKey {
    /// The secret, 64 hex digits: answered once, in the worker's `RegisterReply`.
    pub secret: String,
    /// Its sha256, hex: what the store keeps.
    pub sha256: String,
}

impl MintedKey {
    /// A fresh key.
    pub fn new() -> Self {
        let secret = hex::encode(rand::rng().random::<[u8; 32]>());
        let sha256 = hex::encode(Sha256::digest(secret.as_bytes()));
        Self { secret, sha256 }
    }
}

impl Default for MintedKey {
    fn default() -> Self {
        Self::new()
    }
}

/// The sha256 of every registered worker's key, by worker.
#[derive(Debug, Default)]
pub struct WorkerKeys {
    digests: RwLock<HashMap<i64, [u8; 32]>>,
}

impl WorkerKeys {
    /// The keys of every worker the store holds (those registered before keys existed
    /// have none, and must register again).
    pub async fn load(pool: &AnyPool) -> Result<Self> {
        let keys = Self::default();
        for (worker, sha256) in reads::worker_keys(pool).await? {
            keys.insert(worker, &sha256)?;
        }
        Ok(keys)
    }

    /// Notes `worker`'s key by its sha256 (hex), as stored.
    pub fn insert(&self, worker: WorkerId, sha256: &str) -> Result<()> {
        let digest = hex::decode(sha256)
            .ok()
            .and_then(|d| <[u8; 32]>::try_from(d).ok())
            .ok_or_else(|| {
                CoordinatorError::Store(sqlx::Error::Decode(
                    format!("column key_sha256 of worker {worker}: not a sha256 in hex").into(),
                ))
            })?;
        self.digests
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(worker.get(), digest);
        Ok(())
    }

    /// The worker whose id and key `metadata` carries; UNAUTHENTICATED, saying what to do,
    /// when the header is missing or malformed, or the key is not that worker's.
    pub fn authenticate(&self, metadata: &tonic::metadata::MetadataMap) -> Result<WorkerId> {
        let value = metadata.get(WORKER_HEADER).ok_or_else(|| {
            CoordinatorError::Unauthenticated(format!(
                "no {WORKER_HEADER} header: a worker registers first and sends `{WORKER_HEADER}: <worker_id>:<worker_key>` from Register's reply on every later call (workers of this gptsweep release do)"
            ))
        })?;
        let (id, key) = value
            .to_str()
            .ok()
            .and_then(worker_key::parse)
            .ok_or_else(|| {
                CoordinatorError::Unauthenticated(format!(
                    "the {WORKER_HEADER} header is not `<worker_id>:<worker_key>`; send the id and key Register answered"
                ))
            })?;
        let worker = WorkerId(id);
        let stored = self
            .digests
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
            .copied()
            .ok_or_else(|| {
                CoordinatorError::Unauthenticated(format!(
                    "worker {worker} has no key at this coordinator: register again"
                ))
            })?;
        let presented = Sha256::digest(key.as_bytes());
        if constant_time_eq(&presented, &stored) {
            Ok(worker)
        } else {
            Err(CoordinatorError::Unauthenticated(format!(
                "wrong key for worker {worker}: send the key Register answered for it, or register again"
            )))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::metadata::MetadataMap;

    fn carrying(value: Option<&str>) -> MetadataMap {
        let mut m = MetadataMap::new();
        if let Some(v) = value {
            m.insert(WORKER_HEADER, v.parse().unwrap());
        }
        m
    }

    #[test]
    fn a_minted_key_is_256_random_bits_stored_only_as_its_sha256() {
        let (a, b) = (MintedKey::new(), MintedKey::new());
        assert_eq!(a.secret.len(), 64);
        assert!(a.secret.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.sha256, a.secret);
        assert_eq!(a.sha256, hex::encode(Sha256::digest(a.secret.as_bytes())));
    }

    #[test]
    fn only_the_key_minted_for_a_worker_authenticates_it() {
        let keys = WorkerKeys::default();
        let (a, b) = (MintedKey::new(), MintedKey::new());
        keys.insert(WorkerId(1), &a.sha256).unwrap();
        keys.insert(WorkerId(2), &b.sha256).unwrap();
        let header = |id: i64, key: &str| carrying(Some(&worker_key::header_value(id, key)));
        assert_eq!(
            keys.authenticate(&header(1, &a.secret)).unwrap(),
            WorkerId(1)
        );
        assert_eq!(
            keys.authenticate(&header(2, &b.secret)).unwrap(),
            WorkerId(2)
        );
        let refused = |m: MetadataMap| match keys.authenticate(&m) {
            Err(CoordinatorError::Unauthenticated(why)) => why,
            other => panic!("{other:?}"),
        };
        assert!(refused(header(1, &b.secret)).starts_with("wrong key for worker 1"));
        assert!(refused(header(2, &a.sha256)).starts_with("wrong key for worker 2"));
        assert!(refused(header(3, &a.secret)).contains("worker 3 has no key"));
        assert!(refused(carrying(None)).contains("registers first"));
        assert!(refused(carrying(Some("1"))).contains("is not `<worker_id>:<worker_key>`"));
        assert!(keys.insert(WorkerId(4), "not hex").is_err());
    }
}
