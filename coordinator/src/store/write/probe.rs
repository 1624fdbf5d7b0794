//! The health probe: one small real write, so that the writer's verdict on whether the
//! store takes writes ([`crate::store::Writable`]) is fresh even while nothing else is
//! written (SQLite commits a transaction that only read without touching the disk, so
//! the reaper's reads alone would not notice a full disk).

use sqlx::AnyConnection;

use super::Write;
use crate::clock::now_ms;
use crate::error::Result;

/// Notes the time of the probe in the store's identity row.
#[derive(Debug, Clone, Copy)]
pub struct Probe;

impl Write for Probe {
    type Output = ();

    async fn apply(self, c: &mut AnyConnection) -> Result<()> {
        sqlx::query("UPDATE store_identity SET probed_at = $1")
            .bind(now_ms())
            .execute(&mut *c)
            .await?;
        Ok(())
    }
}
