//! Marking a run shape warm in a kernel scope ([`crate::warm_shapes`]).

use sqlx::AnyConnection;

use super::Write;
use crate::clock::now_ms;
use crate::error::Result;

/// `shape` is warm in `scope`: `worker` trained it and uploaded its kernels. Marking it
/// again keeps the first mark.
#[derive(Debug, Clone)]
pub struct MarkShapeWarm {
    /// The kernel scope.
    pub scope: String,
    /// The shape ([`gptsweep_core::shape_key`]).
    pub shape: String,
    /// The worker that warmed it.
    pub worker: i64,
}

impl Write for MarkShapeWarm {
    type Output = ();

    async fn apply(self, c: &mut AnyConnection) -> Result<()> {
        sqlx::query(
            "INSERT INTO warm_shapes (scope, shape, worker_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (scope, shape) DO NOTHING",
        )
        .bind(&self.scope)
        .bind(&self.shape)
        .bind(self.worker)
        .bind(now_ms())
        .execute(&mut *c)
        .await?;
        Ok(())
    }
}
