//! burn-flex tensors as the fused kernels see them: contiguous `f32` slices in, `Vec<f32>`
//! out.

use burn::backend::flex::FlexTensor;
use burn::tensor::TensorData;

/// The values of a contiguous `f32` tensor.
pub fn slice(t: &FlexTensor) -> &[f32] {
    t.as_slice::<f32>()
        .expect("fused kernels run on contiguous f32 tensors")
}

/// A tensor of `shape` holding `values`.
pub fn tensor(values: Vec<f32>, shape: Vec<usize>) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(values, shape))
}
