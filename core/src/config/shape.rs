//! A run's *shape*: what decides which GPU kernels it compiles and autotunes. Two runs of
//! one shape on one device and build compile the same kernels (the tensors' sizes, and
//! which operations run at all), whatever their learning rate, seed or length; so a
//! worker that warmed a shape (trained a step or two of it, `gptsweep worker
//! --warm-ahead`) has compiled what every run of that shape needs, and the coordinator
//! keeps which shapes are warm in which kernel scope (`ColdShapes`, `ShapeWarm`).
//!
//! The key is derived here, in one place, from the hyperparameter table: the
//! hyperparameters in [`SHAPE_PARAMS`] by value (through the table's getters, as sweep
//! files spell them), the [`SHAPE_SWITCHES`] by whether they are on (a dropout of 0.1 and
//! one of 0.2 run the same kernels; 0 runs none of them), the vocabulary's source (a
//! char tokenizer's vocabulary is the corpus', so its key names the corpus), and the
//! precision of the products when it is not f32 (bf16 products compile other kernels, and
//! casts; an f32 run's key is as it was before the hyperparameter, so shapes already warm
//! stay warm).

use super::{Hyperparams, Precision};
use crate::tokenizer::TokenizerKind;

/// Hyperparameters that are tensor sizes: their values are part of the shape.
pub const SHAPE_PARAMS: [&str; 5] = ["batch_size", "block_size", "n_embd", "n_head", "n_layer"];

/// Hyperparameters that switch operations on (non-zero) or off: only that is part of the
/// shape (dropout's masks, gradient clipping's norm).
pub const SHAPE_SWITCHES: [&str; 2] = ["dropout", "grad_clip"];

/// Longest shape key the coordinator accepts.
pub const MAX_SHAPE_CHARS: usize = 512;

/// The shape key of a run of `hp` on the corpus whose text has sha256 `dataset_sha256`:
/// one line, e.g. `batch_size=64 block_size=256 n_embd=384 n_head=6 n_layer=6 dropout=on
/// grad_clip=off vocab=char:<sha256>`, then ` precision=bf16` for bf16 products.
pub fn shape_key(hp: &Hyperparams, dataset_sha256: &str) -> String {
    let mut parts: Vec<String> = SHAPE_PARAMS
        .iter()
        .map(|name| format!("{name}={}", value_of(hp, name)))
        .collect();
    for name in SHAPE_SWITCHES {
        let on = hp
            .get(name)
            .and_then(|v| v.as_f64())
            .is_some_and(|v| v != 0.0);
        parts.push(format!("{name}={}", if on { "on" } else { "off" }));
    }
    parts.push(match hp.tokenizer {
        TokenizerKind::Char => format!("vocab=char:{dataset_sha256}"),
        TokenizerKind::Gpt2 => "vocab=gpt2".to_string(),
    });
    if hp.precision != Precision::F32 {
        parts.push(format!("precision={}", hp.precision));
    }
    parts.join(" ")
}

fn value_of(hp: &Hyperparams, name: &str) -> String {
    hp.get(name)
        .map(|v| v.to_string())
        .unwrap_or_else(|| "?".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::HyperparamDef;

    const SHA: &str = "ab12";

    fn with(name: &str, value: serde_json::Value) -> Hyperparams {
        let mut hp = Hyperparams::default();
        hp.set(name, &value).unwrap();
        hp
    }

    #[test]
    fn every_name_is_a_row_of_the_table() {
        for name in SHAPE_PARAMS.iter().chain(&SHAPE_SWITCHES) {
            assert!(HyperparamDef::find(name).is_some(), "{name}");
        }
    }

    #[test]
    fn the_recipe_does_not_change_the_shape() {
        let base = shape_key(&Hyperparams::default(), SHA);
        assert_eq!(
            base,
            "batch_size=64 block_size=256 n_embd=384 n_head=6 n_layer=6 dropout=on grad_clip=off vocab=char:ab12"
        );
        for (name, value) in [
            ("lr", serde_json::json!(0.01)),
            ("seed", serde_json::json!(7)),
            ("max_iters", serde_json::json!(12)),
            ("eval_interval", serde_json::json!(3)),
            ("warmup_iters", serde_json::json!(100)),
            ("weight_decay", serde_json::json!(0.1)),
            ("dropout", serde_json::json!(0.1)),
        ] {
            assert_eq!(shape_key(&with(name, value), SHA), base, "{name}");
        }
    }

    #[test]
    fn sizes_switches_and_the_vocabulary_do() {
        let base = shape_key(&Hyperparams::default(), SHA);
        for (name, value) in [
            ("batch_size", serde_json::json!(32)),
            ("block_size", serde_json::json!(128)),
            ("n_embd", serde_json::json!(192)),
            ("n_head", serde_json::json!(4)),
            ("n_layer", serde_json::json!(2)),
            ("dropout", serde_json::json!(0.0)),
            ("grad_clip", serde_json::json!(1.0)),
            ("tokenizer", serde_json::json!("gpt2")),
            ("precision", serde_json::json!("bf16")),
        ] {
            assert_ne!(shape_key(&with(name, value), SHA), base, "{name}");
        }
        assert_ne!(shape_key(&Hyperparams::default(), "cd34"), base);
        let gpt2 = with("tokenizer", serde_json::json!("gpt2"));
        assert_eq!(shape_key(&gpt2, "x"), shape_key(&gpt2, "y"));
    }

    #[test]
    fn bf16_products_are_their_own_shape_and_f32_keys_are_as_before() {
        let bf16 = shape_key(&with("precision", serde_json::json!("bf16")), SHA);
        assert_eq!(
            bf16,
            "batch_size=64 block_size=256 n_embd=384 n_head=6 n_layer=6 dropout=on grad_clip=off vocab=char:ab12 precision=bf16"
        );
        // A run stored before the hyperparameter (no key) is f32, and keys as f32 does.
        let old: Hyperparams = serde_json::from_str(r#"{"n_layer": 6}"#).unwrap();
        assert_eq!(
            shape_key(&old, SHA),
            shape_key(&with("precision", serde_json::json!("f32")), SHA)
        );
        assert!(!shape_key(&old, SHA).contains("precision"));
    }
}
