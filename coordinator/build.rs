//! Embeds the schema migrations (`migrations/sqlite`, `migrations/postgres`) into the
//! coordinator: one `include_str!` per `.sql` file with its version and description, read by
//! `src/store/migrations.rs`. sqlx's `migrate!` macro did this, but its proc macro compiled
//! sqlx (both drivers, SQLite's C source) a second time for the build host: 99 of the release
//! build's 649 units (BENCHMARKS.md, "First build"). Names follow sqlx's rule,
//! `<VERSION>_<DESCRIPTION>.sql`, and a name that does not fails the build, naming the file.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::Path;

fn main() {
    let manifest = env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let mut code = String::new();
    for backend in ["sqlite", "postgres"] {
        let dir = Path::new(&manifest).join("../migrations").join(backend);
        // A directory: cargo reruns the script when any file under it changes or appears.
        println!("cargo:rerun-if-changed={}", dir.display());
        let mut files: Vec<_> = fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
            .map(|entry| entry.expect("a readable directory entry").path())
            .filter(|path| path.is_file())
            .collect();
        files.sort();
        writeln!(code, "/// `migrations/{backend}/`, by file name.").unwrap();
        let name = backend.to_uppercase();
        writeln!(code, "pub(super) const {name}: &[EmbeddedMigration] = &[").unwrap();
        for path in files {
            let file = path.file_name().unwrap().to_string_lossy().into_owned();
            // sqlx's resolver skips any file that is not `<VERSION>_<DESCRIPTION>.sql`.
            let Some((version, rest)) = file.split_once('_') else {
                continue;
            };
            if !rest.ends_with(".sql") {
                continue;
            }
            let version: i64 = version.parse().unwrap_or_else(|_| {
                panic!(
                    "{}: a migration's name starts with its number (0001_init.sql)",
                    path.display()
                )
            });
            let suffix = [".up.sql", ".down.sql", ".sql"]
                .into_iter()
                .find(|s| rest.ends_with(s));
            let description = rest
                .trim_end_matches(suffix.unwrap_or(".sql"))
                .replace('_', " ");
            let path = path.canonicalize().expect("the file was just listed");
            writeln!(
                code,
                "    EmbeddedMigration {{ version: {version}, description: {description:?}, file: {file:?}, sql: include_str!({:?}) }},",
                path.display().to_string()
            )
            .unwrap();
        }
        writeln!(code, "];").unwrap();
    }
    let out = Path::new(&env::var("OUT_DIR").expect("cargo sets OUT_DIR")).join("migrations.rs");
    fs::write(&out, code).unwrap_or_else(|e| panic!("cannot write {}: {e}", out.display()));
}
