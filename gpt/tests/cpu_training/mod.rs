//! What the CPU training tests (`training.rs`, `precision.rs`) share: the tiny model they
//! train, one test at a time (burn-flex keeps one process-wide RNG), and reading its losses.

use std::sync::{Arc, Mutex, MutexGuard};

use gptsweep_gpt::backend::CpuTrain;
use gptsweep_gpt::{Corpus, Eval, Flow, Hyperparams, Trainer};

static SERIAL: Mutex<()> = Mutex::new(());

/// Held by each test that seeds burn-flex's RNG, so that they run one at a time.
pub fn serial() -> MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// A 2-layer model of width 32 (4 heads) over blocks of 16, batches of 8, evaluated every 5
/// steps on 4 batches, seed 7.
pub fn tiny(max_iters: usize, dropout: f64) -> Hyperparams {
    Hyperparams {
        batch_size: 8,
        block_size: 16,
        n_embd: 32,
        n_head: 4,
        n_layer: 2,
        dropout,
        lr: 1e-3,
        max_iters,
        eval_interval: 5,
        eval_iters: 4,
        seed: 7,
        ..Default::default()
    }
}

/// `hp` trained to its end on `corpus`: its evaluations.
pub fn train(hp: Hyperparams, corpus: &Arc<Corpus>) -> Vec<Eval> {
    let mut t = Trainer::<CpuTrain>::new(hp, corpus.clone(), Default::default()).unwrap();
    t.run(0, |_, _| Flow::Continue).unwrap();
    t.evals().to_vec()
}

/// Each evaluation's step, train loss and val loss.
pub fn losses(evals: &[Eval]) -> Vec<(usize, f32, f32)> {
    evals
        .iter()
        .map(|e| (e.step, e.train_loss, e.val_loss))
        .collect()
}
