//! The schema migrations compiled into the binary, one [`Migrator`] per backend, built by
//! hand from the files `build.rs` embeds instead of by sqlx's `migrate!` macro: that macro's
//! proc macro compiled sqlx with both drivers and SQLite's C source a second time, for the
//! build host, and was most of what a first `cargo build --release` spent on the store
//! (BENCHMARKS.md, "First build"). A migration is what sqlx's own resolver makes of the same
//! file (version, description, type, SHA-384 checksum, `-- no-transaction`), so a database
//! migrated by an older binary validates; the tests below hold the two equal.

use std::borrow::Cow;
use std::sync::LazyLock;

use sqlx::SqlStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

/// One `.sql` file of a migrations folder, as `build.rs` embeds it.
pub(super) struct EmbeddedMigration {
    /// The number its name starts with.
    version: i64,
    /// The rest of its name, `_` read as a space, without `.sql`.
    description: &'static str,
    /// Its file name (`.up.sql` / `.down.sql` make it reversible).
    file: &'static str,
    /// Its contents.
    sql: &'static str,
}

mod embedded {
    use super::EmbeddedMigration;
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// SQLite's migrations (`migrations/sqlite/`).
pub(super) static SQLITE: LazyLock<Migrator> = LazyLock::new(|| migrator(embedded::SQLITE));
/// PostgreSQL's migrations (`migrations/postgres/`).
pub(super) static POSTGRES: LazyLock<Migrator> = LazyLock::new(|| migrator(embedded::POSTGRES));

/// The migrator of one folder's files, as `sqlx::migrate!` would have made it.
fn migrator(files: &'static [EmbeddedMigration]) -> Migrator {
    Migrator::with_migrations(
        files
            .iter()
            .map(|m| {
                Migration::new(
                    m.version,
                    Cow::Borrowed(m.description),
                    MigrationType::from_filename(m.file),
                    SqlStr::from_static(m.sql),
                    m.sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    /// What validation and running compare of a migration.
    fn fields(m: &Migrator) -> Vec<(i64, String, MigrationType, Vec<u8>, bool, String)> {
        m.iter()
            .map(|m| {
                let sql = m.sql.as_str().to_string();
                let checksum = m.checksum.to_vec();
                (
                    m.version,
                    m.description.to_string(),
                    m.migration_type,
                    checksum,
                    m.no_tx,
                    sql,
                )
            })
            .collect()
    }

    /// sqlx's own resolver on the folder, as the `migrate!` macro used it.
    async fn from_disk(backend: &str) -> Migrator {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../migrations")
            .join(backend);
        Migrator::new(dir.as_path())
            .await
            .expect("the migrations folder resolves")
    }

    #[tokio::test]
    async fn sqlite_migrations_are_the_folders() {
        let disk = from_disk("sqlite").await;
        assert!(disk.iter().count() >= 12);
        assert_eq!(fields(&SQLITE), fields(&disk));
        assert_eq!(SQLITE.table_name, disk.table_name);
        assert_eq!((SQLITE.locking, SQLITE.no_tx), (disk.locking, disk.no_tx));
    }

    #[tokio::test]
    async fn postgres_migrations_are_the_folders() {
        let disk = from_disk("postgres").await;
        assert!(disk.iter().count() >= 8);
        assert_eq!(fields(&POSTGRES), fields(&disk));
    }

    #[test]
    fn versions_are_in_order_and_unique() {
        for m in [&*SQLITE, &*POSTGRES] {
            let versions: Vec<i64> = m.iter().map(|m| m.version).collect();
            assert!(versions.windows(2).all(|w| w[0] < w[1]), "{versions:?}");
        }
    }
}
