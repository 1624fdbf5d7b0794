//! A burn model's weights by their paths in burn's module tree (`blocks.0.attn.qkv.weight`,
//! `ln_f.gamma`), with shapes and values, in burn's own layout (a `Linear` weight is
//! `[d_in, d_out]`): what an exporter renames and transposes.

use std::collections::HashMap;

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::Tensor;
use burn::tensor::backend::Backend;

use crate::model::Gpt;

/// One weight: its shape and row-major values.
#[derive(Debug, Clone)]
pub struct Weight {
    /// Shape in burn's layout.
    pub shape: Vec<usize>,
    /// Values, row-major.
    pub data: Vec<f32>,
}

/// Every float parameter of `model` by its dotted path.
pub fn weights<B: Backend>(model: &Gpt<B>) -> HashMap<String, Weight> {
    let mut visitor = Collect::default();
    model.visit(&mut visitor);
    visitor.found
}

/// Collects each float parameter's dotted path, shape and values.
#[derive(Default)]
struct Collect {
    /// The modules entered so far, outermost first.
    path: Vec<String>,
    /// What was found.
    found: HashMap<String, Weight>,
}

impl<B: Backend> ModuleVisitor<B> for Collect {
    fn enter_module(&mut self, name: &str, _container_type: &str) {
        self.path.push(name.to_string());
    }

    fn exit_module(&mut self, _name: &str, _container_type: &str) {
        self.path.pop();
    }

    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<B, D>>) {
        let tensor = param.val();
        let shape = tensor.dims().to_vec();
        let data = tensor
            .into_data()
            .convert::<f32>()
            .to_vec::<f32>()
            .unwrap_or_default();
        self.found
            .insert(self.path.join("."), Weight { shape, data });
    }
}
