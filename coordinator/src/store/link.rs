//! The writer's connection to the database, and what happens when the database fails
//! under it.
//!
//! A connection whose `BEGIN`, `COMMIT` or `ROLLBACK` failed is never used again: on
//! SQLite a failed commit (a full disk) can leave the transaction open, and sqlx's count
//! of open transactions then turns the next batch's `BEGIN` into a savepoint and its
//! `COMMIT` into a release: every later batch was answered as committed while nothing
//! reached the file (the WAL's mtime froze, and the connection held the write lock for
//! good). On PostgreSQL a restart breaks the connection for good ("Broken pipe"). So the
//! writer closes such a connection (which rolls back whatever it held) and takes a new
//! one from the pool, after a backoff that grows with failures in a row; batches that come
//! while it waits are refused at once with the last failure, and the first batch after it
//! tries again. A commit that succeeds resets the backoff and the health verdict.

use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};

use super::health::{Health, backoff};

/// Longest wait for a new connection: a database that does not answer within it is down
/// for this batch, and the next batch tries again.
const CONNECT: Duration = Duration::from_secs(5);

/// Longest wait for a failed connection to close before it is dropped as it is.
const CLOSE: Duration = Duration::from_secs(2);

/// The writer's connection, replaced after failures.
#[derive(Debug)]
pub(super) struct Link {
    pool: AnyPool,
    conn: Option<PoolConnection<Any>>,
    /// Failures in a row since the last commit.
    failures: u32,
    /// No new connection is tried before this.
    retry_at: Instant,
    /// The latest failure, for batches refused while waiting.
    last_error: String,
    /// The verdict the writer keeps.
    pub(super) health: Health,
}

impl Link {
    /// A link over `pool`; connects on first use.
    pub(super) fn new(pool: AnyPool, health: Health) -> Self {
        Self {
            pool,
            conn: None,
            failures: 0,
            retry_at: Instant::now(),
            last_error: String::new(),
            health,
        }
    }

    /// The connection, a new one if the last failed; the reason when none can be had now
    /// (still backing off, or the database did not answer).
    pub(super) async fn conn(&mut self) -> Result<&mut AnyConnection, String> {
        if self.conn.is_none() {
            if Instant::now() < self.retry_at {
                return Err(self.last_error.clone());
            }
            let got = match tokio::time::timeout(CONNECT, self.pool.acquire()).await {
                Ok(Ok(conn)) => Ok(conn),
                Ok(Err(e)) => Err(format!("cannot connect to the database: {e}")),
                Err(_) => Err(format!(
                    "the database did not take a connection within {CONNECT:?}"
                )),
            };
            match got {
                Ok(conn) => self.conn = Some(conn),
                Err(why) => {
                    self.failed(why.clone()).await;
                    return Err(why);
                }
            }
        }
        Ok(self.conn.as_deref_mut().expect("connected above"))
    }

    /// The database failed under the connection: close it, back off, note the failure.
    pub(super) async fn failed(&mut self, why: String) {
        if let Some(conn) = self.conn.take() {
            // Closing rolls back whatever the connection still held open.
            let _ = tokio::time::timeout(CLOSE, conn.close()).await;
        }
        self.failures = self.failures.saturating_add(1);
        self.retry_at = Instant::now() + backoff(self.failures);
        self.health.refused(&why);
        self.last_error = why;
    }

    /// A batch was abandoned for a fault of ours, not the database's (a write panicked):
    /// close the connection, rolling back what it held open; the next batch takes a new
    /// one at once, and the store's health is unchanged.
    pub(super) async fn discard(&mut self) {
        if let Some(conn) = self.conn.take() {
            let _ = tokio::time::timeout(CLOSE, conn.close()).await;
        }
    }

    /// A batch committed: no backoff, writable.
    pub(super) fn committed(&mut self) {
        self.failures = 0;
        self.health.committed();
    }

    /// A batch was refused without a connection to blame (still backing off).
    pub(super) fn refused(&mut self, why: &str) {
        self.health.refused(why);
    }

    /// Closes the connection (the writer is closing): taken out of the pool and closed
    /// here, awaited, before the writer answers. Dropped instead, it would go back through a
    /// task on the writer thread's own runtime, which ends with the writer: the pool's
    /// close could then finish first and the process exit with the connection still open,
    /// so that no close was the database's last and SQLite's WAL was left un-checkpointed.
    pub(super) async fn release(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        if let Err(e) = conn.detach().close().await {
            tracing::warn!("closing the writer's database connection: {e}");
        }
    }
}
