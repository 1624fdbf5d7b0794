//! A checkpoint blob (gptsweep-gpt's `Checkpoint::to_bytes`) checked as its bytes stream in, with the
//! checks of `Checkpoint::from_bytes` and its messages: the magic tag, each part whole
//! behind its length, the metadata by its rules, and the sha256 of the weights and of the
//! optimiser state against the metadata. Only the metadata is held (KiBs; at most
//! [`MAX_META_BYTES`]): the weights are hashed on the way, so a coordinator checks an
//! upload of GBs while holding one chunk of it, and refuses a damaged one as soon as the
//! damage is seen. Unlike `from_bytes`, bytes after the optimiser state are refused: a
//! stored blob is exactly what `to_bytes` wrote.

use sha2::{Digest, Sha256};

use super::{BLOB_MAGIC, CheckpointMeta, MAX_META_BYTES, MAX_WEIGHTS_BYTES, META, MODEL, OPTIM};
use crate::error::{GptError, Result};

/// The parts of a blob, in order.
const PARTS: [&str; 3] = [META, MODEL, OPTIM];

/// Where in the blob the next byte falls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The magic tag.
    Magic,
    /// The length before part `i`.
    Length(usize),
    /// Inside part `i`, with this many bytes of it still to come.
    Part(usize, u64),
    /// After the optimiser state: the blob is complete.
    Done,
}

/// A checkpoint blob being checked as it streams in.
#[derive(Debug)]
pub struct BlobCheck {
    /// The blob's name in errors.
    origin: String,
    stage: Stage,
    /// The bytes so far of the fixed-size field being read (the tag, a length).
    field: Vec<u8>,
    /// The metadata's bytes, until it is whole.
    meta_bytes: Vec<u8>,
    /// The metadata, once read and checked.
    meta: Option<CheckpointMeta>,
    /// The hash of the part being read (weights or optimiser state).
    hasher: Sha256,
}

impl BlobCheck {
    /// A check of the blob `origin` (named in errors, as `from_bytes` names it).
    pub fn new(origin: &str) -> Self {
        Self {
            origin: origin.to_string(),
            stage: Stage::Magic,
            field: Vec::with_capacity(8),
            meta_bytes: Vec::new(),
            meta: None,
            hasher: Sha256::new(),
        }
    }

    /// Checks the next `chunk` of the blob; refused at the first part that is damaged.
    pub fn feed(&mut self, mut chunk: &[u8]) -> Result<()> {
        while !chunk.is_empty() {
            chunk = match self.stage {
                Stage::Magic => {
                    let rest = self.fill_field(chunk);
                    if !BLOB_MAGIC.starts_with(&self.field) {
                        return Err(self.bad("not a gptsweep checkpoint blob".into()));
                    }
                    if self.field.len() == BLOB_MAGIC.len() {
                        self.field.clear();
                        self.stage = Stage::Length(0);
                    }
                    rest
                }
                Stage::Length(i) => {
                    let rest = self.fill_field(chunk);
                    if self.field.len() == 8 {
                        let len = u64::from_le_bytes(self.field[..].try_into().expect("8 bytes"));
                        self.field.clear();
                        let limit = if i == 0 {
                            MAX_META_BYTES
                        } else {
                            MAX_WEIGHTS_BYTES
                        };
                        if len > limit {
                            return Err(self.bad(format!(
                                "{}: {len} bytes is over the limit of {limit}",
                                PARTS[i]
                            )));
                        }
                        self.stage = Stage::Part(i, len);
                        if len == 0 {
                            self.part_done(i)?;
                        }
                    }
                    rest
                }
                Stage::Part(i, left) => {
                    let take = left.min(chunk.len() as u64) as usize;
                    let (part, rest) = chunk.split_at(take);
                    if i == 0 {
                        self.meta_bytes.extend_from_slice(part);
                    } else {
                        self.hasher.update(part);
                    }
                    self.stage = Stage::Part(i, left - take as u64);
                    if left == take as u64 {
                        self.part_done(i)?;
                    }
                    rest
                }
                Stage::Done => {
                    return Err(self.bad(format!(
                        "{} bytes after {OPTIM}: a checkpoint blob ends with its optimiser state",
                        chunk.len()
                    )));
                }
            };
        }
        Ok(())
    }

    /// The end of the blob: refused if it stopped short of its optimiser state's last
    /// byte; else answers its metadata.
    pub fn finish(mut self) -> Result<CheckpointMeta> {
        let why = match self.stage {
            Stage::Done => match self.meta.take() {
                Some(meta) => return Ok(meta),
                None => "no metadata before the weights".to_string(),
            },
            Stage::Magic => "not a gptsweep checkpoint blob".to_string(),
            Stage::Length(i) => format!("truncated before {}", PARTS[i]),
            Stage::Part(i, _) => format!("truncated inside {}", PARTS[i]),
        };
        Err(self.bad(why))
    }

    /// Moves bytes of `chunk` into the fixed-size field being read (up to its 8 bytes);
    /// answers the rest.
    fn fill_field<'a>(&mut self, chunk: &'a [u8]) -> &'a [u8] {
        let take = (8 - self.field.len()).min(chunk.len());
        self.field.extend_from_slice(&chunk[..take]);
        &chunk[take..]
    }

    /// Part `i` is whole: the metadata is read and checked, a hash compared with it.
    fn part_done(&mut self, i: usize) -> Result<()> {
        match i {
            0 => {
                let bytes = std::mem::take(&mut self.meta_bytes);
                let meta: CheckpointMeta =
                    serde_json::from_slice(&bytes).map_err(|e| self.bad(format!("{META}: {e}")))?;
                if let Some(why) = meta.refusal() {
                    return Err(self.bad(why));
                }
                self.meta = Some(meta);
            }
            _ => {
                let hash = hex::encode(std::mem::take(&mut self.hasher).finalize());
                let Some(meta) = self.meta.as_ref() else {
                    return Err(self.bad("no metadata before the weights".into()));
                };
                let want = if i == 1 {
                    &meta.model_sha256
                } else {
                    &meta.optim_sha256
                };
                if &hash != want {
                    return Err(
                        self.bad("corrupt: a blob's sha256 does not match its metadata".into())
                    );
                }
            }
        }
        self.stage = if i + 1 < PARTS.len() {
            Stage::Length(i + 1)
        } else {
            Stage::Done
        };
        Ok(())
    }

    fn bad(&self, reason: String) -> GptError {
        GptError::Checkpoint {
            path: self.origin.clone().into(),
            reason,
        }
    }
}
