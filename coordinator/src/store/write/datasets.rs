//! Recording a stored corpus (its bytes live in the blob folder; the row names them).

use sqlx::SqliteConnection;

use super::Write;
use crate::clock::now_ms;
use crate::error::Result;

/// Records a dataset; idempotent by sha256.
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

    async fn apply(self, c: &mut SqliteConnection) -> Result<()> {
        sqlx::query("INSERT INTO datasets (sha256, name, bytes, builtin, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(sha256) DO NOTHING")
            .bind(&self.sha256)
            .bind(&self.name)
            .bind(self.bytes as i64)
            .bind(self.builtin)
            .bind(now_ms())
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}
