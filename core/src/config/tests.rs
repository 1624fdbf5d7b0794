//! The rules, the schedule and the table, pinned: the table walk checks that every row is
//! consistent with the struct it generates.

use std::collections::BTreeMap;

use super::*;

#[test]
fn lecture_config_has_exactly_10_788_929_params() {
    assert_eq!(
        Hyperparams::default().model_config(65).num_params(),
        10_788_929
    );
}

#[test]
fn each_rule_names_its_field() {
    let cases: Vec<(Hyperparams, &str)> = vec![
        (
            Hyperparams {
                n_embd: 30,
                n_head: 4,
                ..Default::default()
            },
            "n_embd = 30: must be divisible by n_head = 4",
        ),
        (
            Hyperparams {
                n_layer: 0,
                ..Default::default()
            },
            "n_layer = 0",
        ),
        (
            Hyperparams {
                block_size: 0,
                ..Default::default()
            },
            "block_size = 0",
        ),
        (
            Hyperparams {
                dropout: 1.0,
                ..Default::default()
            },
            "dropout = 1: must be in [0, 1)",
        ),
        (
            Hyperparams {
                dropout: -0.1,
                ..Default::default()
            },
            "dropout = -0.1",
        ),
        (
            Hyperparams {
                lr: 0.0,
                ..Default::default()
            },
            "lr = 0: must be > 0",
        ),
        (
            Hyperparams {
                lr: f64::NAN,
                ..Default::default()
            },
            "lr = NaN",
        ),
    ];
    for (hp, want) in cases {
        let err = hp.validate().unwrap_err().to_string();
        assert!(err.contains(want), "{err:?} should contain {want:?}");
    }
    Hyperparams::default().validate().unwrap();
}

#[test]
fn eval_steps_are_every_interval_and_the_last() {
    let hp = Hyperparams {
        max_iters: 10,
        eval_interval: 4,
        ..Default::default()
    };
    assert_eq!(hp.eval_steps(), vec![4, 8, 10]);
    assert_eq!(hp.expected_evals(), 3);
    let hp = Hyperparams {
        max_iters: 8,
        eval_interval: 4,
        ..Default::default()
    };
    assert_eq!(hp.expected_evals(), 2);
}

#[test]
fn cosine_schedule_warms_up_then_decays_to_min_lr() {
    let hp = Hyperparams {
        lr: 1e-3,
        min_lr: Some(1e-4),
        warmup_iters: 10,
        lr_decay: LrDecay::Cosine,
        max_iters: 110,
        ..Default::default()
    };
    assert!(hp.lr_at(0) < hp.lr_at(5));
    assert!((hp.lr_at(10) - 1e-3).abs() < 1e-12);
    assert!((hp.lr_at(110) - 1e-4).abs() < 1e-12);
    assert!((hp.lr_at(60) - 5.5e-4).abs() < 1e-9);
}

#[test]
fn unknown_keys_are_refused() {
    let err = serde_json::from_str::<Hyperparams>(r#"{"n_embed": 3}"#)
        .unwrap_err()
        .to_string();
    assert!(err.contains("n_embed"), "{err}");
}

#[test]
fn every_row_of_the_table_matches_the_struct_it_generates() {
    let defaults = Hyperparams::default();
    let serialised = serde_json::to_value(&defaults).unwrap();
    let fields = serialised.as_object().unwrap();
    assert_eq!(
        fields.keys().collect::<Vec<_>>(),
        {
            let mut names: Vec<_> = HyperparamDef::names().collect();
            names.sort();
            names
        },
        "every row is a serde field and every serde field a row"
    );
    for def in HYPERPARAMS {
        let name = def.name;
        // The default text is what Default::default() holds, and what serde writes.
        let mut hp = Hyperparams::default();
        hp.set_text(name, def.default).unwrap();
        assert_eq!(hp, defaults, "{name}: default {:?}", def.default);
        assert_eq!(defaults.get(name).as_ref(), fields.get(name), "{name}");
        assert!(def.parses(def.default), "{name}");
        assert!(
            !def.help().is_empty() && !def.help().ends_with('.'),
            "{name}"
        );
        // Every value round-trips through set and get, and set changes only its field.
        let mut changed = Hyperparams::default();
        let other = match name {
            "lr_decay" => serde_json::json!("cosine"),
            "tokenizer" => serde_json::json!("gpt2"),
            "precision" => serde_json::json!("bf16"),
            "min_lr" => serde_json::json!(1e-5),
            "dropout" | "beta1" | "beta2" | "grad_clip" | "weight_decay" => {
                serde_json::json!(0.5)
            }
            "lr" | "eps" => serde_json::json!(1e-3),
            _ => serde_json::json!(7),
        };
        changed.set(name, &other).unwrap();
        assert_eq!(changed.get(name), Some(other.clone()), "{name}");
        let mut back = serde_json::to_value(&changed).unwrap();
        back[name] = fields[name].clone();
        assert_eq!(back, serialised, "{name}: set touched another field");
        // A wrong type is refused, naming the key, the value and the expected type.
        let err = changed.set(name, &serde_json::json!([1])).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("{name}: [1] is not a valid value (expected {})", def.kind)
        );
    }
}

#[test]
fn overrides_are_typed_by_serde_and_name_the_first_bad_key() {
    let base = Hyperparams::default();
    let ok = BTreeMap::from([
        ("lr".to_string(), serde_json::json!(1)),
        ("lr_decay".to_string(), serde_json::json!("cosine")),
        ("min_lr".to_string(), serde_json::Value::Null),
    ]);
    let hp = base.with_overrides(&ok).unwrap();
    assert_eq!(
        (hp.lr, hp.lr_decay, hp.min_lr),
        (1.0, LrDecay::Cosine, None)
    );
    let bad = BTreeMap::from([
        ("n_layer".to_string(), serde_json::json!("two")),
        ("seed".to_string(), serde_json::json!(-1)),
    ]);
    let err = base.with_overrides(&bad).unwrap_err();
    assert_eq!(err.name(), "n_layer");
    assert_eq!(
        err.to_string(),
        "n_layer: \"two\" is not a valid value (expected a non-negative integer)"
    );
    for (name, value) in [("batch_size", 1.5), ("seed", -1.0)] {
        let one = BTreeMap::from([(name.to_string(), serde_json::json!(value))]);
        assert!(base.with_overrides(&one).is_err(), "{name} = {value}");
    }
    let unknown = BTreeMap::from([("n_embed".to_string(), serde_json::json!(3))]);
    let err = base.with_overrides(&unknown).unwrap_err().to_string();
    assert!(
        err.starts_with(
            "n_embed: unknown hyperparameter; did you mean n_embd? known: batch_size, block_size,"
        ),
        "{err}"
    );
}

#[test]
fn the_stored_form_of_the_defaults_is_unchanged() {
    assert_eq!(
        serde_json::to_string(&Hyperparams::default()).unwrap(),
        r#"{"batch_size":64,"block_size":256,"n_embd":384,"n_head":6,"n_layer":6,"dropout":0.2,"lr":0.0003,"min_lr":null,"warmup_iters":0,"lr_decay":"constant","weight_decay":0.01,"beta1":0.9,"beta2":0.999,"eps":1e-8,"grad_clip":0.0,"max_iters":5000,"eval_interval":500,"eval_iters":200,"seed":1337,"tokenizer":"char","precision":"f32"}"#
    );
}

#[test]
fn precision_reads_f32_or_bf16_and_is_f32_where_a_stored_run_lacks_it() {
    let old: Hyperparams = serde_json::from_str(r#"{"n_layer": 2, "tokenizer": "char"}"#).unwrap();
    assert_eq!(old.precision, Precision::F32);
    let mut hp = Hyperparams::default();
    hp.set_text("precision", "bf16").unwrap();
    assert_eq!(hp.precision, Precision::Bf16);
    assert_eq!(hp.model_config(65).precision, Precision::Bf16);
    assert_eq!(
        hp.set("precision", &serde_json::json!("fp16"))
            .unwrap_err()
            .to_string(),
        "precision: \"fp16\" is not a valid value (expected f32 or bf16)"
    );
    assert_eq!(HyperparamDef::suggest("dtype"), Some("precision"));
    // An f32 model's stored config is as before the field; a bf16 one names it.
    let f32_cfg = serde_json::to_value(Hyperparams::default().model_config(65)).unwrap();
    assert!(f32_cfg.get("precision").is_none(), "{f32_cfg}");
    let bf16_cfg = serde_json::to_value(hp.model_config(65)).unwrap();
    assert_eq!(bf16_cfg["precision"], "bf16");
    let back: ModelConfig = serde_json::from_value(f32_cfg).unwrap();
    assert_eq!(back.precision, Precision::F32);
}
