//! Which store a database and a state directory belong to, checked before either is
//! changed. A coordinator deletes blobs no row refers to when it opens (orphan collection):
//! given an empty database (a 0-byte `gptsweep.db`, `--database` naming a fresh PostgreSQL
//! database) beside a state directory full of checkpoints, every checkpoint was an orphan.
//! So each store has an id, written in the database (`store_identity`) and in the state
//! directory (`store-id`), and a coordinator starts only when the two agree:
//!
//! | database | state dir | verdict |
//! |---|---|---|
//! | empty | no id, no blobs | a new store: both get a new id |
//! | empty | an id or blobs | refused: the database was lost or is the wrong one |
//! | id A | id A | the same store |
//! | id A | id B | refused, naming both |
//! | id A | no id, no blobs | adopted (a start that ended between the two writes) |
//! | id A | no id, blobs | refused: blobs of an unknown store |
//! | gptsweep's, no id (older release) | no id | adopted: both get a new id |
//! | gptsweep's, no id | an id | refused |
//! | tables that are not gptsweep's | any | refused, naming some |
//!
//! A SQLite file is first opened on one connection and checked with `PRAGMA quick_check`,
//! so a file that is not a database, or a damaged one, is refused in one line within
//! seconds instead of a pool's retries.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rand::RngCore;
use sqlx::{AnyConnection, AnyPool, Connection};

use super::open::{Database, open_pool};
use crate::error::{CoordinatorError, Result};

/// The file in the state directory that names its store.
pub const ID_FILE: &str = "store-id";

/// The blob folders whose files belong to a store.
const BLOB_DIRS: [&str; 2] = ["datasets", "checkpoints"];

/// How long the first connection may take (a PostgreSQL server that does not answer).
const CONNECT: Duration = Duration::from_secs(10);

/// What a database holds, before migrations touch it.
#[derive(Debug, PartialEq, Eq)]
enum Held {
    /// No tables at all.
    Empty,
    /// gptsweep's tables, and the store's id once a release wrote one.
    Ours(Option<String>),
    /// Tables, none of them gptsweep's migrations table: some of their names.
    Foreign(Vec<String>),
}

/// Checks that `db` and `state_dir` are one store (the table above), then opens the pool,
/// applies migrations and gives both the store's id if they had none. Refused with
/// [`CoordinatorError::StoreMismatch`] (nothing changed) or
/// [`CoordinatorError::StoreDamaged`].
pub async fn open_checked(db: &Database, state_dir: &Path) -> Result<AnyPool> {
    let held = inspect(db).await?;
    let in_dir = read_id_file(state_dir)?;
    let blobs = count_blobs(state_dir);
    let id_path = state_dir.join(ID_FILE);
    let keep = match (&held, &in_dir) {
        (Held::Foreign(tables), _) => {
            return Err(CoordinatorError::StoreMismatch(format!(
                "database {db} holds tables that are not gptsweep's ({}); give a database of its own to gptsweep",
                tables.join(", ")
            )));
        }
        (Held::Empty, Some(id)) => {
            return Err(CoordinatorError::StoreMismatch(format!(
                "database {db} is empty, but state dir {} belongs to store {id} ({blobs} datasets and checkpoints): refusing to start, which would delete them; restore that store's database, or give another --state-dir",
                state_dir.display()
            )));
        }
        (Held::Empty, None) if blobs > 0 => {
            return Err(CoordinatorError::StoreMismatch(format!(
                "database {db} is empty, but state dir {} holds {blobs} datasets and checkpoints: refusing to start, which would delete them; restore the database they belong to, or give another --state-dir",
                state_dir.display()
            )));
        }
        (Held::Ours(Some(a)), Some(b)) if a != b => {
            return Err(CoordinatorError::StoreMismatch(format!(
                "database {db} is store {a} but state dir {} is store {b} ({}): they belong to different coordinators; give the matching --database or --state-dir",
                state_dir.display(),
                id_path.display()
            )));
        }
        (Held::Ours(Some(a)), None) if blobs > 0 => {
            return Err(CoordinatorError::StoreMismatch(format!(
                "database {db} is store {a} but state dir {} names no store ({} is missing) and holds {blobs} datasets and checkpoints: if they are that store's, write {a} into {}; else give another --state-dir",
                state_dir.display(),
                id_path.display(),
                id_path.display()
            )));
        }
        (Held::Ours(None), Some(b)) => {
            return Err(CoordinatorError::StoreMismatch(format!(
                "state dir {} is store {b} but database {db} names no store: give that store's --database",
                state_dir.display()
            )));
        }
        (Held::Ours(Some(a)), _) => Some(a.clone()),
        (Held::Empty | Held::Ours(None), None) => None,
    };
    let pool = open_pool(db).await?;
    let id = match keep {
        Some(id) => id,
        None => {
            let id = new_id();
            sqlx::query("INSERT INTO store_identity (id, created_at) VALUES ($1, $2)")
                .bind(&id)
                .bind(crate::clock::now_ms())
                .execute(&pool)
                .await?;
            tracing::info!(
                "new store {id}: {db} with state dir {}",
                state_dir.display()
            );
            id
        }
    };
    if in_dir.as_deref() != Some(id.as_str()) {
        write_id_file(&id_path, &id)?;
    }
    Ok(pool)
}

/// A new store id: 128 random bits, hex.
fn new_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// What `db` holds, on one connection of its own (a SQLite file checked with
/// `quick_check` first). A SQLite file that does not exist yet is empty.
async fn inspect(db: &Database) -> Result<Held> {
    sqlx::any::install_default_drivers();
    let url = match db {
        Database::Sqlite(path) => {
            match std::fs::metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Held::Empty),
                Err(source) => {
                    return Err(CoordinatorError::Io {
                        path: path.clone(),
                        source,
                    });
                }
                Ok(m) if !m.is_file() => {
                    return Err(CoordinatorError::StoreMismatch(format!(
                        "database {db} is not a regular file"
                    )));
                }
                Ok(m) if m.len() == 0 => return Ok(Held::Empty),
                Ok(_) => {}
            }
            format!("sqlite://{}?mode=rw", path.display())
        }
        Database::Postgres(url) => url.clone(),
    };
    let mut conn = match tokio::time::timeout(CONNECT, AnyConnection::connect(&url)).await {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return Err(unusable(db, &e)),
        Err(_) => {
            return Err(CoordinatorError::Storage(format!(
                "cannot connect to the database {db}: no answer within {CONNECT:?}"
            )));
        }
    };
    let held = match db {
        Database::Sqlite(path) => {
            quick_check(&mut conn, db, path).await?;
            tables(
                &mut conn,
                db,
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
            )
            .await?
        }
        Database::Postgres(_) => {
            tables(
                &mut conn,
                db,
                "SELECT CAST(table_name AS TEXT) FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY 1",
            )
            .await?
        }
    };
    let held = match held {
        names if names.is_empty() => Held::Empty,
        names if names.iter().any(|n| n == "_sqlx_migrations") => {
            if names.iter().any(|n| n == "store_identity") {
                let id: Option<String> =
                    sqlx::query_scalar("SELECT id FROM store_identity ORDER BY created_at LIMIT 1")
                        .fetch_optional(&mut conn)
                        .await
                        .map_err(|e| unusable(db, &e))?;
                Held::Ours(id)
            } else {
                Held::Ours(None)
            }
        }
        names => Held::Foreign(names.into_iter().take(5).collect()),
    };
    let _ = conn.close().await;
    Ok(held)
}

/// The names of the tables `sql` lists.
async fn tables(c: &mut AnyConnection, db: &Database, sql: &'static str) -> Result<Vec<String>> {
    sqlx::query_scalar(sql)
        .fetch_all(&mut *c)
        .await
        .map_err(|e| unusable(db, &e))
}

/// SQLite's own check of the file's structure: refused with its first complaint.
async fn quick_check(c: &mut AnyConnection, db: &Database, path: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let said: Vec<String> = sqlx::query_scalar("PRAGMA quick_check")
        .fetch_all(&mut *c)
        .await
        .map_err(|e| unusable(db, &e))?;
    if started.elapsed() > Duration::from_secs(1) {
        tracing::info!(
            "checked {} in {:.1} s",
            path.display(),
            started.elapsed().as_secs_f64()
        );
    }
    if said.first().map(String::as_str) == Some("ok") {
        return Ok(());
    }
    // Each row may hold several lines, the first naming the schema ("*** in database
    // main ***"): the problems are the other lines.
    let problems: Vec<&str> = said
        .iter()
        .flat_map(|row| row.lines())
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("***"))
        .collect();
    Err(CoordinatorError::StoreDamaged(format!(
        "database {db} is damaged (SQLite's quick_check: {}{}); restore it from a backup, or move it away to start a new store",
        problems.first().copied().unwrap_or("no answer"),
        match problems.len() {
            0 | 1 => String::new(),
            n => format!(", and {} more problems", n - 1),
        }
    )))
}

/// A database that cannot be opened or read, in one line: a file that is not SQLite, a
/// damaged one, a server that refuses us.
fn unusable(db: &Database, e: &sqlx::Error) -> CoordinatorError {
    let what = match e {
        sqlx::Error::Database(d) => d.message().to_string(),
        e => e.to_string(),
    };
    match db {
        Database::Sqlite(_) => CoordinatorError::StoreDamaged(format!(
            "database {db} cannot be used: {what}; restore it from a backup, or move it away to start a new store"
        )),
        Database::Postgres(_) => {
            CoordinatorError::Storage(format!("cannot use the database {db}: {what}"))
        }
    }
}

/// The id the state directory names, if any.
fn read_id_file(state_dir: &Path) -> Result<Option<String>> {
    let path = state_dir.join(ID_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let id = text.trim();
            if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(CoordinatorError::StoreMismatch(format!(
                    "{} does not hold a store id (32 hex digits): restore it, or remove it if this state dir has no blobs",
                    path.display()
                )));
            }
            Ok(Some(id.to_string()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(CoordinatorError::Io { path, source }),
    }
}

/// Writes the store id into the state directory, atomically.
fn write_id_file(path: &Path, id: &str) -> Result<()> {
    let io = |path: &Path| {
        let path: PathBuf = path.to_path_buf();
        move |source| CoordinatorError::Io { path, source }
    };
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, format!("{id}\n"))
        .and_then(|()| std::fs::File::open(&tmp)?.sync_all())
        .map_err(io(&tmp))?;
    std::fs::rename(&tmp, path).map_err(io(path))
}

/// Files in the state directory's blob folders (datasets and checkpoints), staged ones
/// aside.
fn count_blobs(state_dir: &Path) -> usize {
    BLOB_DIRS
        .iter()
        .filter_map(|d| std::fs::read_dir(state_dir.join(d)).ok())
        .flatten()
        .flatten()
        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn open(dir: &Path) -> Result<AnyPool> {
        open_checked(&Database::in_state_dir(dir), dir).await
    }

    #[tokio::test]
    async fn a_new_store_gets_one_id_in_both_places_and_opens_again() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).await.unwrap().close().await;
        let id = read_id_file(dir.path()).unwrap().unwrap();
        assert_eq!(id.len(), 32);
        open(dir.path()).await.unwrap().close().await;
        assert_eq!(read_id_file(dir.path()).unwrap().unwrap(), id);
    }

    #[tokio::test]
    async fn an_empty_database_beside_blobs_is_refused_and_nothing_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("checkpoints")).unwrap();
        std::fs::write(dir.path().join("checkpoints/ab.ckpt"), b"w").unwrap();
        std::fs::write(dir.path().join("gptsweep.db"), b"").unwrap();
        let err = open(dir.path()).await.unwrap_err().to_string();
        assert!(
            err.contains("is empty") && err.contains("1 datasets and checkpoints"),
            "{err}"
        );
        assert_eq!(
            std::fs::metadata(dir.path().join("gptsweep.db"))
                .unwrap()
                .len(),
            0
        );
        assert!(!dir.path().join(ID_FILE).exists());
    }

    #[tokio::test]
    async fn two_stores_ids_disagreeing_are_refused_naming_both() {
        let dir = tempfile::tempdir().unwrap();
        open(dir.path()).await.unwrap().close().await;
        let theirs = read_id_file(dir.path()).unwrap().unwrap();
        std::fs::write(
            dir.path().join(ID_FILE),
            "0123456789abcdef0123456789abcdef\n",
        )
        .unwrap();
        let err = open(dir.path()).await.unwrap_err().to_string();
        assert!(
            err.contains(&theirs) && err.contains("0123456789abcdef0123456789abcdef"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_file_that_is_not_a_database_is_refused_in_one_line() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("gptsweep.db"), vec![7u8; 8192]).unwrap();
        let err = open(dir.path()).await.unwrap_err();
        assert!(matches!(err, CoordinatorError::StoreDamaged(_)), "{err}");
        assert!(!err.to_string().contains('\n'), "{err}");
    }
}
