//! The state directory's lock: one coordinator per state directory. An exclusive advisory
//! lock (`flock` through std's `File::try_lock`) on `<state>/lock`, held for the process's
//! life and released by the kernel however it ends (a `kill -9` included). The holder
//! writes its pid and address into the file, so a refused second coordinator can say who
//! holds it; the refused one changes nothing in the directory.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::error::{CoordinatorError, Result};

/// The lock file's name inside the state directory.
pub const LOCK_FILE: &str = "lock";

/// The held lock of a state directory; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct StateLock {
    /// The open, locked file.
    file: Mutex<File>,
    /// Its path, for errors.
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock of `state_dir` (created if missing) and records this process's pid
    /// in it; [`CoordinatorError::StateLocked`] naming the holder when another process has
    /// it. Only the lock file is created; an existing one is read, never truncated, until
    /// the lock is ours.
    pub fn acquire(state_dir: &Path) -> Result<Self> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CoordinatorError::Io { path, source }
        };
        std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
        let path = state_dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut said = String::new();
                let _ = file.read_to_string(&mut said);
                let holder = match said.trim() {
                    "" => "another process (its lock file names none)".to_string(),
                    text => text.lines().next().unwrap_or(text).to_string(),
                };
                return Err(CoordinatorError::StateLocked {
                    dir: state_dir.to_path_buf(),
                    holder,
                });
            }
            Err(TryLockError::Error(source)) => return Err(CoordinatorError::Io { path, source }),
        }
        let lock = Self {
            file: Mutex::new(file),
            path,
        };
        lock.record(&format!("pid {}", std::process::id()))?;
        Ok(lock)
    }

    /// Notes the address the holder serves on, for a refused coordinator's message.
    pub fn listening_on(&self, addr: &str) -> Result<()> {
        self.record(&format!("pid {} (listening on {addr})", std::process::id()))
    }

    /// Replaces the file's one line with `holder`.
    fn record(&self, holder: &str) -> Result<()> {
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        // Written over the old line, then cut to length: a reader never sees it empty.
        let line = format!("{holder}\n");
        let written = file
            .rewind()
            .and_then(|()| file.write_all(line.as_bytes()))
            .and_then(|()| file.set_len(line.len() as u64))
            .and_then(|()| file.flush());
        written.map_err(|source| CoordinatorError::Io {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_dir_is_refused_naming_the_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        first.listening_on("127.0.0.1:5").unwrap();
        let refused = StateLock::acquire(dir.path()).unwrap_err().to_string();
        let me = std::process::id();
        assert_eq!(
            refused,
            format!(
                "state dir {} is in use: held by pid {me} (listening on 127.0.0.1:5); stop that \
                 coordinator or give another --state-dir",
                dir.path().display()
            )
        );
        drop(first);
        StateLock::acquire(dir.path()).expect("the lock is free once its holder drops it");
    }
}
