//! Recording a stored corpus (its bytes live in the blob folder; the row names them), and
//! forgetting uploaded ones no sweep uses (a refused submit, a client gone before it
//! submitted). A row's `created_at` is when the corpus was last uploaded.

use sqlx::AnyConnection;

use super::Write;
use crate::clock::now_ms;
use crate::error::Result;

/// Records a dataset; idempotent by sha256 (an upload again refreshes `created_at`).
#[derive(Debug, Clone)]
pub struct InsertDataset {
    /// Content address.
    pub sha256: String,
    /// File name (or the built-in's name).
    pub name: String,
    /// Size.
    pub bytes: u64,
    /// Compiled into every binary.
    pub builtin: bool,
}

impl Write for InsertDataset {
    type Output = ();

    async fn apply(self, c: &mut AnyConnection) -> Result<()> {
        sqlx::query("INSERT INTO datasets (sha256, name, bytes, builtin, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT(sha256) DO UPDATE SET created_at = excluded.created_at")
            .bind(&self.sha256)
            .bind(&self.name)
            .bind(self.bytes as i64)
            .bind(self.builtin as i64)
            .bind(now_ms())
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}

/// Forgets uploaded (not built-in) datasets that no sweep uses and that were last uploaded
/// before `uploaded_before` (ms); answers their sha256s, whose blobs may then be removed.
/// With `only` it looks at that one dataset (a refused submit's), else at all.
#[derive(Debug, Clone)]
pub struct ForgetUnusedDatasets {
    /// One dataset, or every one.
    pub only: Option<String>,
    /// Uploads at or after this time are kept: a submit may be on its way.
    pub uploaded_before: i64,
}

impl Write for ForgetUnusedDatasets {
    type Output = Vec<String>;

    async fn apply(self, c: &mut AnyConnection) -> Result<Vec<String>> {
        let forgotten = sqlx::query_scalar(
            "DELETE FROM datasets WHERE builtin = 0 AND created_at < $1 AND ($2 IS NULL OR sha256 = $3)
               AND NOT EXISTS (SELECT 1 FROM sweeps WHERE sweeps.dataset_sha256 = datasets.sha256)
             RETURNING sha256",
        )
        .bind(self.uploaded_before)
        .bind(&self.only)
        .bind(&self.only)
        .fetch_all(&mut *c)
        .await?;
        Ok(forgotten)
    }
}
