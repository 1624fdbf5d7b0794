//! Which database holds the store, and opening it: a SQLite file in the state directory
//! (the default: WAL, NORMAL sync, foreign keys on) or a PostgreSQL server given by URL.
//! Both are reached through sqlx's `Any` driver, so every query in the store is written
//! once, in the SQL the two share (`$1` placeholders, no JSON functions, no two-argument
//! `MAX`); each backend has its own migrations folder, because their DDL differs.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyConnection, AnyPool, Connection, Executor};

use super::migrations::{POSTGRES, SQLITE};
use crate::error::{CoordinatorError, Result};

/// The file name of the SQLite database inside the state directory.
pub const SQLITE_FILE: &str = "gptsweep.db";

/// Where the store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A SQLite file (created if missing).
    Sqlite(PathBuf),
    /// A PostgreSQL server: a `postgres://` or `postgresql://` URL.
    Postgres(String),
}

impl Database {
    /// The SQLite file of a state directory.
    pub fn in_state_dir(state_dir: &Path) -> Self {
        Database::Sqlite(state_dir.join(SQLITE_FILE))
    }

    /// Parses `--database`: a `postgres://` / `postgresql://` URL, a `sqlite://PATH` URL,
    /// or a plain path to a SQLite file. The error says what is accepted.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(Database::Postgres(text.to_string()));
        }
        if let Some(path) = text.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err("sqlite:// needs a file path (sqlite:///var/lib/gptsweep.db)".into());
            }
            return Ok(Database::Sqlite(PathBuf::from(path)));
        }
        if text.contains("://") {
            return Err(format!(
                "{text:?} is neither postgres://USER@HOST:PORT/DB nor a SQLite file path"
            ));
        }
        if text.is_empty() {
            return Err("empty database; give postgres://... or a SQLite file path".into());
        }
        Ok(Database::Sqlite(PathBuf::from(text)))
    }

    /// The backend's name, for logs and benchmarks.
    pub fn backend(&self) -> &'static str {
        match self {
            Database::Sqlite(_) => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }
}

/// Shown without a PostgreSQL URL's password.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Database::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Database::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// `postgres://user:secret@host/db` as `postgres://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((userinfo, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match userinfo.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None => url.to_string(),
    }
}

/// Per-connection settings of a SQLite file: WAL lets reads run beside the one writer;
/// NORMAL sync is durable at each WAL checkpoint and safe against corruption; foreign keys
/// are off by default in SQLite; the busy timeout covers a checkpoint holding the file.
const SQLITE_PRAGMAS: &str = "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
     PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000;";

/// Per-connection settings on PostgreSQL: no JIT compilation. The store's statements are
/// short, but the planner's estimate for some (the lease's check for a tpe sweep to grow
/// counts a sweep's runs in a subquery) passes `jit_above_cost`, and the server then spent
/// 9 ms compiling a statement that runs in 0.1 ms, on every lease: 45 leases/s under a
/// fleet (BENCHMARKS.md). JIT pays for long analytic queries, which the store has none of.
const POSTGRES_SETTINGS: &str = "SET jit = off";

/// Opens (a SQLite file is created if missing) the database and applies pending
/// migrations. A PostgreSQL server that cannot be reached is an error naming it.
pub async fn open_pool(db: &Database) -> Result<AnyPool> {
    install_default_drivers();
    let (url, migrator) = match db {
        Database::Sqlite(path) => (format!("sqlite://{}?mode=rwc", path.display()), &*SQLITE),
        Database::Postgres(url) => (url.clone(), &*POSTGRES),
    };
    let sqlite = matches!(db, Database::Sqlite(_));
    let pool = AnyPoolOptions::new()
        .max_connections(if sqlite { 8 } else { 16 })
        // A read waits this long for a connection when the database is down, then fails
        // (UNAVAILABLE: retry) instead of holding the caller for as long as the outage.
        .acquire_timeout(Duration::from_secs(5))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(if sqlite {
                    SQLITE_PRAGMAS
                } else {
                    POSTGRES_SETTINGS
                })
                .await?;
                Ok(())
            })
        })
        .connect(&url)
        .await
        .map_err(|e| match db {
            Database::Postgres(_) => {
                CoordinatorError::Storage(format!("cannot connect to the database {db}: {e}"))
            }
            Database::Sqlite(_) => CoordinatorError::Store(e),
        })?;
    migrator.run(&pool).await?;
    Ok(pool)
}

/// The key of the PostgreSQL advisory lock a coordinator holds on its database ("gsw1").
const ADVISORY_KEY: i64 = 0x6773_7731;

/// One coordinator per PostgreSQL database, as one per state directory: a session-level
/// advisory lock held on a connection of its own for the coordinator's life. The server
/// releases it when that connection ends, a `kill -9` of the coordinator included. SQLite
/// needs none (the state directory's lock covers its file).
pub struct DatabaseLock {
    conn: tokio::sync::Mutex<Option<AnyConnection>>,
}

impl fmt::Debug for DatabaseLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DatabaseLock")
    }
}

impl DatabaseLock {
    /// Takes the lock of `db`, or [`CoordinatorError::DatabaseLocked`] when another
    /// coordinator holds it.
    pub async fn acquire(db: &Database) -> Result<Self> {
        let Database::Postgres(url) = db else {
            return Ok(Self {
                conn: tokio::sync::Mutex::new(None),
            });
        };
        install_default_drivers();
        let mut conn = AnyConnection::connect(url).await.map_err(|e| {
            CoordinatorError::Storage(format!("cannot connect to the database {db}: {e}"))
        })?;
        // A holder that just ended (its connection closed) is released by the server a
        // moment later: ask for a short while before refusing.
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        loop {
            let got: i64 =
                sqlx::query_scalar("SELECT CASE WHEN pg_try_advisory_lock($1) THEN 1 ELSE 0 END")
                    .bind(ADVISORY_KEY)
                    .fetch_one(&mut conn)
                    .await?;
            if got == 1 {
                return Ok(Self {
                    conn: tokio::sync::Mutex::new(Some(conn)),
                });
            }
            if std::time::Instant::now() >= deadline {
                return Err(CoordinatorError::DatabaseLocked(db.to_string()));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Releases the lock now (the coordinator closed); idempotent.
    pub async fn release(&self) {
        if let Some(mut conn) = self.conn.lock().await.take() {
            let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(ADVISORY_KEY)
                .execute(&mut conn)
                .await;
            let _ = conn.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_flags_parse_to_their_backend() {
        assert_eq!(
            Database::parse("postgres://u@h:5432/d").unwrap(),
            Database::Postgres("postgres://u@h:5432/d".into())
        );
        assert_eq!(
            Database::parse("postgresql://h/d").unwrap().backend(),
            "postgres"
        );
        assert_eq!(
            Database::parse("sqlite:///tmp/x.db").unwrap(),
            Database::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Database::parse("state/x.db").unwrap(),
            Database::Sqlite("state/x.db".into())
        );
        assert!(
            Database::parse("mysql://h/d")
                .unwrap_err()
                .contains("mysql://h/d")
        );
        assert!(Database::parse("").is_err());
        assert!(Database::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_not_shown() {
        let db = Database::parse("postgres://gs:hunter2@db:5432/gptsweep").unwrap();
        assert_eq!(db.to_string(), "postgres://gs:***@db:5432/gptsweep");
        assert!(!format!("{db:?}").contains("hunter2"));
        assert_eq!(
            Database::parse("postgres://gs@db/x").unwrap().to_string(),
            "postgres://gs@db/x"
        );
    }
}
