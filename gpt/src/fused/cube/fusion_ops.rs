//! [`GptOps`] methods on `Fusion<B>` (burn's `Wgpu` and `Cuda` types): each runs as a custom
//! operation of the fusion stream, which hands the inner backend's tensors to the same method
//! of `B` (where the kernel is) when the stream executes.

use std::marker::PhantomData;

use burn::tensor::Shape;
use burn::tensor::ops::{FloatTensor, IntTensor};
use burn_fusion::stream::{Operation, OperationStreams};
use burn_fusion::{FusionBackend, FusionRuntime};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, OperationOutput, TensorIr};

use crate::fused::GptOps;

/// The embedding gradient's operation in the stream.
#[derive(Debug)]
struct EmbeddingBackwardOp<B> {
    desc: CustomOpIr,
    vocab: usize,
    backend: PhantomData<B>,
}

impl<B: FusionBackend + GptOps> Operation<B::FusionRuntime> for EmbeddingBackwardOp<B> {
    fn execute(
        &self,
        handles: &mut HandleContainer<<B::FusionRuntime as FusionRuntime>::FusionHandle>,
    ) {
        let ([grad, ids], [out]) = self.desc.as_fixed();
        let grad = handles.get_float_tensor::<B>(grad);
        let ids = handles.get_int_tensor::<B>(ids);
        let table = B::token_embedding_backward(self.vocab, grad, ids);
        handles.register_float_tensor::<B>(&out.id, table);
    }
}

/// [`GptOps::token_embedding_backward`] on `Fusion<B>`.
pub fn embedding_backward<B: FusionBackend + GptOps>(
    vocab: usize,
    grad: FloatTensor<burn_fusion::Fusion<B>>,
    ids: IntTensor<burn_fusion::Fusion<B>>,
) -> FloatTensor<burn_fusion::Fusion<B>> {
    let client = grad.client.clone();
    let width = grad.shape[grad.shape.num_dims() - 1];
    let streams = OperationStreams::with_inputs([&grad, &ids]);
    let out = TensorIr::uninit(
        client.create_empty_handle(),
        Shape::new([vocab, width]),
        grad.dtype,
    );
    let desc = CustomOpIr::new(
        "gptsweep_embedding_backward",
        &[grad.into_ir(), ids.into_ir()],
        &[out],
    );
    let op = EmbeddingBackwardOp::<B> {
        desc: desc.clone(),
        vocab,
        backend: PhantomData,
    };
    client
        .register(streams, OperationIr::Custom(desc), op)
        .output()
}
