//! The state directory's lock: one coordinator per state directory. An exclusive advisory
//! lock (`flock` through std's `File::try_lock`) held for the process's life and released
//! by the kernel however it ends (a `kill -9` included), on two things:
//!
//! - the state directory itself, so that removing its lock file frees nothing: an
//!   operator who takes `<state>/lock` for a stale pid file and deletes it (as one does
//!   with pid files) would otherwise let a second coordinator lock a new file of the same
//!   name and open the same database beside the first. Where the file system cannot lock
//!   a directory (NFS emulates `flock` with byte-range locks, which need a file open for
//!   writing) the lock file alone guards it, as before;
//! - `<state>/lock`, where the holder writes its pid and address, so that a refused second
//!   coordinator can say who holds the directory (or that the file naming it was removed).
//!
//! The refused one changes nothing in the directory: it creates the lock file only once
//! it holds the directory.

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
    /// The state directory, open and locked, where its file system can lock a directory.
    _dir: Option<File>,
    /// The open, locked lock file.
    file: Mutex<File>,
    /// Its path, for errors.
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock of `state_dir` (created if missing) and records this process's pid
    /// in its lock file; [`CoordinatorError::StateLocked`] naming the holder when another
    /// process has it. Only the lock file is created; an existing one is read, never
    /// truncated, until the lock is ours.
    pub fn acquire(state_dir: &Path) -> Result<Self> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| CoordinatorError::Io { path, source }
        };
        std::fs::create_dir_all(state_dir).map_err(io(state_dir))?;
        let path = state_dir.join(LOCK_FILE);
        let dir = lock_dir(state_dir)?;
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
                return Err(locked(state_dir, &said));
            }
            Err(TryLockError::Error(source)) => return Err(CoordinatorError::Io { path, source }),
        }
        let lock = Self {
            _dir: dir,
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
}

/// The address a holder serves on, from what its lock file says (a
/// [`CoordinatorError::StateLocked`]'s `holder`): `None` before it serves.
pub fn listening_address(holder: &str) -> Option<&str> {
    holder
        .split_once("(listening on ")
        .and_then(|(_, rest)| rest.strip_suffix(')'))
}

impl StateLock {
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

/// Locks the directory `state_dir` itself: the open directory when this process now holds
/// it, `None` where its file system cannot lock a directory, and
/// [`CoordinatorError::StateLocked`] when another process holds it (naming the holder as
/// its lock file says, if that file is still there).
fn lock_dir(state_dir: &Path) -> Result<Option<File>> {
    let Ok(dir) = File::open(state_dir) else {
        return Ok(None);
    };
    match dir.try_lock() {
        Ok(()) => Ok(Some(dir)),
        Err(TryLockError::WouldBlock) => {
            let said = std::fs::read_to_string(state_dir.join(LOCK_FILE));
            Err(match said {
                Ok(said) => locked(state_dir, &said),
                Err(_) => CoordinatorError::StateLocked {
                    dir: state_dir.to_path_buf(),
                    holder: format!(
                        "a running process whose lock file {LOCK_FILE} was removed (the lock \
                         is on the directory itself: removing the file does not free it; \
                         `fuser -v {}` names the process)",
                        state_dir.display()
                    ),
                },
            })
        }
        Err(TryLockError::Error(_)) => Ok(None),
    }
}

/// The refusal of `state_dir`, whose lock file says `said`.
fn locked(state_dir: &Path, said: &str) -> CoordinatorError {
    let holder = match said.trim() {
        "" => "another process (its lock file names none)".to_string(),
        text => text.lines().next().unwrap_or(text).to_string(),
    };
    CoordinatorError::StateLocked {
        dir: state_dir.to_path_buf(),
        holder,
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
        let refused = StateLock::acquire(dir.path()).unwrap_err();
        let CoordinatorError::StateLocked { holder, .. } = &refused else {
            panic!("{refused}")
        };
        assert_eq!(listening_address(holder), Some("127.0.0.1:5"));
        let refused = refused.to_string();
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

    #[test]
    fn removing_the_lock_file_does_not_free_the_dir() {
        let dir = tempfile::tempdir().unwrap();
        let first = StateLock::acquire(dir.path()).unwrap();
        std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
        let refused = StateLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            refused.contains("is in use") && refused.contains("lock file lock was removed"),
            "{refused}"
        );
        assert!(
            !dir.path().join(LOCK_FILE).exists(),
            "the refused one creates no lock file"
        );
        drop(first);
        StateLock::acquire(dir.path()).expect("free once its holder drops it");
    }
}
