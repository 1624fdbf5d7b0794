//! Reading the fleet's kernel cache ([`crate::kernels`]): the records of a scope stored
//! after a worker's last look, a page at a time and in the order they were stored, and
//! what each scope holds for `gptsweep kernels`.

use sqlx::AnyPool;

use crate::error::Result;

/// One stored record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// Its place in the order records were stored.
    pub seq: i64,
    /// The cache file it belongs to.
    pub file: String,
    /// The record.
    pub data: Vec<u8>,
}

/// What one scope holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeSummary {
    /// The scope.
    pub scope: String,
    /// Records.
    pub records: i64,
    /// Their bytes.
    pub bytes: i64,
    /// When its newest record was stored (ms).
    pub last_stored_ms: i64,
    /// Workers that stored its records.
    pub workers: i64,
}

/// At most `limit` records of `scope` stored after `after_seq`, oldest first.
pub async fn records_after(
    pool: &AnyPool,
    scope: &str,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<StoredRecord>> {
    let rows: Vec<(i64, String, Vec<u8>)> = sqlx::query_as(
        "SELECT seq, file, data FROM kernel_records WHERE scope = $1 AND seq > $2 ORDER BY seq LIMIT $3",
    )
    .bind(scope)
    .bind(after_seq)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(seq, file, data)| StoredRecord { seq, file, data })
        .collect())
}

/// Every scope, the most recently stored first.
pub async fn scopes(pool: &AnyPool) -> Result<Vec<ScopeSummary>> {
    let rows: Vec<(String, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT scope, COUNT(*) AS records, CAST(SUM(bytes) AS BIGINT) AS bytes, MAX(created_at) AS last_stored_ms,
                COUNT(DISTINCT worker_id) AS workers
           FROM kernel_records GROUP BY scope ORDER BY MAX(created_at) DESC, scope",
    )
    .fetch_all(pool)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(scope, records, bytes, last_stored_ms, workers)| ScopeSummary {
                scope,
                records,
                bytes,
                last_stored_ms,
                workers,
            },
        )
        .collect())
}
