//! The worker's side of the fleet's kernel cache (the coordinator's `kernels` module):
//! before a run it fetches the records of its scope stored since it last looked and
//! merges them into its kernel folder (cubecl's cache files: a record is appended to its
//! file unless a record of the same key is there), so the run finds the fleet's kernels
//! compiled and its shapes tuned; after a run it uploads the records it has that the fleet
//! does not (what it compiled and tuned itself). Nothing here fails a run: a coordinator
//! that cannot answer, a damaged record or a file that cannot be written is a warning, and
//! the run compiles what it lacks as it would alone.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tokio::sync::Mutex;

use gptsweep_api::kernel_entries::{self, EntryFormat};
use gptsweep_proto::client::Workers;
use gptsweep_proto::pb;

/// Most bytes of records sent in one `PutKernels` call (the coordinator takes 64 MiB).
const PUT_BATCH: usize = 32 << 20;

/// What a [`KernelSync::pull`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Records the coordinator sent.
    pub fetched: u64,
    /// Of those, records appended here (the others were here already).
    pub merged: u64,
    /// Records skipped as damaged or foreign.
    pub skipped: u64,
}

/// What a [`KernelSync::push`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pushed {
    /// Records sent: those here that the fleet did not have as far as this worker knew,
    /// that is, what this node compiled or tuned itself.
    pub sent: u64,
    /// Of those, records the coordinator stored as new.
    pub stored: u64,
    /// Records it refused (with the first reason in the log).
    pub refused: u64,
}

/// A worker's link to the fleet's kernel cache: its kernel folder, its scope, and what it
/// knows the fleet holds.
#[derive(Debug)]
pub struct KernelSync {
    dir: PathBuf,
    scope: String,
    state: Mutex<Known>,
}

#[derive(Debug, Default)]
struct Known {
    /// The last record seq fetched.
    after_seq: i64,
    /// Digests of the records the fleet holds (fetched or uploaded).
    digests: HashSet<String>,
}

impl KernelSync {
    /// The folder cubecl keeps its caches in (`compiled/`, `autotune/`) and the scope of
    /// this worker's devices and build.
    pub fn new(dir: PathBuf, scope: String) -> Self {
        Self {
            dir,
            scope,
            state: Mutex::new(Known::default()),
        }
    }

    /// The kernel folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Fetches the records stored since the last pull and merges them here.
    pub async fn pull(&self, client: &Workers) -> Result<Pulled, String> {
        let mut known = self.state.lock().await;
        let mut stream = client
            .clone()
            .fetch_kernels(pb::FetchKernelsRequest {
                scope: self.scope.clone(),
                after_seq: known.after_seq,
            })
            .await
            .map_err(|s| s.message().to_string())?
            .into_inner();
        let mut records = Vec::new();
        while let Some(r) = stream
            .message()
            .await
            .map_err(|s| s.message().to_string())?
        {
            known.after_seq = known.after_seq.max(r.seq);
            known
                .digests
                .insert(kernel_entries::digest(&r.file, &r.data));
            records.push((r.file, r.data));
        }
        let fetched = records.len() as u64;
        let dir = self.dir.clone();
        let (merged, skipped) = tokio::task::spawn_blocking(move || merge(&dir, records))
            .await
            .map_err(|e| format!("merging kernel records: {e}"))?;
        Ok(Pulled {
            fetched,
            merged,
            skipped,
        })
    }

    /// Uploads the records here that the fleet does not hold as far as this worker knows.
    pub async fn push(&self, client: &Workers) -> Result<Pushed, String> {
        let mut known = self.state.lock().await;
        let dir = self.dir.clone();
        let local = tokio::task::spawn_blocking(move || local_records(&dir))
            .await
            .map_err(|e| format!("reading kernel records: {e}"))?;
        let new: Vec<(String, Vec<u8>, String)> = local
            .into_iter()
            .filter_map(|(file, data)| {
                let digest = kernel_entries::digest(&file, &data);
                (!known.digests.contains(&digest)).then_some((file, data, digest))
            })
            .collect();
        let mut pushed = Pushed::default();
        let mut batch: Vec<(String, Vec<u8>, String)> = Vec::new();
        let mut batch_bytes = 0;
        let mut rest = new.into_iter().peekable();
        while let Some(record) = rest.next() {
            batch_bytes += record.1.len();
            batch.push(record);
            let full = rest
                .peek()
                .is_none_or(|next| batch_bytes + next.1.len() > PUT_BATCH);
            if !full {
                continue;
            }
            let sent = std::mem::take(&mut batch);
            batch_bytes = 0;
            let messages: Vec<pb::KernelUpload> = sent
                .iter()
                .enumerate()
                .map(|(i, (file, data, _))| pb::KernelUpload {
                    scope: if i == 0 {
                        self.scope.clone()
                    } else {
                        String::new()
                    },
                    file: file.clone(),
                    data: data.clone(),
                })
                .collect();
            let reply = client
                .clone()
                .put_kernels(tokio_stream::iter(messages))
                .await
                .map_err(|s| s.message().to_string())?
                .into_inner();
            if reply.refused > 0 {
                tracing::warn!(
                    refused = reply.refused,
                    "kernel cache: the coordinator refused records: {}",
                    reply.refusal
                );
            }
            pushed.sent += sent.len() as u64;
            pushed.stored += reply.stored;
            pushed.refused += reply.refused;
            // Refused ones are not sent again either: they would be refused again.
            known.digests.extend(sent.into_iter().map(|(_, _, d)| d));
        }
        Ok(pushed)
    }
}

/// Every record of every cache file under `dir`, as (file relative to `dir`, bytes);
/// records that are not good ones (a file being written, damage) are left out.
pub fn local_records(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for file in cache_files(dir) {
        let Ok(format) = kernel_entries::format_of(&file) else {
            continue;
        };
        let Ok(bytes) = std::fs::read(dir.join(&file)) else {
            continue;
        };
        let (records, _) = kernel_entries::split(format, &bytes);
        out.extend(
            records
                .into_iter()
                .filter(|r| kernel_entries::key_of(&file, r).is_ok())
                .map(|r| (file.clone(), r.to_vec())),
        );
    }
    out
}

/// The files under `dir` (relative, `/`-separated) in `compiled/` and `autotune/`.
fn cache_files(dir: &Path) -> Vec<String> {
    let mut files = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(dir.join(&rel)) else {
            continue;
        };
        for entry in entries.flatten() {
            let name = rel.join(entry.file_name());
            match entry.file_type() {
                Ok(t) if t.is_dir() => stack.push(name),
                Ok(t) if t.is_file() => {
                    if let Some(text) = name.to_str() {
                        files.push(text.to_string());
                    }
                }
                _ => {}
            }
        }
    }
    files.sort();
    files
}

/// Appends to each file the fetched records whose key it lacks; answers (appended,
/// skipped). A record that is not one, or for a file that is not a cache file, is skipped
/// with a warning; so is every record of a CBOR file whose end is damaged (cubecl stops
/// reading there, so what followed would never be read).
pub fn merge(dir: &Path, records: Vec<(String, Vec<u8>)>) -> (u64, u64) {
    let mut by_file: HashMap<String, Vec<Vec<u8>>> = HashMap::new();
    let mut skipped = 0;
    for (file, data) in records {
        if let Err(e) = kernel_entries::key_of(&file, &data) {
            tracing::warn!("kernel cache: skipped a fetched record: {e}");
            skipped += 1;
            continue;
        }
        by_file.entry(file).or_default().push(data);
    }
    let mut merged = 0;
    for (file, records) in by_file {
        match merge_file(dir, &file, &records) {
            Ok(n) => merged += n,
            Err(e) => {
                tracing::warn!(
                    "kernel cache: {} fetched records for {file} skipped: {e}",
                    records.len()
                );
                skipped += records.len() as u64;
            }
        }
    }
    (merged, skipped)
}

fn merge_file(dir: &Path, file: &str, records: &[Vec<u8>]) -> Result<u64, String> {
    use std::io::Write;
    let format = kernel_entries::format_of(file).map_err(|e| e.to_string())?;
    let path = dir.join(file);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    // Held from the read of the keys to the append: no cubecl process of this node reads
    // or writes the file meanwhile.
    let _lock = CubeclLock::take(&path)?;
    let existing = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let (present, damaged) = kernel_entries::split(format, &existing);
    if damaged > 0 && format == EntryFormat::Cbor {
        return Err(format!(
            "{} ends in {damaged} bytes that are not a record",
            path.display()
        ));
    }
    let mut keys: HashSet<Vec<u8>> = present
        .iter()
        .filter_map(|r| kernel_entries::key_of(file, r).ok())
        .collect();
    let mut out = Vec::new();
    if damaged > 0 {
        // A JSON line cut short: end it, so that the next record starts a line of its own.
        out.push(b'\n');
    }
    let mut appended = 0;
    for data in records {
        let key = kernel_entries::key_of(file, data).map_err(|e| e.to_string())?;
        if keys.insert(key) {
            out.extend(kernel_entries::appended(format, data));
            appended += 1;
        }
    }
    if appended == 0 {
        return Ok(0);
    }
    // One append of whole records, under cubecl's lock, as cubecl appends: a cubecl
    // process finds them when it next takes the lock (it reads what was appended since
    // its last look), and its place in the file stays right.
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(&out))
        .map_err(|e| format!("cannot append to {}: {e}", path.display()))?;
    Ok(appended)
}

/// Longest wait for cubecl's lock on a cache file (cubecl holds it for a read and an
/// append; it removes a lock older than its own bound, a killed process's).
const LOCK_WAIT: Duration = Duration::from_secs(10);

/// cubecl's lock on one of its cache files (cubecl-common 0.10's `FileLock`): the file
/// `FILE.lock`, created exclusively and holding the time it was taken as JSON, removed to
/// release it. cubecl takes it around each read-and-append of the file, so processes of
/// one node share a kernel folder safely; merging records in takes it too.
struct CubeclLock(PathBuf);

impl CubeclLock {
    fn take(file: &Path) -> Result<Self, String> {
        use std::io::Write;
        let mut name = file.file_name().unwrap_or_default().to_os_string();
        name.push(".lock");
        let path = file.with_file_name(name);
        let since = Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&path)
            {
                Ok(mut f) => {
                    let now = serde_json::to_vec(&std::time::SystemTime::now())
                        .map_err(|e| e.to_string())?;
                    let lock = Self(path);
                    f.write_all(&now)
                        .map_err(|e| format!("cannot write {}: {e}", lock.0.display()))?;
                    return Ok(lock);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if since.elapsed() > LOCK_WAIT {
                        return Err(format!(
                            "{} held for more than {LOCK_WAIT:?}",
                            path.display()
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(30));
                }
                Err(e) => return Err(format!("cannot create {}: {e}", path.display())),
            }
        }
    }
}

impl Drop for CubeclLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor(key: &str, value: &str) -> Vec<u8> {
        let map = ciborium::Value::Map(vec![
            (ciborium::Value::Text("key".into()), key.into()),
            (ciborium::Value::Text("value".into()), value.into()),
        ]);
        let mut out = Vec::new();
        ciborium::ser::into_writer(&map, &mut out).unwrap();
        out
    }

    #[test]
    fn records_merge_by_key_and_damage_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let json = "autotune/autotune/0.10.0/dev/matmul.json.log";
        let chunk = "compiled/vulkan/0.10.0/spirv/chunk0.cbor";
        std::fs::create_dir_all(dir.path().join(json).parent().unwrap()).unwrap();
        // A line cut short at the end, as a killed process leaves it.
        std::fs::write(
            dir.path().join(json),
            b"{\"key\":1,\"value\":\"a\"}\n{\"key\":9,",
        )
        .unwrap();
        let fetched = vec![
            (json.to_string(), br#"{"key":1,"value":"other"}"#.to_vec()),
            (json.to_string(), br#"{"key":2,"value":"b"}"#.to_vec()),
            (json.to_string(), b"not json".to_vec()),
            (chunk.to_string(), cbor("k1", "spirv")),
            (chunk.to_string(), cbor("k1", "spirv")),
            ("../escape.cbor".to_string(), cbor("k", "v")),
        ];
        let (merged, skipped) = merge(dir.path(), fetched);
        assert_eq!((merged, skipped), (2, 2));
        let local = local_records(dir.path());
        let keys: Vec<_> = local
            .iter()
            .map(|(f, d)| (f.as_str(), kernel_entries::key_of(f, d).unwrap()))
            .collect();
        assert_eq!(
            keys,
            vec![
                (json, b"1".to_vec()),
                (json, b"2".to_vec()),
                (
                    chunk,
                    kernel_entries::key_of(chunk, &cbor("k1", "x")).unwrap()
                ),
            ]
        );
        assert!(!dir.path().parent().unwrap().join("escape.cbor").exists());
        // Merging the same again appends nothing.
        let again = vec![(json.to_string(), br#"{"key":2,"value":"b"}"#.to_vec())];
        assert_eq!(merge(dir.path(), again), (0, 0));
    }

    #[test]
    fn merging_waits_for_cubecls_lock_and_leaves_none() {
        let dir = tempfile::tempdir().unwrap();
        let json = "autotune/a.json.log";
        let file = dir.path().join(json);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        let lock = dir.path().join("autotune/a.json.log.lock");
        std::fs::write(&lock, b"{}").unwrap();
        let released = {
            let lock = lock.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(300));
                std::fs::remove_file(lock).unwrap();
            })
        };
        let t0 = Instant::now();
        let fetched = vec![(json.to_string(), br#"{"key":1,"value":"a"}"#.to_vec())];
        assert_eq!(merge(dir.path(), fetched), (1, 0));
        assert!(
            t0.elapsed() >= Duration::from_millis(300),
            "appended under another's lock"
        );
        released.join().unwrap();
        assert!(!lock.exists(), "the merge's own lock is released");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            b"{\"key\":1,\"value\":\"a\"}\n"
        );
    }

    #[test]
    fn a_cbor_file_with_a_damaged_end_takes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let chunk = "compiled/cuda/0.10.0/ptx/chunk0.cbor";
        std::fs::create_dir_all(dir.path().join(chunk).parent().unwrap()).unwrap();
        let mut bytes = cbor("a", "x");
        bytes.extend_from_slice(&cbor("b", "y")[..3]);
        std::fs::write(dir.path().join(chunk), &bytes).unwrap();
        let (merged, skipped) = merge(dir.path(), vec![(chunk.to_string(), cbor("c", "z"))]);
        assert_eq!((merged, skipped), (0, 1));
        assert_eq!(std::fs::read(dir.path().join(chunk)).unwrap(), bytes);
    }
}
