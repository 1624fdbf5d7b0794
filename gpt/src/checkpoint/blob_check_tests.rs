//! The streamed check of a checkpoint blob (`BlobCheck`, in gptsweep-core) against
//! `Checkpoint::from_bytes` here: every chunking accepted, every truncation and damage
//! refused with the same message.

use super::{BLOB_MAGIC, BlobCheck, Checkpoint, CheckpointMeta, MAX_META_BYTES, sha};
use crate::config::Hyperparams;
use crate::corpus::Corpus;

/// A blob of `to_bytes` with made-up weights (what the check reads is the format, not
/// whether the weights fit the model).
fn blob() -> Vec<u8> {
    let corpus = Corpus::from_text(
        "t.txt",
        &"hello world, the quick brown fox\n".repeat(20),
        crate::TokenizerKind::Char,
    )
    .unwrap();
    let hp = Hyperparams {
        max_iters: 10,
        ..Hyperparams::default()
    };
    let mut meta = CheckpointMeta::new(&hp, &corpus, 5, Vec::new(), 0.5);
    let (model_bytes, optim_bytes) = (vec![7u8; 300], vec![9u8; 200]);
    meta.model_sha256 = sha(&model_bytes);
    meta.optim_sha256 = sha(&optim_bytes);
    Checkpoint {
        meta,
        model_bytes,
        optim_bytes,
        origin: "<memory>".into(),
    }
    .to_bytes()
}

/// The check of `bytes` fed in chunks of `size`, as text for comparing.
fn streamed(bytes: &[u8], size: usize) -> std::result::Result<usize, String> {
    let mut check = BlobCheck::new("blob");
    for chunk in bytes.chunks(size) {
        check.feed(chunk).map_err(|e| e.to_string())?;
    }
    check
        .finish()
        .map(|meta| meta.step)
        .map_err(|e| e.to_string())
}

/// What `from_bytes` says of `bytes`, as text for comparing.
fn whole(bytes: &[u8]) -> std::result::Result<usize, String> {
    Checkpoint::from_bytes(bytes, "blob")
        .map(|c| c.meta.step)
        .map_err(|e| e.to_string())
}

#[test]
fn a_whole_blob_in_chunks_of_any_size_is_accepted() {
    let blob = blob();
    for size in [1, 3, 8, 64, 1000, blob.len()] {
        assert_eq!(streamed(&blob, size), Ok(5), "chunks of {size}");
    }
}

#[test]
fn every_truncation_is_refused_as_from_bytes_refuses_it() {
    let blob = blob();
    let mut compared = 0;
    for len in 0..blob.len() {
        let want = whole(&blob[..len]);
        assert!(want.is_err(), "from_bytes took {len} bytes");
        assert_eq!(streamed(&blob[..len], 97), want, "the first {len} bytes");
        compared += 1;
    }
    assert_eq!(compared, blob.len());
}

#[test]
fn damage_is_refused_with_from_bytes_message_as_soon_as_it_is_seen() {
    let blob = blob();
    let meta_len = u64::from_le_bytes(blob[8..16].try_into().unwrap()) as usize;
    let weights_at = 8 + 8 + meta_len + 8;
    let mut refused = 0;
    for (at, want) in [
        (0, "not a gptsweep checkpoint blob"),
        (16, "meta.json: "),
        (
            weights_at + 10,
            "corrupt: a blob's sha256 does not match its metadata",
        ),
        (
            blob.len() - 1,
            "corrupt: a blob's sha256 does not match its metadata",
        ),
    ] {
        let mut damaged = blob.clone();
        damaged[at] ^= 0x55;
        let from_bytes = whole(&damaged).unwrap_err();
        assert!(from_bytes.contains(want), "{from_bytes}");
        // Fed one byte at a time, the refusal comes with the part the damage is in.
        let mut check = BlobCheck::new("blob");
        let fed = damaged
            .iter()
            .position(|b| check.feed(&[*b]).is_err())
            .expect("refused before the end");
        let part_end = if at < 8 {
            at
        } else if at < 16 + meta_len {
            16 + meta_len - 1
        } else if at < weights_at + 300 {
            weights_at + 300 - 1
        } else {
            blob.len() - 1
        };
        assert_eq!(fed, part_end, "damage at {at}");
        assert_eq!(streamed(&damaged, 64).unwrap_err(), from_bytes);
        refused += 1;
    }
    assert_eq!(refused, 4);
}

#[test]
fn bytes_after_the_optimiser_state_and_oversized_parts_are_refused() {
    let mut blob = blob();
    blob.push(0);
    assert_eq!(
        streamed(&blob, 64).unwrap_err(),
        "checkpoint blob: 1 bytes after optim.mpk: a checkpoint blob ends with its \
         optimiser state"
    );
    let mut huge = BLOB_MAGIC.to_vec();
    huge.extend_from_slice(&(MAX_META_BYTES + 1).to_le_bytes());
    assert_eq!(
        streamed(&huge, 64).unwrap_err(),
        format!(
            "checkpoint blob: meta.json: {} bytes is over the limit of {MAX_META_BYTES}",
            MAX_META_BYTES + 1
        )
    );
}
