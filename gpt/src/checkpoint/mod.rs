//! Checkpoints: everything needed to continue a run exactly, or to sample from it.
//! A checkpoint is three blobs: `meta.json` (hyperparameters, architecture, vocabulary,
//! dataset identity, step, evaluations, and the sha256 of the other two), `model.mpk`
//! (weights) and `optim.mpk` (AdamW moments). It lives in memory as bytes, so a worker can
//! ship it over the network, and on disk as a directory written atomically (staged, then
//! renamed), so a crash never leaves a half-written checkpoint behind. Whatever is read
//! is checked (gptsweep-core's checkpoint rules) before it is used; a blob arriving in chunks is checked as it
//! comes ([`BlobCheck`]).

#[cfg(test)]
mod blob_check_tests;
mod shapes;

pub use gptsweep_core::checkpoint::{
    BLOB_MAGIC, BlobCheck, CHECKPOINT_FORMAT, CheckpointMeta, MAX_META_BYTES, MAX_WEIGHTS_BYTES,
    META, MODEL, OPTIM,
};

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::AdamW;
use burn::optim::Optimizer;
use burn::optim::adaptor::OptimizerAdaptor;
use burn::record::{FullPrecisionSettings, NamedMpkBytesRecorder, Recorder};
use burn::tensor::backend::{AutodiffBackend, Backend};
use sha2::{Digest, Sha256};

use crate::error::{GptError, Result};
use crate::model::{Gpt, GptRecord};

/// A checkpoint in memory.
#[derive(Debug, Clone)]
pub struct Checkpoint {
    /// Hyperparameters, vocabulary, progress.
    pub meta: CheckpointMeta,
    /// Weights, named MessagePack.
    pub model_bytes: Vec<u8>,
    /// Optimiser state, named MessagePack.
    pub optim_bytes: Vec<u8>,
    /// Where it was read from, for error messages.
    origin: PathBuf,
}

type Rec = NamedMpkBytesRecorder<FullPrecisionSettings>;

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

impl Checkpoint {
    /// Serialises `model` and `optim` under `meta`.
    pub fn capture<B: AutodiffBackend>(
        mut meta: CheckpointMeta,
        model: &Gpt<B>,
        optim: &OptimizerAdaptor<AdamW, Gpt<B>, B>,
    ) -> Result<Self> {
        let model_bytes = Recorder::<B>::record(&Rec::default(), model.clone().into_record(), ())
            .map_err(|e| GptError::Checkpoint {
            path: "<memory>".into(),
            reason: format!("cannot serialise the model: {e}"),
        })?;
        let optim_bytes =
            Recorder::<B>::record(&Rec::default(), optim.to_record(), ()).map_err(|e| {
                GptError::Checkpoint {
                    path: "<memory>".into(),
                    reason: format!("cannot serialise the optimiser: {e}"),
                }
            })?;
        meta.model_sha256 = sha(&model_bytes);
        meta.optim_sha256 = sha(&optim_bytes);
        Ok(Self {
            meta,
            model_bytes,
            optim_bytes,
            origin: "<memory>".into(),
        })
    }

    /// An error about this checkpoint.
    pub fn corrupt(&self, reason: impl Into<String>) -> GptError {
        GptError::Checkpoint {
            path: self.origin.clone(),
            reason: reason.into(),
        }
    }

    /// The model with the checkpoint's weights, on any backend. Weights that do not fit
    /// the architecture of `meta.json` (another number of blocks, a tensor of another
    /// shape) are refused naming the difference, before burn would panic on them.
    pub fn load_model<B: Backend>(&self, device: &B::Device) -> Result<Gpt<B>> {
        let config = &self.meta.model;
        if let Some(why) = shapes::size_mismatch(config, self.model_bytes.len(), MODEL) {
            return Err(self.corrupt(why));
        }
        let record: GptRecord<B> =
            Recorder::<B>::load(&Rec::default(), self.model_bytes.clone(), device).map_err(
                |e| self.corrupt(format!("{MODEL} does not hold this model's weights: {e}")),
            )?;
        if let Some(why) = shapes::block_mismatch(config, &record, MODEL) {
            return Err(self.corrupt(why));
        }
        let model = Gpt::<B>::init_for_loading(config, device);
        let needed = shapes::shapes(&model);
        let model = model.load_record(record);
        if let Some(why) = shapes::shape_mismatch(&shapes::shapes(&model), &needed, config, MODEL) {
            return Err(self.corrupt(why));
        }
        Ok(model)
    }

    /// `optim` with the checkpoint's AdamW state.
    pub fn load_optimizer<B: AutodiffBackend>(
        &self,
        optim: OptimizerAdaptor<AdamW, Gpt<B>, B>,
        device: &B::Device,
    ) -> Result<OptimizerAdaptor<AdamW, Gpt<B>, B>> {
        let record = Recorder::<B>::load(&Rec::default(), self.optim_bytes.clone(), device)
            .map_err(|e| {
                self.corrupt(format!(
                    "{OPTIM} does not hold this run's optimiser state: {e}"
                ))
            })?;
        Ok(optim.load_record(record))
    }

    /// The checkpoint as one blob (to ship or store by hash): a magic tag, then the
    /// metadata, weights and optimiser state, each behind its length.
    pub fn to_bytes(&self) -> Vec<u8> {
        let meta = serde_json::to_vec(&self.meta).expect("checkpoint metadata serialises");
        let mut out = Vec::with_capacity(
            8 + 24 + meta.len() + self.model_bytes.len() + self.optim_bytes.len(),
        );
        out.extend_from_slice(BLOB_MAGIC);
        for part in [meta.as_slice(), &self.model_bytes, &self.optim_bytes] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        out
    }

    /// Reads a blob made by [`Checkpoint::to_bytes`], verifying its hashes; `origin` names it in errors.
    pub fn from_bytes(bytes: &[u8], origin: &str) -> Result<Self> {
        let bad = |reason: String| GptError::Checkpoint {
            path: origin.into(),
            reason,
        };
        let rest = bytes
            .strip_prefix(BLOB_MAGIC)
            .ok_or_else(|| bad("not a gptsweep checkpoint blob".into()))?;
        let mut parts = Vec::with_capacity(3);
        let mut rest = rest;
        for name in [META, MODEL, OPTIM] {
            let (len, tail) = rest
                .split_at_checked(8)
                .ok_or_else(|| bad(format!("truncated before {name}")))?;
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
            let (part, tail) = tail
                .split_at_checked(len)
                .ok_or_else(|| bad(format!("truncated inside {name}")))?;
            parts.push(part);
            rest = tail;
        }
        let meta: CheckpointMeta =
            serde_json::from_slice(parts[0]).map_err(|e| bad(format!("{META}: {e}")))?;
        if let Some(why) = meta.refusal() {
            return Err(bad(why));
        }
        if sha(parts[1]) != meta.model_sha256 || sha(parts[2]) != meta.optim_sha256 {
            return Err(bad(
                "corrupt: a blob's sha256 does not match its metadata".into()
            ));
        }
        Ok(Self {
            meta,
            model_bytes: parts[1].to_vec(),
            optim_bytes: parts[2].to_vec(),
            origin: origin.into(),
        })
    }

    /// Writes the checkpoint to `dir` atomically: staged beside it, then renamed over it.
    pub fn save(&self, dir: &Path) -> Result<()> {
        let staging = sibling(dir, "staging");
        let old = sibling(dir, "old");
        let _ = std::fs::remove_dir_all(&staging);
        std::fs::create_dir_all(&staging).map_err(|e| GptError::io(&staging, e))?;
        let meta = serde_json::to_vec_pretty(&self.meta).expect("checkpoint metadata serialises");
        for (name, bytes) in [
            (META, meta.as_slice()),
            (MODEL, &self.model_bytes),
            (OPTIM, &self.optim_bytes),
        ] {
            let path = staging.join(name);
            std::fs::write(&path, bytes).map_err(|e| GptError::io(&path, e))?;
        }
        let _ = std::fs::remove_dir_all(&old);
        if dir.exists() {
            std::fs::rename(dir, &old).map_err(|e| GptError::io(dir, e))?;
        }
        std::fs::rename(&staging, dir).map_err(|e| GptError::io(dir, e))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Reads and verifies the checkpoint in `dir`.
    pub fn load(dir: &Path) -> Result<Self> {
        let bad = |reason: String| GptError::Checkpoint {
            path: dir.to_path_buf(),
            reason,
        };
        if !dir.is_dir() {
            return Err(bad("no such checkpoint directory".into()));
        }
        let read = |name: &str, limit: u64| {
            crate::input_file::read_bounded(name, &dir.join(name), limit).map_err(|e| match e {
                GptError::Input { reason, .. } => bad(format!("{name}: {reason}")),
                other => other,
            })
        };
        let meta: CheckpointMeta = serde_json::from_slice(&read(META, MAX_META_BYTES)?)
            .map_err(|e| bad(format!("{META} is not a gptsweep checkpoint: {e}")))?;
        if let Some(why) = meta.refusal() {
            return Err(bad(why));
        }
        let model_bytes = read(MODEL, MAX_WEIGHTS_BYTES)?;
        if sha(&model_bytes) != meta.model_sha256 {
            return Err(bad(format!(
                "{MODEL} is corrupt (its sha256 does not match {META})"
            )));
        }
        let optim_bytes = read(OPTIM, MAX_WEIGHTS_BYTES)?;
        if sha(&optim_bytes) != meta.optim_sha256 {
            return Err(bad(format!(
                "{OPTIM} is corrupt (its sha256 does not match {META})"
            )));
        }
        Ok(Self {
            meta,
            model_bytes,
            optim_bytes,
            origin: dir.to_path_buf(),
        })
    }
}

fn sibling(dir: &Path, suffix: &str) -> PathBuf {
    let mut name = dir
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    name.push(format!(".{suffix}"));
    dir.with_file_name(name)
}
