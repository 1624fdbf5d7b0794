//! The safetensors file format, written and read here rather than through a crate (it is
//! small): an 8-byte little-endian header length, a JSON header mapping each tensor's name
//! to `{dtype, shape, data_offsets}` (offsets into the data that follows, contiguous, in
//! header order) plus an optional `__metadata__` of string values, padded with spaces to a
//! multiple of 8 bytes, then the tensors' bytes, little-endian. Only `F32` is written; the
//! reader checks what the format requires (offsets in bounds, contiguous, sized by shape)
//! and never panics on a malformed file.

use std::collections::BTreeMap;

/// The metadata key of the header.
pub const METADATA: &str = "__metadata__";
/// Largest header the reader accepts (the format's own limit is 100 MB).
const MAX_HEADER_BYTES: u64 = 100_000_000;

/// One named `f32` tensor, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedTensor {
    /// Its name in the file (PyTorch's state_dict key).
    pub name: String,
    /// Its shape.
    pub shape: Vec<usize>,
    /// Its values, row-major.
    pub data: Vec<f32>,
}

/// A safetensors file's tensors, in file order, and metadata.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SafeTensors {
    /// The tensors.
    pub tensors: Vec<NamedTensor>,
    /// `__metadata__`: string keys to string values.
    pub metadata: BTreeMap<String, String>,
}

impl SafeTensors {
    /// The file's bytes: header, then each tensor's data in order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut header = serde_json::Map::new();
        if !self.metadata.is_empty() {
            header.insert(
                METADATA.into(),
                serde_json::to_value(&self.metadata).expect("strings serialise"),
            );
        }
        let mut offset = 0usize;
        for t in &self.tensors {
            let end = offset + 4 * t.data.len();
            header.insert(
                t.name.clone(),
                serde_json::json!({"dtype": "F32", "shape": t.shape, "data_offsets": [offset, end]}),
            );
            offset = end;
        }
        let mut json = serde_json::to_vec(&header).expect("a header serialises");
        while !json.len().is_multiple_of(8) {
            json.push(b' ');
        }
        let mut out = Vec::with_capacity(8 + json.len() + offset);
        out.extend_from_slice(&(json.len() as u64).to_le_bytes());
        out.extend_from_slice(&json);
        for t in &self.tensors {
            for v in &t.data {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        out
    }

    /// Reads a file of `F32` tensors, checking its header against its data: why not, if
    /// it is not one.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let (len, rest) = bytes
            .split_at_checked(8)
            .ok_or("shorter than the 8-byte header length")?;
        let len = u64::from_le_bytes(len.try_into().expect("8 bytes"));
        if len > MAX_HEADER_BYTES || len > rest.len() as u64 {
            return Err(format!(
                "header length {len} exceeds the file ({} bytes after it)",
                rest.len()
            ));
        }
        let (header, data) = rest.split_at(len as usize);
        let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(header)
            .map_err(|e| format!("header is not a JSON object: {e}"))?;
        let mut out = SafeTensors::default();
        let mut entries = Vec::new();
        for (name, value) in header {
            if name == METADATA {
                out.metadata = serde_json::from_value(value)
                    .map_err(|e| format!("{METADATA}: not string to string: {e}"))?;
                continue;
            }
            let entry: Entry = serde_json::from_value(value).map_err(|e| format!("{name}: {e}"))?;
            if entry.dtype != "F32" {
                return Err(format!("{name}: dtype {} (only F32 is read)", entry.dtype));
            }
            entries.push((name, entry));
        }
        entries.sort_by_key(|(_, e)| e.data_offsets);
        let mut expected = 0u64;
        for (name, e) in entries {
            let [start, end] = e.data_offsets;
            let elements = e
                .shape
                .iter()
                .try_fold(1u64, |n, &d| n.checked_mul(d))
                .ok_or_else(|| format!("{name}: shape {:?} overflows", e.shape))?;
            if start != expected {
                return Err(format!(
                    "{name}: data starts at {start}, not where the previous tensor ended ({expected})"
                ));
            }
            if end < start || end - start != elements.saturating_mul(4) {
                return Err(format!(
                    "{name}: data_offsets [{start}, {end}] do not hold shape {:?} of F32",
                    e.shape
                ));
            }
            let bytes = data.get(start as usize..end as usize).ok_or_else(|| {
                format!("{name}: data_offsets [{start}, {end}] past the file's end")
            })?;
            out.tensors.push(NamedTensor {
                name,
                shape: e.shape.iter().map(|&d| d as usize).collect(),
                data: bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes(b.try_into().expect("4 bytes")))
                    .collect(),
            });
            expected = end;
        }
        if expected != data.len() as u64 {
            return Err(format!(
                "{} bytes of data follow the header, the tensors cover {expected}",
                data.len()
            ));
        }
        Ok(out)
    }
}

/// One tensor's header entry.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    dtype: String,
    shape: Vec<u64>,
    data_offsets: [u64; 2],
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SafeTensors {
        SafeTensors {
            tensors: vec![
                NamedTensor {
                    name: "b".into(),
                    shape: vec![2, 3],
                    data: vec![1.0, -2.0, 3.5, 0.0, f32::MIN_POSITIVE, 6.0],
                },
                NamedTensor {
                    name: "a".into(),
                    shape: vec![1],
                    data: vec![7.25],
                },
            ],
            metadata: [("format".to_string(), "pt".to_string())].into(),
        }
    }

    #[test]
    fn round_trips_with_an_aligned_header() {
        let bytes = sample().to_bytes();
        let len = u64::from_le_bytes(bytes[..8].try_into().unwrap());
        assert_eq!(len % 8, 0);
        assert_eq!(SafeTensors::from_bytes(&bytes).unwrap(), sample());
    }

    #[test]
    fn malformed_files_are_refused_with_a_reason() {
        let good = sample().to_bytes();
        let refused = |bytes: &[u8]| SafeTensors::from_bytes(bytes).unwrap_err();
        assert!(refused(&good[..5]).contains("shorter"));
        assert!(refused(&good[..good.len() - 4]).contains("data"));
        let mut huge = good.clone();
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        assert!(refused(&huge).contains("header length"));
        let mut extra = good.clone();
        extra.extend_from_slice(&[0; 4]);
        assert!(refused(&extra).contains("cover"));
        let header = br#"{"x":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#;
        let mut gap = (header.len() as u64).to_le_bytes().to_vec();
        gap.extend_from_slice(header);
        gap.extend_from_slice(&[0; 12]);
        assert!(refused(&gap).contains("starts at 4"));
        for garbage in [
            &b"\x02\0\0\0\0\0\0\0[]"[..],
            b"\x04\0\0\0\0\0\0\0\xff\xfe{}",
        ] {
            assert!(!refused(garbage).is_empty());
        }
    }
}
