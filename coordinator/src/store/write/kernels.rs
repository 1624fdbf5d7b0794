//! Storing records of the fleet's kernel cache ([`crate::kernels`]), each once by its
//! digest, and keeping the cache within its bound by removing the oldest records.

use sqlx::AnyConnection;

use super::Write;
use crate::clock::now_ms;
use crate::error::Result;

/// One record to store.
#[derive(Debug, Clone)]
pub struct NewRecord {
    /// [`gptsweep_api::kernel_entries::digest`] of file and data.
    pub digest: String,
    /// Its cache file.
    pub file: String,
    /// The record.
    pub data: Vec<u8>,
}

/// Stores records of one scope; answers how many were new and how many already stored.
/// Then, while the whole cache is past `limit_bytes`, the oldest records go (those just
/// stored last of all), and every shape is forgotten as warm ([`crate::warm_shapes`]).
#[derive(Debug, Clone)]
pub struct PutKernelRecords {
    /// Their scope.
    pub scope: String,
    /// The worker that compiled them.
    pub worker: i64,
    /// The records.
    pub records: Vec<NewRecord>,
    /// The cache's bound.
    pub limit_bytes: u64,
}

/// What [`PutKernelRecords`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutKernelsOutcome {
    /// Records new to the store.
    pub stored: u64,
    /// Records it held already.
    pub known: u64,
    /// Records removed to stay within the bound.
    pub collected: u64,
}

impl Write for PutKernelRecords {
    type Output = PutKernelsOutcome;

    async fn apply(self, c: &mut AnyConnection) -> Result<PutKernelsOutcome> {
        let mut outcome = PutKernelsOutcome::default();
        let now = now_ms();
        for r in &self.records {
            let done = sqlx::query(
                "INSERT INTO kernel_records (scope, digest, file, data, bytes, worker_id, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, digest) DO NOTHING",
            )
            .bind(&self.scope)
            .bind(&r.digest)
            .bind(&r.file)
            .bind(&r.data)
            .bind(r.data.len() as i64)
            .bind(self.worker)
            .bind(now)
            .execute(&mut *c)
            .await?;
            if done.rows_affected() > 0 {
                outcome.stored += 1;
            } else {
                outcome.known += 1;
            }
        }
        let total: Option<i64> =
            sqlx::query_scalar("SELECT CAST(SUM(bytes) AS BIGINT) FROM kernel_records")
                .fetch_one(&mut *c)
                .await?;
        let mut over = total.unwrap_or(0) - self.limit_bytes as i64;
        if over > 0 {
            // The oldest first, until what stays fits.
            let oldest: Vec<(i64, i64)> =
                sqlx::query_as("SELECT seq, bytes FROM kernel_records ORDER BY seq")
                    .fetch_all(&mut *c)
                    .await?;
            let mut last = None;
            for (seq, bytes) in oldest {
                if over <= 0 {
                    break;
                }
                over -= bytes;
                last = Some(seq);
                outcome.collected += 1;
            }
            if let Some(last) = last {
                sqlx::query("DELETE FROM kernel_records WHERE seq <= $1")
                    .bind(last)
                    .execute(&mut *c)
                    .await?;
                // A shape may have lost kernels with them: none is known warm any more
                // (workers warming ahead warm them again; records they still hold are
                // stored once).
                sqlx::query("DELETE FROM warm_shapes")
                    .execute(&mut *c)
                    .await?;
            }
        }
        Ok(outcome)
    }
}
