//! A checkpoint's weights checked against the model its `meta.json` describes, before and
//! while they are loaded. burn's `load_record` panics on a record with another number of
//! blocks ("The vec record does not the same length as the module") and takes tensors of
//! any shape without a word, so a `meta.json` whose architecture was edited consistently
//! (`n_layer` in both `model` and `hyperparams`, which the metadata's own checks cannot
//! tell from a real run) would crash `sample` or `train --resume`; one that claims a model
//! of billions of parameters would have them allocated first (an abort, not an error).
//! Here the weights' size and block count are compared before anything is allocated, and
//! every weight tensor's shape after loading; a mismatch is named.

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::config::ModelConfig;
use crate::model::{Gpt, GptRecord};

/// One weight tensor of a model: its path (`blocks.0.attn.qkv.weight`) and shape.
pub(super) type TensorShape = (String, Vec<usize>);

/// Bytes a stored weight takes at least (an `f32`).
const BYTES_PER_WEIGHT: usize = 4;

/// Why `weights_len` bytes of weights cannot hold the model of `config` (too few bytes for
/// its parameters), if they cannot. Checked before the model is built, which allocates
/// every parameter.
pub(super) fn size_mismatch(
    config: &ModelConfig,
    weights_len: usize,
    weights: &str,
) -> Option<String> {
    let params = config.num_params();
    (weights_len / BYTES_PER_WEIGHT < params).then(|| {
        format!(
            "{weights} is {weights_len} bytes, too small for the {params} parameters of \
             meta.json's model ({config})"
        )
    })
}

/// Why `record` cannot be loaded into the model of `config` (another number of blocks),
/// if it cannot; `weights` names the file the record came from.
pub(super) fn block_mismatch<B: Backend>(
    config: &ModelConfig,
    record: &GptRecord<B>,
    weights: &str,
) -> Option<String> {
    let held = record.blocks.len();
    (held != config.n_layer).then(|| {
        format!(
            "{weights} holds {held} transformer block{}, but meta.json's model has n_layer = {}",
            if held == 1 { "" } else { "s" },
            config.n_layer
        )
    })
}

/// Every weight tensor of `model` with its shape, in the model's order.
pub(super) fn shapes<B: Backend>(model: &Gpt<B>) -> Vec<TensorShape> {
    let mut visitor = Shapes::default();
    model.visit(&mut visitor);
    visitor.found
}

/// The first difference between the shapes a model loaded from `weights` has (`held`) and
/// those the model of `config` needs (`needed`), if any.
pub(super) fn shape_mismatch(
    held: &[TensorShape],
    needed: &[TensorShape],
    config: &ModelConfig,
    weights: &str,
) -> Option<String> {
    if held.len() != needed.len() {
        return Some(format!(
            "{weights} holds {} weight tensors, but meta.json's model ({config}) has {}",
            held.len(),
            needed.len()
        ));
    }
    held.iter()
        .zip(needed)
        .find(|(h, n)| h != n)
        .map(|((path, shape), (want_path, want))| {
            if path == want_path {
                format!(
                    "{weights}: {path} is {shape:?}, but meta.json's model ({config}) needs {want:?}"
                )
            } else {
                format!(
                    "{weights} holds {path} where meta.json's model ({config}) has {want_path}"
                )
            }
        })
}

/// Collects each float parameter's dotted path and shape.
#[derive(Default)]
struct Shapes {
    /// The modules entered so far, outermost first.
    path: Vec<String>,
    /// What was found.
    found: Vec<TensorShape>,
}

impl<B: Backend> ModuleVisitor<B> for Shapes {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        self.found
            .push((self.path.join("."), param.lazy_shape().to_vec()));
    }
}
