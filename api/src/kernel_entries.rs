//! The fleet's kernel cache, one record at a time. burn's GPU backends keep what they
//! compiled and what autotune measured in cubecl's cache files under a worker's kernel
//! folder: JSON lines (`*.json.log`: autotune results, the compiled kernels' table of
//! contents) and CBOR sequences (`*.cbor`: the compiled kernels). Every record of either is
//! a `{key, value}` map, written once and never changed, and a process reads them all when
//! it starts. So the coordinator can store them record by record, content-addressed, and a
//! worker can merge another node's records into its own files by appending those whose key
//! it lacks: files never need to agree as wholes, an upload racing another stores each
//! record once, and a damaged or foreign record is refused alone.
//!
//! What is checked here is shared by both ends: the coordinator refuses a record that is not
//! one, and the worker skips one it fetched that is not (a coordinator of another version,
//! a damaged store) with a warning, so a bad record never reaches cubecl, which would stop
//! at it.

use std::path::{Component, Path};

use sha2::{Digest, Sha256};

/// Longest record accepted (cubecl's largest compiled kernels are a few hundred KB).
pub const MAX_ENTRY_BYTES: usize = 8 << 20;

/// Longest file name (relative to the kernel folder) a record may belong to.
pub const MAX_FILE_CHARS: usize = 512;

/// Longest scope (the key of everything that makes a record valid: device, driver, build).
pub const MAX_SCOPE_CHARS: usize = 1024;

/// How a cache file holds its records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryFormat {
    /// One compact JSON object a line (`*.json.log`).
    JsonLines,
    /// CBOR items one after the other (`*.cbor`).
    Cbor,
}

/// Why a record was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// The file it would go to is not a cache file of a kernel folder.
    #[error("kernel cache file {file:?}: {why}")]
    File {
        /// The file named.
        file: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The bytes are not one `{key, value}` record of that file's format.
    #[error("kernel cache record for {file:?} ({bytes} bytes): {why}")]
    Record {
        /// The file named.
        file: String,
        /// Its size.
        bytes: usize,
        /// What is wrong with it.
        why: String,
    },
    /// The scope is empty, too long or not printable.
    #[error("kernel cache scope: {0}")]
    Scope(&'static str),
}

/// Checks a scope string.
pub fn check_scope(scope: &str) -> Result<(), EntryError> {
    if scope.is_empty() {
        return Err(EntryError::Scope("empty"));
    }
    if scope.chars().count() > MAX_SCOPE_CHARS {
        return Err(EntryError::Scope("longer than 1024 characters"));
    }
    if scope.chars().any(char::is_control) {
        return Err(EntryError::Scope("holds a control character"));
    }
    Ok(())
}

/// The format of the cache file `file` (a path relative to the kernel folder, `/`-separated,
/// under `compiled/` or `autotune/`), or why it is not one a record may be written to.
pub fn format_of(file: &str) -> Result<EntryFormat, EntryError> {
    let refuse = |why| {
        Err(EntryError::File {
            file: file.chars().take(MAX_FILE_CHARS).collect(),
            why,
        })
    };
    if file.is_empty() || file.chars().count() > MAX_FILE_CHARS {
        return refuse("empty or longer than 512 characters");
    }
    if file.chars().any(|c| c.is_control() || c == '\\') {
        return refuse("holds a control character or a backslash");
    }
    let path = Path::new(file);
    let mut parts = path.components();
    match parts.next() {
        Some(Component::Normal(top)) if top == "compiled" || top == "autotune" => {}
        _ => return refuse("not under compiled/ or autotune/"),
    }
    let dotted = file
        .split('/')
        .any(|p| p.is_empty() || p == "." || p == "..");
    if !parts.all(|c| matches!(c, Component::Normal(_))) || dotted {
        return refuse("not a plain relative path");
    }
    if file.ends_with(".json.log") {
        Ok(EntryFormat::JsonLines)
    } else if file.ends_with(".cbor") {
        Ok(EntryFormat::Cbor)
    } else {
        refuse("neither a .json.log nor a .cbor file")
    }
}

/// The records of a cache file's bytes, each as written (a JSON line without its newline,
/// a CBOR item), and how many bytes at the end could not be read as records (a write cut
/// short, a damaged file): the records before them are still good.
pub fn split(format: EntryFormat, bytes: &[u8]) -> (Vec<&[u8]>, usize) {
    match format {
        EntryFormat::JsonLines => {
            let mut records = Vec::new();
            let mut rest = bytes;
            while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                if end > 0 {
                    records.push(&rest[..end]);
                }
                rest = &rest[end + 1..];
            }
            (records, rest.len())
        }
        EntryFormat::Cbor => {
            let mut records = Vec::new();
            let mut cursor = std::io::Cursor::new(bytes);
            while (cursor.position() as usize) < bytes.len() {
                let start = cursor.position() as usize;
                match ciborium::de::from_reader::<ciborium::Value, _>(&mut cursor) {
                    Ok(_) => records.push(&bytes[start..cursor.position() as usize]),
                    Err(_) => return (records, bytes.len() - start),
                }
            }
            (records, 0)
        }
    }
}

/// The record's key, in a form that compares equal exactly when cubecl's keys do: two
/// records of one file with the same key are one entry (the first one written wins).
pub fn key_of(file: &str, data: &[u8]) -> Result<Vec<u8>, EntryError> {
    let record = |why: String| EntryError::Record {
        file: file.to_string(),
        bytes: data.len(),
        why,
    };
    if data.len() > MAX_ENTRY_BYTES {
        return Err(record("larger than 8 MiB".into()));
    }
    match format_of(file)? {
        EntryFormat::JsonLines => {
            if data.contains(&b'\n') {
                return Err(record("holds a newline".into()));
            }
            let value: serde_json::Value =
                serde_json::from_slice(data).map_err(|e| record(format!("not JSON: {e}")))?;
            let serde_json::Value::Object(map) = value else {
                return Err(record("not a JSON object".into()));
            };
            match (map.get("key"), map.get("value"), map.len()) {
                (Some(key), Some(_), 2) => Ok(key.to_string().into_bytes()),
                _ => Err(record("not a {key, value} object".into())),
            }
        }
        EntryFormat::Cbor => {
            let (items, rest) = split(EntryFormat::Cbor, data);
            if items.len() != 1 || rest != 0 {
                return Err(record("not exactly one CBOR item".into()));
            }
            let value: ciborium::Value =
                ciborium::de::from_reader(data).map_err(|e| record(format!("not CBOR: {e}")))?;
            let ciborium::Value::Map(fields) = value else {
                return Err(record("not a CBOR map".into()));
            };
            let field = |name: &str| {
                fields
                    .iter()
                    .find(|(k, _)| k.as_text() == Some(name))
                    .map(|(_, v)| v)
            };
            match (field("key"), field("value"), fields.len()) {
                (Some(key), Some(_), 2) => {
                    let mut bytes = Vec::new();
                    ciborium::ser::into_writer(key, &mut bytes)
                        .map_err(|e| record(format!("key not writable: {e}")))?;
                    Ok(bytes)
                }
                _ => Err(record("not a {key, value} map".into())),
            }
        }
    }
}

/// The record's content address: sha256 of its file's name, a zero byte and its bytes
/// (the same bytes in two files are two records).
pub fn digest(file: &str, data: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(file.as_bytes());
    hasher.update([0]);
    hasher.update(data);
    hex::encode(hasher.finalize())
}

/// The bytes that append the record to its file.
pub fn appended(format: EntryFormat, data: &[u8]) -> Vec<u8> {
    let mut bytes = data.to_vec();
    if format == EntryFormat::JsonLines {
        bytes.push(b'\n');
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cbor_record(key: &str, value: &[u8]) -> Vec<u8> {
        let map = ciborium::Value::Map(vec![
            (ciborium::Value::Text("key".into()), key.into()),
            (
                ciborium::Value::Text("value".into()),
                ciborium::Value::Bytes(value.to_vec()),
            ),
        ]);
        let mut out = Vec::new();
        ciborium::ser::into_writer(&map, &mut out).unwrap();
        out
    }

    #[test]
    fn files_are_plain_paths_under_the_two_folders() {
        let ok = "compiled/vulkan/0.10.0/spirv/chunk0.cbor";
        assert_eq!(format_of(ok), Ok(EntryFormat::Cbor));
        assert_eq!(
            format_of("autotune/autotune/0.10.0/dev/matmul.json.log"),
            Ok(EntryFormat::JsonLines)
        );
        for bad in [
            "",
            "/etc/passwd.json.log",
            "compiled/../../x.cbor",
            "other/x.cbor",
            "compiled/x.bin",
            "compiled//x.cbor",
            "compiled/./x.cbor",
            "compiled/x\n.cbor",
            "compiled\\x.cbor",
        ] {
            assert!(format_of(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn json_lines_split_and_keep_a_cut_tail_apart() {
        let bytes = b"{\"key\":1,\"value\":2}\n{\"key\":2,\"value\":3}\n{\"key\":3,\"va";
        let (records, rest) = split(EntryFormat::JsonLines, bytes);
        assert_eq!(records.len(), 2);
        assert_eq!(rest, 12);
        let file = "autotune/a.json.log";
        assert_eq!(key_of(file, records[1]).unwrap(), b"2");
        assert!(key_of(file, b"{\"key\":3,\"va").is_err());
        assert!(key_of(file, b"[1,2]").is_err());
        assert!(key_of(file, b"{\"key\":1}").is_err());
    }

    #[test]
    fn cbor_items_split_and_a_damaged_tail_is_counted() {
        let (a, b) = (cbor_record("a", b"xx"), cbor_record("b", &[7; 300]));
        let mut bytes = [a.clone(), b.clone()].concat();
        let (records, rest) = split(EntryFormat::Cbor, &bytes);
        assert_eq!(records, vec![&a[..], &b[..]]);
        assert_eq!(rest, 0);
        bytes.extend_from_slice(&b[..b.len() / 2]);
        let (records, rest) = split(EntryFormat::Cbor, &bytes);
        assert_eq!(records.len(), 2);
        assert_eq!(rest, b.len() / 2);
        let file = "compiled/cuda/ptx/chunk0.cbor";
        assert_ne!(key_of(file, &a).unwrap(), key_of(file, &b).unwrap());
        assert_eq!(
            key_of(file, &a).unwrap(),
            key_of(file, &cbor_record("a", b"other")).unwrap()
        );
        assert!(
            key_of(file, &bytes).is_err(),
            "two items are not one record"
        );
        assert!(key_of(file, &[0xff, 0x00]).is_err());
    }

    #[test]
    fn digests_name_the_file_and_the_bytes() {
        assert_ne!(
            digest("autotune/a.json.log", b"x"),
            digest("autotune/b.json.log", b"x")
        );
        assert_eq!(digest("a", b"x").len(), 64);
    }

    #[test]
    fn scopes_are_printable_and_bounded() {
        assert!(check_scope("wgpu|llvmpipe|gptsweep 0.1").is_ok());
        assert!(check_scope("").is_err());
        assert!(check_scope("a\nb").is_err());
        assert!(check_scope(&"x".repeat(1025)).is_err());
    }
}
