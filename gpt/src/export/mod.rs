//! A checkpoint's model for PyTorch: its weights as a safetensors file under the state_dict
//! names of a PyTorch GPT of the lecture ([`Layout`]), with what rebuilds that model in the
//! file's `__metadata__` (string values): the architecture (`vocab_size`, `block_size`,
//! `n_embd`, `n_head`, `n_layer`, `dropout`), the tokenizer (`tokenizer`: `char` or `gpt2`;
//! for characters `vocabulary`, the characters in token order), the run's `hyperparams`
//! (JSON), `layout`, `step` and the dataset's name and sha256. `gptsweep export --format
//! safetensors` writes it.

mod layout;
mod params;
pub mod safetensors;

use std::collections::BTreeMap;

use burn::tensor::backend::Backend;

pub use layout::Layout;
pub use safetensors::{NamedTensor, SafeTensors};

use crate::backend::CpuInfer;
use crate::checkpoint::{Checkpoint, CheckpointMeta};
use crate::error::Result;
use crate::model::Gpt;
use crate::tokenizer::Tokenizer;

/// The safetensors file of `checkpoint`'s model in `layout`.
pub fn to_safetensors(checkpoint: &Checkpoint, layout: Layout) -> Result<Vec<u8>> {
    let model = checkpoint.load_model::<CpuInfer>(&Default::default())?;
    let file = of_model(&model, &checkpoint.meta, layout).map_err(|why| checkpoint.corrupt(why))?;
    Ok(file.to_bytes())
}

/// `model`, the model of `meta`, as named tensors and metadata in `layout`.
pub fn of_model<B: Backend>(
    model: &Gpt<B>,
    meta: &CheckpointMeta,
    layout: Layout,
) -> std::result::Result<SafeTensors, String> {
    let tensors = layout::tensors(&meta.model, &params::weights(model), layout)?;
    Ok(SafeTensors {
        tensors,
        metadata: metadata(meta, layout),
    })
}

/// What rebuilds the model: architecture, tokenizer, provenance.
fn metadata(meta: &CheckpointMeta, layout: Layout) -> BTreeMap<String, String> {
    let m = &meta.model;
    let mut out: BTreeMap<String, String> = [
        ("format", "pt".to_string()),
        (
            "producer",
            format!("gptsweep {}", env!("CARGO_PKG_VERSION")),
        ),
        ("layout", layout.name().to_string()),
        ("vocab_size", m.vocab_size.to_string()),
        ("block_size", m.block_size.to_string()),
        ("n_embd", m.n_embd.to_string()),
        ("n_head", m.n_head.to_string()),
        ("n_layer", m.n_layer.to_string()),
        ("dropout", m.dropout.to_string()),
        ("tokenizer", meta.tokenizer.kind().name().to_string()),
        ("step", meta.step.to_string()),
        ("dataset_name", meta.dataset_name.clone()),
        ("dataset_sha256", meta.dataset_sha256.clone()),
        (
            "hyperparams",
            serde_json::to_string(&meta.hyperparams).expect("hyperparameters serialise"),
        ),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    if let Tokenizer::Char(_) = &meta.tokenizer {
        let ids: Vec<u16> = (0..meta.tokenizer.vocab_size() as u16).collect();
        out.insert("vocabulary".into(), meta.tokenizer.decode(&ids));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Hyperparams, ModelConfig};

    fn tiny() -> ModelConfig {
        Hyperparams {
            block_size: 8,
            n_embd: 12,
            n_head: 3,
            n_layer: 2,
            dropout: 0.0,
            ..Default::default()
        }
        .model_config(7)
    }

    fn exported(layout: Layout) -> Vec<NamedTensor> {
        let cfg = tiny();
        let model = Gpt::<CpuInfer>::init(&cfg, 3, &Default::default());
        layout::tensors(&cfg, &params::weights(&model), layout).unwrap()
    }

    fn find<'a>(tensors: &'a [NamedTensor], name: &str) -> &'a NamedTensor {
        tensors
            .iter()
            .find(|t| t.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
    }

    #[test]
    fn every_parameter_is_exported_once_in_pytorch_shapes() {
        let cfg = tiny();
        for layout in [Layout::Lecture, Layout::Fused] {
            let tensors = exported(layout);
            let mut names: Vec<_> = tensors.iter().map(|t| &t.name).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), tensors.len(), "{layout:?}: a name twice");
            let params: usize = tensors
                .iter()
                .filter(|t| !t.name.ends_with(".tril"))
                .map(|t| t.data.len())
                .sum();
            assert_eq!(params, cfg.num_params(), "{layout:?}");
        }
        let fused = exported(Layout::Fused);
        assert_eq!(find(&fused, "blocks.1.attn.qkv.weight").shape, [36, 12]);
        assert_eq!(find(&fused, "head.weight").shape, [7, 12]);
        assert_eq!(find(&fused, "blocks.0.ffwd.0.weight").shape, [48, 12]);
        let lecture = exported(Layout::Lecture);
        assert_eq!(
            find(&lecture, "blocks.1.sa.heads.2.key.weight").shape,
            [4, 12]
        );
        assert_eq!(find(&lecture, "lm_head.weight").shape, [7, 12]);
        let tril = find(&lecture, "blocks.0.sa.heads.0.tril");
        assert_eq!(&tril.data[..10], [1., 0., 0., 0., 0., 0., 0., 0., 1., 1.]);
    }

    #[test]
    fn weights_that_do_not_fit_are_refused_not_panicked_on() {
        let cfg = tiny();
        let model = Gpt::<CpuInfer>::init(&cfg, 3, &Default::default());
        let weights = params::weights(&model);
        let no_heads = ModelConfig { n_head: 0, ..cfg };
        let err = layout::tensors(&no_heads, &weights, Layout::Lecture).unwrap_err();
        assert!(err.contains("n_head = 0"), "{err}");
        let wider = ModelConfig {
            n_embd: 24,
            n_head: 3,
            ..cfg
        };
        let err = layout::tensors(&wider, &weights, Layout::Fused).unwrap_err();
        assert!(
            err.contains("tok_emb.weight is [7, 12], expected [7, 24]"),
            "{err}"
        );
        let mut missing = weights.clone();
        missing.remove("blocks.1.ln2.beta");
        let err = layout::tensors(&cfg, &missing, Layout::Fused).unwrap_err();
        assert_eq!(err, "the weights hold no blocks.1.ln2.beta");
    }

    #[test]
    fn the_heads_of_the_lecture_layout_are_the_rows_of_the_fused_qkv() {
        let (fused, lecture) = (exported(Layout::Fused), exported(Layout::Lecture));
        let qkv = &find(&fused, "blocks.1.attn.qkv.weight").data;
        let (c, d) = (12, 4);
        for (third, part) in ["query", "key", "value"].into_iter().enumerate() {
            for h in 0..3 {
                let head = &find(&lecture, &format!("blocks.1.sa.heads.{h}.{part}.weight")).data;
                let row0 = (third * c + h * d) * c;
                assert_eq!(head[..], qkv[row0..row0 + d * c], "{part} of head {h}");
            }
        }
    }
}
