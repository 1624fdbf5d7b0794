//! The PyTorch names and layouts a gptsweep model is exported under. Two models of the
//! lecture exist in PyTorch: the lecture's own final gpt.py (`Layout::Lecture`: separate
//! `key`/`query`/`value` Linear layers per head, `token_embedding_table`, `sa`,
//! `ffwd.net`, `lm_head`), and the batched one of this repository's `bench/torch_gpt.py`
//! (`Layout::Fused`: one `qkv` Linear for all heads, `tok`, `attn`, `ffwd.0`, `head`),
//! which is gptsweep's own arrangement. Linear weights are transposed from burn's
//! `[in, out]` to PyTorch's `[out, in]`; LayerNorm's `gamma`/`beta` become
//! `weight`/`bias`; each attention's causal mask (`tril`, a persistent buffer in both
//! models) is written too, so that `load_state_dict` takes the file as it is.

use std::collections::HashMap;

use super::params::Weight;
use super::safetensors::NamedTensor;
use crate::config::ModelConfig;

/// Which PyTorch model's state_dict names the file uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Layout {
    /// The lecture's gpt.py (`GPTLanguageModel`), heads as separate modules.
    #[default]
    Lecture,
    /// `bench/torch_gpt.py`'s `GPT`, all heads in one `qkv` projection.
    Fused,
}

impl Layout {
    /// The name flags and the file's metadata use.
    pub fn name(self) -> &'static str {
        match self {
            Self::Lecture => "lecture",
            Self::Fused => "fused",
        }
    }

    /// The layout named `name`, if any.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Lecture, Self::Fused]
            .into_iter()
            .find(|l| l.name() == name)
    }
}

/// The tensors of the model `config` describes, from its burn `weights`, named and laid
/// out for `layout`; the path of a weight that is missing or misshapen, if one is.
pub fn tensors(
    config: &ModelConfig,
    weights: &HashMap<String, Weight>,
    layout: Layout,
) -> Result<Vec<NamedTensor>, String> {
    if config.n_head == 0 || !config.n_embd.is_multiple_of(config.n_head) {
        return Err(format!(
            "n_head = {} does not divide n_embd = {}",
            config.n_head, config.n_embd
        ));
    }
    let mut out = Vec::new();
    let get = |path: &str, shape: &[usize]| -> Result<&Weight, String> {
        let w = weights
            .get(path)
            .ok_or_else(|| format!("the weights hold no {path}"))?;
        if w.shape != shape || w.data.len() != shape.iter().product::<usize>() {
            return Err(format!("{path} is {:?}, expected {shape:?}", w.shape));
        }
        Ok(w)
    };
    let (c, v, t) = (config.n_embd, config.vocab_size, config.block_size);
    let copy = |name: String, w: &Weight| NamedTensor {
        name,
        shape: w.shape.clone(),
        data: w.data.clone(),
    };
    // A burn Linear's `[in, out]` weight, columns `cols` of it, as PyTorch's `[out, in]`.
    let transposed = |name: String, w: &Weight, cols: std::ops::Range<usize>| {
        let (d_in, d_out) = (w.shape[0], w.shape[1]);
        let mut data = Vec::with_capacity(d_in * cols.len());
        for o in cols.clone() {
            data.extend((0..d_in).map(|i| w.data[i * d_out + o]));
        }
        NamedTensor {
            name,
            shape: vec![cols.len(), d_in],
            data,
        }
    };
    let linear = |out: &mut Vec<NamedTensor>, from: &str, to: &str, d_in, d_out| {
        let w = get(&format!("{from}.weight"), &[d_in, d_out])?;
        out.push(transposed(format!("{to}.weight"), w, 0..d_out));
        let b = get(&format!("{from}.bias"), &[d_out])?;
        out.push(copy(format!("{to}.bias"), b));
        Ok::<_, String>(())
    };
    let layer_norm = |out: &mut Vec<NamedTensor>, from: &str, to: &str| {
        out.push(copy(
            format!("{to}.weight"),
            get(&format!("{from}.gamma"), &[c])?,
        ));
        out.push(copy(
            format!("{to}.bias"),
            get(&format!("{from}.beta"), &[c])?,
        ));
        Ok::<_, String>(())
    };
    let tril = |name: String| NamedTensor {
        name,
        shape: vec![t, t],
        data: (0..t * t)
            .map(|k| if k % t <= k / t { 1.0 } else { 0.0 })
            .collect(),
    };
    let names = Names::of(layout);
    out.push(copy(names.tok.into(), get("tok_emb.weight", &[v, c])?));
    out.push(copy(names.pos.into(), get("pos_emb.weight", &[t, c])?));
    for i in 0..config.n_layer {
        let from = format!("blocks.{i}");
        let to = format!("blocks.{i}");
        let qkv = get(&format!("{from}.attn.qkv.weight"), &[c, 3 * c])?;
        match layout {
            Layout::Fused => {
                out.push(transposed(format!("{to}.attn.qkv.weight"), qkv, 0..3 * c));
                out.push(tril(format!("{to}.attn.tril")));
            }
            Layout::Lecture => {
                // q, k and v are the thirds of qkv's output, each head `d` columns of its third.
                let d = c / config.n_head;
                for h in 0..config.n_head {
                    let head = format!("{to}.sa.heads.{h}");
                    for (third, part) in ["query", "key", "value"].into_iter().enumerate() {
                        let start = third * c + h * d;
                        out.push(transposed(
                            format!("{head}.{part}.weight"),
                            qkv,
                            start..start + d,
                        ));
                    }
                    out.push(tril(format!("{head}.tril")));
                }
            }
        }
        linear(
            &mut out,
            &format!("{from}.attn.proj"),
            &format!("{to}.{}", names.proj),
            c,
            c,
        )?;
        linear(
            &mut out,
            &format!("{from}.ffwd.fc"),
            &format!("{to}.{}", names.fc),
            c,
            4 * c,
        )?;
        linear(
            &mut out,
            &format!("{from}.ffwd.proj"),
            &format!("{to}.{}", names.fc_proj),
            4 * c,
            c,
        )?;
        layer_norm(&mut out, &format!("{from}.ln1"), &format!("{to}.ln1"))?;
        layer_norm(&mut out, &format!("{from}.ln2"), &format!("{to}.ln2"))?;
    }
    layer_norm(&mut out, "ln_f", "ln_f")?;
    linear(&mut out, "lm_head", names.head, c, v)?;
    Ok(out)
}

/// The modules whose names differ between the layouts.
struct Names {
    tok: &'static str,
    pos: &'static str,
    /// A block's attention output projection, under `blocks.N.`.
    proj: &'static str,
    /// A block's feed-forward expansion, under `blocks.N.`.
    fc: &'static str,
    /// A block's feed-forward projection back, under `blocks.N.`.
    fc_proj: &'static str,
    head: &'static str,
}

impl Names {
    fn of(layout: Layout) -> Self {
        match layout {
            Layout::Lecture => Self {
                tok: "token_embedding_table.weight",
                pos: "position_embedding_table.weight",
                proj: "sa.proj",
                fc: "ffwd.net.0",
                fc_proj: "ffwd.net.2",
                head: "lm_head",
            },
            Layout::Fused => Self {
                tok: "tok.weight",
                pos: "pos.weight",
                proj: "attn.proj",
                fc: "ffwd.0",
                fc_proj: "ffwd.2",
                head: "head",
            },
        }
    }
}
