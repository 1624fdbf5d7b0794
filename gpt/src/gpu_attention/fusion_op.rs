//! [`AttentionOps`] on burn's fusion wrapper (`Fusion<B>`, which burn's `Wgpu` and `Cuda` types
//! are): each call is registered in the fusion stream as one custom operation whose
//! execution runs the inner backend's kernels on the resolved handles. Fusion does not fuse
//! across it; element-wise work before and after still fuses on its own.

use std::marker::PhantomData;

use burn::tensor::Shape;
use burn::tensor::ops::FloatTensor;
use burn_fusion::stream::{Operation, OperationStreams};
use burn_fusion::{Fusion, FusionBackend, FusionRuntime, FusionTensor};
use burn_ir::{CustomOpIr, HandleContainer, OperationIr, TensorIr};

use super::{AttentionOps, Call, Dims};

/// Which kernel a registered operation runs.
#[derive(Debug, Clone, Copy)]
enum Kernel {
    Forward,
    Backward,
    Mask,
}

/// One registered attention call: its inputs and outputs in the stream, and its arguments.
#[derive(Debug, Clone)]
struct AttentionCall<B> {
    desc: CustomOpIr,
    kernel: Kernel,
    call: Call,
    _backend: PhantomData<B>,
}

impl<B: FusionBackend + AttentionOps> Operation<B::FusionRuntime> for AttentionCall<B> {
    fn execute(
        &self,
        handles: &mut HandleContainer<<B::FusionRuntime as FusionRuntime>::FusionHandle>,
    ) {
        let input = |handles: &mut HandleContainer<_>, ir| handles.get_float_tensor::<B>(ir);
        match self.kernel {
            Kernel::Forward => {
                let ([qkv], [out, lse]) = self.desc.as_fixed();
                let qkv = input(handles, qkv);
                let (o, l) = B::attention_forward(qkv, self.call);
                handles.register_float_tensor::<B>(&out.id, o);
                handles.register_float_tensor::<B>(&lse.id, l);
            }
            Kernel::Backward => {
                let ([qkv, out, lse, grad_out], [grad]) = self.desc.as_fixed();
                let [qkv, out, lse, grad_out] =
                    [qkv, out, lse, grad_out].map(|ir| input(handles, ir));
                let g = B::attention_backward(qkv, out, lse, grad_out, self.call);
                handles.register_float_tensor::<B>(&grad.id, g);
            }
            Kernel::Mask => {
                let ([like], [mask]) = self.desc.as_fixed();
                let like = input(handles, like);
                handles.register_float_tensor::<B>(&mask.id, B::attention_mask(like, self.call));
            }
        }
    }
}

/// Registers `kernel` over `inputs`, with outputs of `shapes` (the inputs' type), and returns
/// the outputs.
fn register<B: FusionBackend + AttentionOps>(
    name: &'static str,
    kernel: Kernel,
    call: Call,
    inputs: Vec<FusionTensor<B::FusionRuntime>>,
    shapes: Vec<Shape>,
) -> Vec<FusionTensor<B::FusionRuntime>> {
    let client = inputs[0].client.clone();
    let dtype = inputs[0].dtype;
    let streams = OperationStreams::with_inputs(&inputs);
    let outputs: Vec<TensorIr> = shapes
        .into_iter()
        .map(|shape| TensorIr::uninit(client.create_empty_handle(), shape, dtype))
        .collect();
    let inputs: Vec<TensorIr> = inputs.into_iter().map(FusionTensor::into_ir).collect();
    let desc = CustomOpIr::new(name, &inputs, &outputs);
    let op = AttentionCall::<B> {
        desc: desc.clone(),
        kernel,
        call,
        _backend: PhantomData,
    };
    client.register(streams, OperationIr::Custom(desc), op)
}

/// The one output of a registered operation.
fn single<T>(outputs: Vec<T>) -> T {
    outputs.into_iter().next().expect("one output registered")
}

impl<B: FusionBackend + AttentionOps> AttentionOps for Fusion<B> {
    fn attention_forward(
        qkv: FloatTensor<Self>,
        call: Call,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let Dims {
            batch,
            time,
            heads,
            head_dim,
        } = call.dims;
        let shapes = vec![
            Shape::new([batch, time, heads * head_dim]),
            Shape::new([batch * heads * time]),
        ];
        let mut outputs = register::<B>(
            "gptsweep_attention_forward",
            Kernel::Forward,
            call,
            vec![qkv],
            shapes,
        )
        .into_iter();
        let out = outputs.next().expect("the output registered");
        let lse = outputs.next().expect("the log-sum-exp registered");
        (out, lse)
    }

    fn attention_backward(
        qkv: FloatTensor<Self>,
        out: FloatTensor<Self>,
        lse: FloatTensor<Self>,
        grad_out: FloatTensor<Self>,
        call: Call,
    ) -> FloatTensor<Self> {
        let shape = qkv.shape.clone();
        single(register::<B>(
            "gptsweep_attention_backward",
            Kernel::Backward,
            call,
            vec![qkv, out, lse, grad_out],
            vec![shape],
        ))
    }

    fn attention_mask(like: FloatTensor<Self>, call: Call) -> FloatTensor<Self> {
        let Dims {
            batch, time, heads, ..
        } = call.dims;
        single(register::<B>(
            "gptsweep_attention_mask",
            Kernel::Mask,
            call,
            vec![like],
            vec![Shape::new([batch * heads, time, time])],
        ))
    }
}
