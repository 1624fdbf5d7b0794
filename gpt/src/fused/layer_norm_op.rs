//! The fused LayerNorm as a graph node of its own on `Autodiff<Flex>` (training), its backward
//! pass [`layer_norm_kernel::backward`]. Without autodiff burn-flex already runs LayerNorm as
//! one kernel, so evaluation keeps burn's.

use burn::backend::Flex;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::FlexTensor;
use burn::tensor::TensorMetadata;
use burn::tensor::ops::FloatTensor;

use super::layer_norm_kernel;
use super::primitive::{slice, tensor};
use crate::backend::CpuTrain;

type TrainTensor = FloatTensor<CpuTrain>;

#[derive(Debug)]
struct LayerNormBackward;

impl Backward<Flex, 3> for LayerNormBackward {
    /// The input, gamma, and each row's mean and 1 / std (flattened pairs).
    type State = (FlexTensor, FlexTensor, Vec<[f32; 2]>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [node_x, node_gamma, node_beta] = ops.parents;
        let grad_y = grads.consume::<Flex>(&ops.node).to_contiguous();
        let (x, gamma, stats) = ops.state;
        let (gx, gg, gb) =
            layer_norm_kernel::backward(slice(&x), &stats, slice(&gamma), slice(&grad_y));
        let width = vec![gg.len()];
        if let Some(node) = node_x {
            grads.register::<Flex>(node.id, tensor(gx, x.shape().to_vec()));
        }
        if let Some(node) = node_gamma {
            grads.register::<Flex>(node.id, tensor(gg, width.clone()));
        }
        if let Some(node) = node_beta {
            grads.register::<Flex>(node.id, tensor(gb, width));
        }
    }
}

/// LayerNorm of `x` over its last dimension on `Autodiff<Flex>`, differentiable in all three.
pub fn train(x: TrainTensor, gamma: TrainTensor, beta: TrainTensor, eps: f32) -> TrainTensor {
    let prep = LayerNormBackward
        .prepare::<NoCheckpointing>([x.node.clone(), gamma.node.clone(), beta.node.clone()])
        .compute_bound()
        .stateful();
    let (input, g) = (x.primitive.to_contiguous(), gamma.primitive.to_contiguous());
    let b = beta.primitive.to_contiguous();
    let (y, stats) = layer_norm_kernel::forward(slice(&input), slice(&g), slice(&b), eps);
    let y = tensor(y, input.shape().to_vec());
    match prep {
        OpsKind::Tracked(prep) => prep.finish((input, g, stats), y),
        OpsKind::UnTracked(prep) => prep.finish(y),
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::LayerNormConfig;
    use burn::tensor::{Distribution, Tensor, Tolerance};

    use crate::backend::CpuTrain;
    use crate::fused;

    /// The fused LayerNorm against burn's on the same input and parameters: output, and the
    /// gradients of input, gamma and beta of a weighted sum of the output.
    #[test]
    fn fused_layer_norm_matches_burns() {
        let device = Default::default();
        for (rows, width) in [(3, 5), (130, 64), (1, 384), (70, 17)] {
            let mut norm = LayerNormConfig::new(width).init::<CpuTrain>(&device);
            let random = |shape: [usize; 1]| {
                Tensor::<CpuTrain, 1>::random(shape, Distribution::Normal(0.5, 1.0), &device)
            };
            norm.gamma = Param::from_tensor(random([width]));
            norm.beta = Some(Param::from_tensor(random([width])));
            let x = Tensor::<CpuTrain, 2>::random(
                [rows, width],
                Distribution::Normal(1.0, 3.0),
                &device,
            );
            let w = Tensor::<CpuTrain, 2>::random(
                [rows, width],
                Distribution::Normal(0.0, 1.0),
                &device,
            );
            let run = |fused: bool| {
                let x = x.clone().detach().require_grad();
                let y = if fused {
                    fused::layer_norm(&norm, x.clone())
                } else {
                    norm.forward(x.clone())
                };
                let grads = (y.clone() * w.clone()).sum().backward();
                let beta = norm.beta.as_ref().expect("a bias");
                [
                    y.inner().into_data(),
                    x.grad(&grads).expect("input gradient").into_data(),
                    norm.gamma.grad(&grads).expect("gamma gradient").into_data(),
                    beta.grad(&grads).expect("beta gradient").into_data(),
                ]
            };
            for (f, c) in run(true).iter().zip(run(false).iter()) {
                f.assert_approx_eq::<f32>(c, Tolerance::absolute(5e-4).set_relative(1e-4));
            }
        }
    }
}
