//! Training behaviour pinned on the CPU backend with tiny models: reproducibility,
//! checkpoints, exact resume, and learning beyond the bigram baseline.
//!
//! burn-flex keeps one process-wide RNG, so tests that seed it run one at a time.

mod common;
mod cpu_training;

use std::sync::{Arc, mpsc};
use std::time::Duration;

use burn::tensor::{Int, Tensor, TensorData};
use common::small_corpus;
use cpu_training::{losses, serial, tiny, train};
use gptsweep_gpt::backend::{CpuInfer, CpuTrain};
use gptsweep_gpt::corpus::{BUILTIN_TINYSHAKESPEARE, TINYSHAKESPEARE};
use gptsweep_gpt::{Checkpoint, Corpus, Flow, Hyperparams, TokenizerKind, Trainer};

/// The binary's allocator, so these tests train at its speed.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[test]
fn same_seed_gives_the_same_losses() {
    let _g = serial();
    let corpus = small_corpus();
    let a = train(tiny(10, 0.1), &corpus);
    let b = train(tiny(10, 0.1), &corpus);
    assert_eq!(losses(&a), losses(&b));
    let c = train(
        Hyperparams {
            seed: 8,
            ..tiny(10, 0.1)
        },
        &corpus,
    );
    assert_ne!(losses(&a), losses(&c));
}

#[test]
fn checkpoint_round_trip_gives_identical_logits() {
    let _g = serial();
    let corpus = small_corpus();
    let mut t = Trainer::<CpuTrain>::new(tiny(5, 0.0), corpus.clone(), Default::default()).unwrap();
    t.run(0, |_, _| Flow::Continue).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt");
    t.checkpoint().unwrap().save(&path).unwrap();
    let loaded = Checkpoint::load(&path).unwrap();
    assert_eq!(loaded.meta.step, 5);
    let device = Default::default();
    let model = loaded.load_model::<CpuInfer>(&device).unwrap();
    let ids: Vec<i32> = (0..16).map(|i| (i * 7) % 40).collect();
    let x =
        || Tensor::<CpuInfer, 2, Int>::from_data(TensorData::new(ids.clone(), [1, 16]), &device);
    let before: Vec<f32> = t
        .eval_model()
        .forward(x())
        .into_data()
        .iter::<f32>()
        .collect();
    let after: Vec<f32> = model.forward(x()).into_data().iter::<f32>().collect();
    assert_eq!(before, after);
}

/// A stop said after a step that is due an evaluation (a drain arriving then) still gets that
/// evaluation, before training stops: a run resumed from there starts after it.
#[test]
fn a_stop_at_a_step_due_an_evaluation_evaluates_it_first() {
    let _g = serial();
    let corpus = small_corpus();
    let mut t = Trainer::<CpuTrain>::new(tiny(20, 0.0), corpus, Default::default()).unwrap();
    let mut seen = Vec::new();
    t.run(0, |_, event| {
        seen.push(event);
        match event {
            gptsweep_gpt::Event::Step { step: 10, .. } => Flow::Stop,
            _ => Flow::Continue,
        }
    })
    .unwrap();
    assert_eq!(t.steps_done(), 10);
    let steps: Vec<usize> = t.evals().iter().map(|e| e.step).collect();
    assert_eq!(steps, [5, 10]);
    assert!(
        matches!(seen.last(), Some(gptsweep_gpt::Event::Eval(e)) if e.step == 10),
        "the observer hears the evaluation at the stopping step last: {seen:?}"
    );
}

#[test]
fn resumed_training_continues_exactly_as_uninterrupted() {
    let _g = serial();
    let corpus = small_corpus();
    let whole = train(tiny(20, 0.1), &corpus);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ckpt");
    let mut first =
        Trainer::<CpuTrain>::new(tiny(20, 0.1), corpus.clone(), Default::default()).unwrap();
    first
        .run(0, |t, _| {
            if t.steps_done() == 10 && t.evals().len() == 2 {
                Flow::Stop
            } else {
                Flow::Continue
            }
        })
        .unwrap();
    assert_eq!(first.steps_done(), 10);
    first.checkpoint().unwrap().save(&path).unwrap();
    drop(first);

    let ckpt = Checkpoint::load(&path).unwrap();
    let ckpt = Checkpoint::from_bytes(&ckpt.to_bytes(), "blob").unwrap();
    let mut second =
        Trainer::<CpuTrain>::resume(&ckpt, corpus.clone(), Default::default()).unwrap();
    second.run(0, |_, _| Flow::Continue).unwrap();
    assert_eq!(losses(second.evals()), losses(&whole));
    assert_eq!(
        second.evals().iter().map(|e| e.step).collect::<Vec<_>>(),
        vec![5, 10, 15, 20]
    );
}

/// Two runs training at once in one process (a worker packing two runs on a device) each
/// give exactly the losses they give alone: neither waits forever on the other (rayon's pool
/// and autodiff's graph locks) and neither draws the other's dropout masks.
#[test]
fn two_runs_training_at_once_each_give_their_losses_alone() {
    let _g = serial();
    let corpus = small_corpus();
    let hp = |seed| Hyperparams {
        seed,
        ..tiny(300, 0.2)
    };
    let alone = [7, 8].map(|seed| losses(&train(hp(seed), &corpus)));
    let (tx, rx) = mpsc::channel();
    for (i, seed) in [7, 8].into_iter().enumerate() {
        let (tx, corpus) = (tx.clone(), corpus.clone());
        std::thread::spawn(move || tx.send((i, losses(&train(hp(seed), &corpus)))));
    }
    for _ in 0..2 {
        let (i, together) = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("both runs finish within two minutes");
        assert_eq!(together, alone[i], "run {i} (seed {})", [7, 8][i]);
    }
}

#[test]
fn missing_and_corrupt_checkpoints_are_refused() {
    let _g = serial();
    let dir = tempfile::tempdir().unwrap();
    let err = Checkpoint::load(&dir.path().join("nope"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("no such checkpoint directory"), "{err}");

    let corpus = small_corpus();
    let t = Trainer::<CpuTrain>::new(tiny(5, 0.0), corpus, Default::default()).unwrap();
    let path = dir.path().join("ckpt");
    t.checkpoint().unwrap().save(&path).unwrap();
    let mut bytes = std::fs::read(path.join("model.mpk")).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(path.join("model.mpk"), bytes).unwrap();
    let err = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(err.contains("model.mpk is corrupt"), "{err}");

    let blob = t.checkpoint().unwrap().to_bytes();
    let err = Checkpoint::from_bytes(&blob[..blob.len() - 1], "blob")
        .unwrap_err()
        .to_string();
    assert!(err.contains("truncated inside optim.mpk"), "{err}");
    let mut flipped = blob.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    let err = Checkpoint::from_bytes(&flipped, "blob")
        .unwrap_err()
        .to_string();
    assert!(err.contains("sha256 does not match"), "{err}");

    std::fs::write(path.join("meta.json"), b"{not json").unwrap();
    let err = Checkpoint::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("meta.json is not a gptsweep checkpoint"),
        "{err}"
    );
}

#[test]
fn resume_on_another_dataset_is_refused() {
    let _g = serial();
    let corpus = small_corpus();
    let t = Trainer::<CpuTrain>::new(tiny(5, 0.0), corpus, Default::default()).unwrap();
    let ckpt = t.checkpoint().unwrap();
    let other = Arc::new(
        Corpus::from_text("other", &TINYSHAKESPEARE[..50_000], TokenizerKind::Char).unwrap(),
    );
    let err = Trainer::<CpuTrain>::resume(&ckpt, other, Default::default())
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("was trained on dataset sha256"), "{err}");
}

#[test]
fn a_short_run_on_tiny_shakespeare_beats_the_bigram_baseline() {
    let _g = serial();
    let corpus =
        Arc::new(Corpus::load(BUILTIN_TINYSHAKESPEARE, TokenizerKind::Char, None).unwrap());
    let hp = Hyperparams {
        batch_size: 32,
        block_size: 32,
        n_embd: 64,
        n_head: 4,
        n_layer: 2,
        dropout: 0.0,
        lr: 2e-3,
        max_iters: 300,
        eval_interval: 300,
        eval_iters: 20,
        seed: 1337,
        ..Default::default()
    };
    let evals = train(hp, &corpus);
    let val = evals.last().unwrap().val_loss;
    assert!(val < 2.45, "val loss {val} should beat the bigram's ~2.48");
}
