//! `precision: bf16` on the CPU backend (burn-flex multiplies bf16 operands in f32 and
//! rounds the product to bf16, as CUDA's bf16 products do): training follows f32's losses
//! within bf16's rounding, a bf16 checkpoint resumes in bf16, exactly.
//!
//! burn-flex keeps one process-wide RNG, so tests that seed it run one at a time.

mod common;
mod cpu_training;

use common::small_corpus;
use cpu_training::{losses, serial, train};
use gptsweep_gpt::backend::CpuTrain;
use gptsweep_gpt::{Checkpoint, Flow, Hyperparams, Precision, Trainer};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The CPU tests' tiny model, evaluated every 10 steps at a higher rate, in `precision`.
fn tiny(precision: Precision, max_iters: usize, dropout: f64) -> Hyperparams {
    Hyperparams {
        lr: 3e-3,
        eval_interval: 10,
        precision,
        ..cpu_training::tiny(max_iters, dropout)
    }
}

#[test]
fn bf16_products_train_as_f32_does_within_bf16_rounding() {
    let _g = serial();
    let corpus = small_corpus();
    // Without dropout: the CPU's f32 attention kernel and the composed bf16 attention draw
    // their dropout masks differently, which is noise of its own.
    let f32 = losses(&train(tiny(Precision::F32, 40, 0.0), &corpus));
    let bf16 = losses(&train(tiny(Precision::Bf16, 40, 0.0), &corpus));
    eprintln!("f32  {f32:?}\nbf16 {bf16:?}");
    assert_ne!(
        f32, bf16,
        "bf16 products round: the losses cannot be f32's exactly"
    );
    for ((step, t32, v32), (_, t16, v16)) in f32.iter().zip(&bf16) {
        assert!(
            (t32 - t16).abs() < 0.03 && (v32 - v16).abs() < 0.03,
            "step {step}: f32 {t32}/{v32}, bf16 {t16}/{v16}"
        );
    }
    // And it learns: from ln 65 = 4.17 at initialisation to well below it.
    let last = bf16.last().unwrap();
    assert!(last.2 < 3.3, "bf16 val loss {} at step {}", last.2, last.0);
}

#[test]
fn a_bf16_checkpoint_resumes_in_bf16_exactly() {
    let _g = serial();
    let corpus = small_corpus();
    let whole = train(tiny(Precision::Bf16, 20, 0.1), &corpus);
    let mut first = Trainer::<CpuTrain>::new(
        tiny(Precision::Bf16, 20, 0.1),
        corpus.clone(),
        Default::default(),
    )
    .unwrap();
    first
        .run(0, |t, _| {
            if t.steps_done() == 10 && t.evals().len() == 1 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        })
        .unwrap();
    let bytes = first.checkpoint().unwrap().to_bytes();
    let ckpt = Checkpoint::from_bytes(&bytes, "blob").unwrap();
    assert_eq!(ckpt.meta.model.precision, Precision::Bf16);
    let mut second = Trainer::<CpuTrain>::resume(&ckpt, corpus, Default::default()).unwrap();
    second.run(0, |_, _| Flow::Continue).unwrap();
    assert_eq!(losses(second.evals()), losses(&whole));
}
