//! The sweep-file rules of SPEC.md, one test each, pinned with exact line:column output.

use super::*;

fn err(yaml: &str) -> String {
    parse_sweep("s.yaml", yaml).unwrap_err().to_string()
}

const OK: &str = "method: grid
parameters:
  n_embd: {values: [32, 64]}
  n_head: {values: [4]}
train:
  max_iters: 10
  eval_interval: 5
";

#[test]
fn a_valid_grid_plans_the_cartesian_product() {
    let spec = parse_sweep("quick.yaml", OK).unwrap();
    assert_eq!(spec.name, "quick");
    let runs = plan_runs(&spec, "quick.yaml", &CorpusShapes::chars(65, 100_000)).unwrap();
    assert_eq!(runs.len(), 2);
    assert_eq!(runs[0].hyperparams.n_embd, 32);
    assert_eq!(runs[1].hyperparams.n_embd, 64);
    assert_eq!(runs[1].hyperparams.max_iters, 10);
    assert_eq!(runs[1].swept.len(), 2);
}

#[test]
fn unknown_top_level_key_is_located() {
    let e = err("method: grid\nparamters: {}\n");
    assert!(
        e.starts_with("s.yaml:2:1:") && e.contains("paramters"),
        "{e}"
    );
}

#[test]
fn unknown_parameter_and_train_key_are_located() {
    let e = err("method: grid\nparameters:\n  n_embed: {values: [1]}\n");
    assert!(
        e.starts_with("s.yaml:3:") && e.contains("parameters.n_embed: unknown hyperparameter"),
        "{e}"
    );
    let e = err("method: grid\ntrain:\n  batchsize: 3\n");
    assert!(
        e.starts_with("s.yaml:3:") && e.contains("train.batchsize: unknown hyperparameter"),
        "{e}"
    );
}

#[test]
fn wrong_types_empty_values_and_inverted_ranges_are_refused() {
    let e = err("method: grid\nparameters:\n  n_layer: {values: []}\n");
    assert!(
        e.starts_with("s.yaml:3:") && e.contains("values: must not be empty"),
        "{e}"
    );
    let e = err("method: random\nrun_cap: 2\nparameters:\n  lr: {min: 0.1, max: 0.01}\n");
    assert!(
        e.starts_with("s.yaml:4:") && e.contains("min 0.1 is greater than max 0.01"),
        "{e}"
    );
    let e = err("method: grid\nparameters:\n  n_layer: {values: [two]}\n");
    assert!(
        e.contains("parameters.n_layer: \"two\" is not a valid value"),
        "{e}"
    );
    let e = err("method: grid\ntrain:\n  batch_size: 1.5\n");
    assert!(
        e.starts_with("s.yaml:3:") && e.contains("train.batch_size"),
        "{e}"
    );
}

#[test]
fn features_not_built_are_refused_not_ignored() {
    assert!(err("method: bayes\n").contains(
        "s.yaml:1:9: method: bayes is W&B's Bayesian search; gptsweep's model-based search is tpe"
    ));
}

#[test]
fn the_tokenizer_is_fixed_in_the_header_or_swept_and_then_ranked_by_bpc() {
    use gptsweep_core::TokenizerKind::{Char, Gpt2};
    let spec = parse_sweep("s.yaml", &format!("tokenizer: gpt2\n{OK}")).unwrap();
    assert_eq!(spec.base.tokenizer, Gpt2);
    assert!(spec.may_use(Gpt2) && !spec.may_use(Char));
    let e = err(&format!("tokenizer: bpe\n{OK}"));
    assert!(
        e.contains("s.yaml:1:12: tokenizer: unknown tokenizer \"bpe\"; expected char or gpt2"),
        "{e}"
    );
    let swept = "method: grid\nparameters:\n  tokenizer: {values: [char, gpt2]}\n";
    let e = err(swept);
    assert!(
        e.contains("s.yaml:3:14: metric.name: val_loss is a loss per token, which does not compare across the swept tokenizers (parameters.tokenizer, line 3); rank by val_bpc"),
        "{e}"
    );
    let e = err(&format!("tokenizer: char\n{swept}"));
    assert!(
        e.contains("s.yaml:1:12: tokenizer: also given under parameters: (line 4)"),
        "{e}"
    );
    let spec = parse_sweep("s.yaml", &format!("metric: {{name: val_bpc}}\n{swept}")).unwrap();
    assert!(spec.may_use(Gpt2) && spec.may_use(Char));
    // Planning needs the corpus measured under every tokenizer a run uses.
    let e = plan_runs(&spec, "s.yaml", &CorpusShapes::chars(65, 100_000))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("the corpus was not measured for tokenizer gpt2"),
        "{e}"
    );
    let shapes = CorpusShapes {
        gpt2: Some(Shape {
            vocab_size: 50_257,
            shortest_split: 30_000,
        }),
        ..CorpusShapes::chars(65, 100_000)
    };
    let runs = plan_runs(&spec, "s.yaml", &shapes).unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| r.hyperparams.tokenizer)
            .collect::<Vec<_>>(),
        [Char, Gpt2]
    );
    // The GPT-2 run's model has the 50,257-token embedding and head.
    let (char_model, bpe_model) = (
        shapes.model_of(&runs[0].hyperparams),
        shapes.model_of(&runs[1].hyperparams),
    );
    assert_eq!(
        bpe_model.num_params() - char_model.num_params(),
        (50_257 - 65) * (2 * 384 + 1)
    );
}

#[test]
fn early_termination_is_read_and_checked() {
    let yaml = format!("{OK}early_terminate: {{type: hyperband, min_iter: 1, eta: 2}}\n");
    let spec = parse_sweep("s.yaml", &yaml).unwrap();
    assert_eq!(
        spec.early_terminate,
        Some(EarlyTerminate {
            min_iter: 1,
            eta: 2
        })
    );
    assert_eq!(
        plan_runs(&spec, "s.yaml", &CorpusShapes::chars(65, 100_000))
            .unwrap()
            .len(),
        2
    );
    // eta defaults to 3.
    let yaml = format!("{OK}early_terminate: {{type: hyperband, min_iter: 5}}\n");
    assert_eq!(
        parse_sweep("s.yaml", &yaml)
            .unwrap()
            .early_terminate
            .unwrap()
            .eta,
        3
    );

    let e = err("method: grid\nearly_terminate: {type: median, min_iter: 0, eta: 1, s: 2}\n");
    for want in [
        "s.yaml:2:25: early_terminate.type: \"median\" is not supported; expected hyperband",
        "s.yaml:2:43: early_terminate.min_iter: 0 must be >= 1",
        "s.yaml:2:51: early_terminate.eta: 1 must be >= 2",
        "s.yaml:2:57: early_terminate.s: W&B's bracket count goes with max_iter",
    ] {
        assert!(e.contains(want), "{want:?} in {e}");
    }
    assert!(
        err("method: grid\nearly_terminate: {type: hyperband}\n").contains("min_iter: required")
    );
}

#[test]
fn infinite_bounds_and_huge_integer_grids_are_refused() {
    let e = err("method: random\nrun_cap: 1\nparameters:\n  dropout: {min: 0.0, max: .inf}\n");
    assert!(e.starts_with("s.yaml:4:28: non-finite float"), "{e}");
    let e = err("method: grid\nparameters:\n  seed: {min: 0, max: 9223372036854775807}\n");
    assert!(e.contains("more than 10000 values"), "{e}");
    let spec = parse_sweep(
        "w.yaml",
        "method: random\nrun_cap: 3\nparameters:\n  seed: {min: -9223372036854775807, max: 9223372036854775807}\n",
    );
    assert!(
        spec.is_err(),
        "seed must be non-negative, so the range is refused"
    );
}

#[test]
fn random_needs_a_run_cap() {
    assert!(
        err("method: random\nparameters:\n  lr: {min: 0.001, max: 0.01}\n")
            .contains("run_cap: required when method is random")
    );
}

#[test]
fn grid_points_that_are_not_models_are_named() {
    let spec = parse_sweep(
        "g.yaml",
        "method: grid\nparameters:\n  n_embd: {values: [64, 96]}\n  n_head: {values: [4, 6]}\n",
    )
    .unwrap();
    let e = plan_runs(&spec, "g.yaml", &CorpusShapes::chars(65, 100_000))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains(
            "n_embd = 64 with n_head = 6: n_embd must be a multiple of n_head (n_embd = 60 or 66, or n_head = 4, would pair): 1 of 4 grid points (the first: grid point 1 {n_embd: 64, n_head: 6})"
        ),
        "{e}"
    );
    assert!(
        !e.contains("grid point 2 {n_embd: 96, n_head: 4}"),
        "96 % 4 == 0 is valid: {e}"
    );
}

#[test]
fn skip_impossible_drops_and_counts_the_grid_points_that_are_not_models() {
    let spec = parse_sweep(
        "g.yaml",
        "method: grid\nskip_impossible: true\nparameters:\n  n_embd: {values: [64, 96]}\n  n_head: {values: [4, 6]}\n",
    )
    .unwrap();
    let plan =
        crate::sweep::plan_sweep(&spec, "g.yaml", &CorpusShapes::chars(65, 100_000)).unwrap();
    assert_eq!((plan.runs.len(), plan.dropped, plan.later), (3, 1, 0));
    let indices: Vec<usize> = plan.runs.iter().map(|r| r.index).collect();
    assert_eq!(
        indices,
        vec![0, 1, 2],
        "kept runs are numbered without gaps"
    );
}

#[test]
fn random_search_draws_again_until_the_model_is_valid() {
    let yaml = "method: random\nrun_cap: 20\nseed: 3\nparameters:\n  n_embd: {values: [64, 96]}\n  n_head: {values: [4, 6]}\n  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}\n";
    let spec = parse_sweep("r.yaml", yaml).unwrap();
    let runs = plan_runs(&spec, "r.yaml", &CorpusShapes::chars(65, 100_000)).unwrap();
    assert_eq!(runs.len(), 20);
    assert!(
        runs.iter()
            .all(|r| r.hyperparams.n_embd % r.hyperparams.n_head == 0)
    );
    assert!(
        runs.iter()
            .all(|r| (1e-4..=1e-2).contains(&r.hyperparams.lr))
    );
    assert_eq!(
        runs,
        plan_runs(&spec, "r.yaml", &CorpusShapes::chars(65, 100_000)).unwrap(),
        "same seed, same plan"
    );
}

#[test]
fn a_model_too_big_for_memory_is_refused_with_its_estimate() {
    let spec = parse_sweep("m.yaml", "method: grid\nmax_memory_gb: 1\ntrain: {n_embd: 1024, n_head: 8, n_layer: 12, batch_size: 64, block_size: 512}\n").unwrap();
    let e = plan_runs(&spec, "m.yaml", &CorpusShapes::chars(65, 100_000))
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("needs about")
            && e.contains("GiB to train")
            && e.contains("over max_memory_gb = 1.0"),
        "{e}"
    );
}

#[test]
fn shipped_sweep_files_parse_and_plan() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sweeps");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue; // data/: the examples' texts
        }
        let name = path.display().to_string();
        let yaml = std::fs::read_to_string(&path).unwrap();
        let spec = parse_sweep(&name, &yaml).unwrap_or_else(|e| panic!("{e}"));
        let vocab = if matches!(spec.dataset, DatasetRef::Builtin(_)) {
            65
        } else {
            89
        };
        let shapes = CorpusShapes {
            gpt2: Some(Shape {
                vocab_size: 50_257,
                shortest_split: 30_000,
            }),
            ..CorpusShapes::chars(vocab, 100_000)
        };
        let runs = plan_runs(&spec, &name, &shapes).unwrap_or_else(|e| panic!("{e}"));
        assert!(!runs.is_empty(), "{name}");
        seen += 1;
    }
    assert_eq!(seen, 5);
}

#[test]
fn duplicate_grid_values_are_located() {
    let e = err("method: grid\nparameters:\n  n_embd: {values: [32, 64, 32]}\n");
    assert!(
        e.starts_with("s.yaml:3:") && e.contains("parameters.n_embd.values: 32 is listed twice"),
        "{e}"
    );
}

#[test]
fn a_key_both_swept_and_fixed_is_located() {
    let e = err("method: grid\nparameters:\n  n_embd: {values: [32]}\ntrain:\n  n_embd: 64\n");
    assert!(
        e.starts_with("s.yaml:3:")
            && e.contains("parameters.n_embd: also fixed under train: (line 5)"),
        "{e}"
    );
}

#[test]
fn names_with_bidirectional_or_invisible_controls_are_refused() {
    for bad in [
        "\u{202E}evil",
        "a\u{2066}b",
        "x\u{200F}",
        "zero\u{200B}width",
    ] {
        let e = err(&format!("name: \"{bad}\"\nmethod: grid\n"));
        assert!(
            e.starts_with("s.yaml:1:") && e.contains("bidirectional"),
            "{e}"
        );
    }
    assert!(parse_sweep("s.yaml", "name: café-ü 1\nmethod: grid\n").is_ok());
}

#[test]
fn parse_errors_name_the_key_and_value_not_library_internals() {
    let cases = [
        (
            "method: grid\nmethod: random\n",
            "s.yaml:2:1: method: the key is given twice",
        ),
        (
            "method: [grid]\n",
            "s.yaml:1:9: method: [grid] must be text",
        ),
        (
            "method: grid\nseed: -1\n",
            "s.yaml:2:7: seed: -1 must be a whole number from 0",
        ),
        (
            "method: grid\nrun_cap: 99999999999999999999999\n",
            "s.yaml:2:10: run_cap: 99999999999999999999999 must be a whole number",
        ),
        (
            "method: grid\ntrain: {n_embd: [1]}\n",
            "s.yaml:2:17: n_embd: [1] is not a single value",
        ),
        (
            "method: grid\nsamples: {length: x}\n",
            "s.yaml:2:19: length: x must be a whole number",
        ),
    ];
    for (yaml, want) in cases {
        let e = err(yaml);
        assert!(e.starts_with(want), "want {want:?}, got {e:?}");
        for internal in [
            "DuplicateKeyPolicy",
            "untagged enum",
            "invalid u64",
            "invalid i64",
        ] {
            assert!(!e.contains(internal), "{e}");
        }
    }
}

const TPE: &str = "method: tpe
run_cap: 24
seed: 5
parameters:
  n_embd: {values: [32, 48, 64]}
  n_head: {values: [2, 3, 4]}
  n_layer: {min: 1, max: 3}
  lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}
train: {max_iters: 20, eval_interval: 10, block_size: 16, batch_size: 4}
";

#[test]
fn tpe_needs_a_run_cap_and_takes_optuna_defaults() {
    assert!(
        err("method: tpe\n").contains("s.yaml:1:9: run_cap: required when method is tpe"),
        "{}",
        err("method: tpe\n")
    );
    let spec = parse_sweep("t.yaml", TPE).unwrap();
    assert_eq!(spec.method, Method::Tpe);
    assert_eq!(spec.tpe, Some(tpe::TpeOptions::default()));
    let given = parse_sweep(
        "t.yaml",
        &format!("{TPE}tpe: {{n_startup: 4, n_ei_candidates: 8, gamma: 0.25}}\n"),
    )
    .unwrap();
    assert_eq!(
        given.tpe,
        Some(tpe::TpeOptions {
            n_startup: 4,
            n_ei_candidates: 8,
            gamma: 0.25
        })
    );
}

#[test]
fn tpe_options_are_checked_with_their_location() {
    let e = err(&format!(
        "{TPE}tpe: {{n_startup: 0, n_ei_candidates: 0, gamma: 1.5}}\n"
    ));
    for want in [
        "s.yaml:10:18: tpe.n_startup: 0 must be >= 1",
        "s.yaml:10:38: tpe.n_ei_candidates: 0 must be between 1 and 10000",
        "s.yaml:10:48: tpe.gamma: 1.5 must be in (0, 1]",
    ] {
        assert!(e.contains(want), "{want:?} in {e}");
    }
    let e = err(&format!("{TPE}tpe: {{prior_weight: 2}}\n"));
    assert!(
        e.starts_with("s.yaml:10:") && e.contains("prior_weight"),
        "{e}"
    );
    let e = err("method: grid\ntpe: {n_startup: 3}\n");
    assert!(
        e.contains("s.yaml:2:6: tpe: options of method: tpe, but this sweep's method is grid"),
        "{e}"
    );
    // A start-up phase as long as the cap leaves nothing to the model.
    let e = err(&TPE.replace("run_cap: 24", "run_cap: 6"));
    assert!(
        e.contains(
            "s.yaml:1:9: tpe.n_startup: 10 (the default) random runs come first, and run_cap is 6"
        ),
        "{e}"
    );
}

#[test]
fn tpe_plans_its_startup_runs_as_random_search_draws_them() {
    let spec = parse_sweep("t.yaml", TPE).unwrap();
    let runs = plan_runs(&spec, "t.yaml", &CorpusShapes::chars(65, 100_000)).unwrap();
    assert_eq!(runs.len(), 10);
    let random = parse_sweep("t.yaml", &TPE.replace("method: tpe", "method: random")).unwrap();
    assert_eq!(
        runs[..],
        plan_runs(&random, "t.yaml", &CorpusShapes::chars(65, 100_000)).unwrap()[..10]
    );
}

#[test]
fn tpe_proposals_are_buildable_models_within_the_memory_limit() {
    // The objective favours the widest, deepest models and lr near 3e-3; a memory limit
    // rules the largest out and n_embd 32 or 64 with 3 heads do not divide.
    let yaml = format!("{TPE}max_memory_gb: 0.002\n");
    let spec = parse_sweep("t.yaml", &yaml).unwrap();
    let mut runs = plan_runs(&spec, "t.yaml", &CorpusShapes::chars(65, 100_000)).unwrap();
    let score = |r: &PlannedRun| {
        let h = &r.hyperparams;
        (h.lr.ln() - 3e-3f64.ln()).abs() - (h.n_embd * h.n_layer) as f64 / 64.0
    };
    let mut trials: Vec<tpe::Trial> = runs
        .iter()
        .map(|r| tpe::Trial {
            swept: r.swept.clone(),
            status: tpe::TrialStatus::Finished,
            curve: vec![score(r)],
        })
        .collect();
    let mut model = 0;
    for i in runs.len()..24 {
        let (run, how) = plan_next(&spec, i, &trials, &CorpusShapes::chars(65, 100_000)).unwrap();
        model += usize::from(how.starts_with("tpe model"));
        trials.push(tpe::Trial {
            swept: run.swept.clone(),
            status: tpe::TrialStatus::Finished,
            curve: vec![score(&run)],
        });
        runs.push(run);
    }
    assert_eq!(model, 14, "every run after the startup is the model's");
    for r in &runs {
        let h = &r.hyperparams;
        assert_eq!(h.n_embd % h.n_head, 0, "{:?}", r.swept);
        assert!(
            h.model_config(65).training_bytes(h.batch_size) <= spec.max_memory_bytes,
            "{:?}",
            r.swept
        );
    }
    // The same results give the same proposals.
    let (again, _) =
        plan_next(&spec, 23, &trials[..23], &CorpusShapes::chars(65, 100_000)).unwrap();
    assert_eq!(again, runs[23]);
}

/// A W&B sweep file gets every problem in one submit, each at its line, with what to
/// write instead.
#[test]
fn a_wandb_sweep_file_gets_every_problem_at_once() {
    let yaml = "program: train.py
project: shakespeare
method: bayes
metric: {name: val_loss, goal: maximize, target: 1.4}
run_cap: 8
parameters:
  learning_rate: {distribution: log_uniform, min: -9.2, max: -4.6}
  num_heads: {values: [2, 4]}
  dropout: {min: 0.0, max: 1.5}
  n_embd: {values: [64, 96, 512]}
  n_head: {value: 6}
  optimizer:
    parameters:
      beta1: {values: [0.9, 0.95]}
  weight_decay: {distribution: normal, mu: 0.01, sigma: 0.005}
early_terminate: {type: hyperband, max_iter: 27, s: 2}
";
    let e = err(yaml);
    let lines: Vec<&str> = e.lines().collect();
    let expect = [
        ("s.yaml:1:", "program: a W&B agent key"),
        ("s.yaml:2:", "project: a W&B agent key"),
        (
            "s.yaml:3:",
            "method: bayes is W&B's Bayesian search; gptsweep's model-based search is tpe",
        ),
        ("s.yaml:4:", "metric.goal: maximize on val_loss, a loss"),
        ("s.yaml:4:", "metric.target: not supported"),
        (
            "s.yaml:7:",
            "parameters.learning_rate: unknown hyperparameter; did you mean lr?",
        ),
        (
            "s.yaml:8:",
            "parameters.num_heads: unknown hyperparameter; did you mean n_head?",
        ),
        (
            "s.yaml:9:",
            "parameters.dropout.max: 1.5 breaks dropout's rule (must be in [0, 1))",
        ),
        (
            "s.yaml:10:",
            "parameters.n_embd: 64, 512 can never be drawn",
        ),
        (
            "s.yaml:14:",
            "parameters.optimizer.parameters: nested parameters are not supported",
        ),
        (
            "s.yaml:15:",
            "parameters.weight_decay.mu: W&B's normal distributions are not supported",
        ),
        (
            "s.yaml:15:",
            "parameters.weight_decay.sigma: W&B's normal distributions",
        ),
        (
            "s.yaml:16:",
            "early_terminate.max_iter: not supported; W&B's max_iter 27 with s 2 and eta 3 puts rungs at evaluations 3, 9; here that is min_iter: 3",
        ),
    ];
    assert_eq!(lines.len(), expect.len(), "{e}");
    for (line, (at, what)) in lines.iter().zip(expect) {
        assert!(
            line.starts_with(at) && line.contains(what),
            "expected {at} {what}, got {line}"
        );
    }
}

/// A value outside its rule is refused even where a draw might miss it, and a listed
/// value no valid model can take is named.
#[test]
fn values_that_break_a_rule_or_cannot_be_drawn_are_refused() {
    let e = err("method: random\nrun_cap: 4\nparameters:\n  dropout: {values: [0.1, 1.0]}\n");
    assert!(
        e.starts_with("s.yaml:4:")
            && e.contains(
                "parameters.dropout.values: 1.0 breaks dropout's rule (must be in [0, 1))"
            ),
        "{e}"
    );
    let e = err(
        "method: random\nrun_cap: 4\nparameters:\n  n_embd: {values: [64, 96]}\n  n_head: {values: [3, 5]}\n",
    );
    assert_eq!(
        e,
        "s.yaml:4:11: parameters.n_embd: 64 can never be drawn: n_embd must be a multiple of n_head, and no n_head value (3, 5) divides it\n\
         s.yaml:5:11: parameters.n_head: 5 can never be drawn: n_embd must be a multiple of n_head, and no n_embd value (64, 96) is a multiple of it"
    );
    // n_head fixed by default (6): 64 is never drawn.
    let e = err("method: tpe\nrun_cap: 4\nparameters:\n  n_embd: {values: [64, 96]}\n");
    assert!(
        e.contains("parameters.n_embd: 64 can never be drawn") && e.contains("no n_head value (6)"),
        "{e}"
    );
    // Ranges that pair somewhere pass.
    assert!(parse_sweep("s.yaml", "method: random\nrun_cap: 4\nparameters:\n  n_embd: {min: 32, max: 512}\n  n_head: {values: [4, 8]}\n").is_ok());
}

/// Unknown keys are all reported in one submit, each with the key most likely meant, and
/// the rest of the file is still checked.
#[test]
fn every_unknown_key_is_reported_with_the_rest_of_the_file() {
    let yaml = "metod: random
method: random
lr: 0.001
early_termination:
  type: hyperband
  min_iter: 1
parameters:
  dropout:
    mn: 0.0
    max: 0.2
  n_layers: {min: 1, max: 2}
samples: {count: 0, lenght: 5}
";
    let e = err(yaml);
    let lines: Vec<&str> = e.lines().collect();
    let expect = [
        "s.yaml:1:1: metod: unknown key; did you mean method? (known keys: name, description, tags, dataset,",
        "s.yaml:2:9: run_cap: required when method is random",
        "s.yaml:3:1: lr: a hyperparameter, not a key of the sweep file: put it under train:",
        "s.yaml:4:1: early_termination: unknown key; did you mean early_terminate?",
        "s.yaml:9:5: mn: unknown key; did you mean min? (known keys: value, values, min, max, distribution)",
        "s.yaml:12:21: lenght: unknown key; did you mean length?",
    ];
    assert_eq!(lines.len(), 5, "{e}");
    // The flow mapping's key cannot be cut out, so the file is not checked further.
    for (line, want) in lines
        .iter()
        .zip(expect.iter().filter(|w| !w.contains("run_cap")))
    {
        assert!(line.starts_with(want), "expected {want}\n got {line}");
    }
    // Without it, the rest of the file is checked too.
    let e = err(&yaml.replace(", lenght: 5", ""));
    let lines: Vec<&str> = e.lines().collect();
    let expect = [
        "s.yaml:1:1: metod: unknown key; did you mean method?",
        "s.yaml:2:9: run_cap: required when method is random",
        "s.yaml:3:1: lr: a hyperparameter, not a key of the sweep file",
        "s.yaml:4:1: early_termination: unknown key; did you mean early_terminate?",
        "s.yaml:9:5: mn: unknown key; did you mean min?",
        "s.yaml:10:5: parameters.dropout: a range needs both min and max",
        "s.yaml:11:13: parameters.n_layers: unknown hyperparameter; did you mean n_layer?",
    ];
    assert_eq!(lines.len(), expect.len(), "{e}");
    for (line, want) in lines.iter().zip(expect) {
        assert!(line.starts_with(want), "expected {want}\n got {line}");
    }
}

#[test]
fn a_fixed_n_embd_the_default_n_head_does_not_divide_is_named_at_its_line() {
    let e = err(
        "method: random\nrun_cap: 2\ntrain:\n  n_embd: 100\nparameters:\n  lr: {values: [0.001]}\n",
    );
    assert_eq!(
        e,
        "s.yaml:4:11: train.n_embd: n_embd = 100 must be a multiple of n_head = 6 (the default); e.g. n_embd = 102 or n_head = 5"
    );
}

#[test]
fn check_and_plan_collects_section_corpus_and_grid_problems_in_one_pass() {
    let yaml = "method: grid\ntypo: 1\ntrain: {block_size: 64, dropout: 1.5}\nparameters:\n  n_embd: {values: [96, 100]}\nsamples: {prompt: \"XYZ\"}\n";
    let e = crate::sweep::check_and_plan("s.yaml", yaml, |_| {
        Ok(("sha".into(), b"abcdefgh ".repeat(20)))
    })
    .unwrap_err();
    let lines: Vec<(u32, u32)> = e.diagnostics.iter().map(|d| (d.line, d.column)).collect();
    // The typo, block_size against the corpus (at the first key it names), dropout's rule,
    // n_embd 100 with the default n_head, the prompt, then the grid's summary.
    assert_eq!(
        lines,
        vec![(2, 1), (3, 21), (3, 34), (5, 11), (6, 19), (0, 0)],
        "{e}"
    );
}

#[test]
fn precision_is_fixed_or_swept_as_a_categorical_and_checked_at_its_line() {
    use gptsweep_core::config::Precision::{Bf16, F32};
    // Fixed under train: every run's, and the leaderboard's title names it.
    let spec = parse_sweep("s.yaml", &format!("{OK}  precision: bf16\n")).unwrap();
    assert_eq!(spec.base.precision, Bf16);
    assert_eq!(spec.fixed_precision().as_deref(), Some("bf16"));
    assert!(spec.may_train_in(Bf16) && !spec.may_train_in(F32));
    let runs = plan_runs(&spec, "s.yaml", &CorpusShapes::chars(65, 100_000)).unwrap();
    assert!(runs.iter().all(|r| r.hyperparams.precision == Bf16));
    // Absent: f32, and nothing to name.
    let spec = parse_sweep("s.yaml", OK).unwrap();
    assert_eq!(spec.base.precision, F32);
    assert_eq!(spec.fixed_precision(), None);
    assert!(!spec.may_train_in(Bf16));
    // Swept: a grid axis and a random draw like any categorical; then a column, not a title.
    let grid = "method: grid\nparameters:\n  precision: {values: [f32, bf16]}\n";
    let spec = parse_sweep("s.yaml", grid).unwrap();
    assert_eq!(spec.fixed_precision(), None);
    assert!(spec.may_train_in(Bf16) && spec.may_train_in(F32));
    let runs = plan_runs(&spec, "s.yaml", &CorpusShapes::chars(65, 100_000)).unwrap();
    assert_eq!(
        runs.iter()
            .map(|r| (r.hyperparams.precision, r.swept["precision"].clone()))
            .collect::<Vec<_>>(),
        [
            (F32, serde_json::json!("f32")),
            (Bf16, serde_json::json!("bf16"))
        ]
    );
    let random = "method: random\nrun_cap: 12\nparameters:\n  precision: {values: [f32, bf16]}\n";
    let spec = parse_sweep("s.yaml", random).unwrap();
    let drawn: Vec<_> = plan_runs(&spec, "s.yaml", &CorpusShapes::chars(65, 100_000))
        .unwrap()
        .iter()
        .map(|r| r.hyperparams.precision)
        .collect();
    assert!(
        drawn.contains(&F32) && drawn.contains(&Bf16),
        "12 draws of two values: {drawn:?}"
    );
    // A value that is no precision is named at its line, with what it may be.
    let e = err(&format!("{OK}  precision: fp16\n"));
    assert!(
        e.contains("s.yaml:8:14") && e.contains("f32 or bf16"),
        "{e}"
    );
    let e = err("method: grid\nparameters:\n  precision: {values: [f32, fp8]}\n");
    assert!(e.contains("s.yaml:3:") && e.contains("f32 or bf16"), "{e}");
}
