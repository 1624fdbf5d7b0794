//! PED-ANOVA on sweeps whose answer is known: the metric depends on one hyperparameter
//! and not on others, on categorical, integer and log-scale dimensions.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::{MIN_RESULTS, ped_anova};
use crate::sweep::metric::Goal;
use crate::sweep::param::{Distribution, Param};
use crate::sweep::tpe::{Budget, Space, Trial, TrialStatus};

fn space() -> Space {
    Space::of(&BTreeMap::from([
        (
            "lr".to_string(),
            Param::Range {
                min: 1e-4,
                max: 1e-1,
                distribution: Distribution::LogUniformValues,
            },
        ),
        (
            "n_layer".to_string(),
            Param::Range {
                min: 1.0,
                max: 8.0,
                distribution: Distribution::IntUniform,
            },
        ),
        (
            "n_embd".to_string(),
            Param::Values(vec![json!(32), json!(64), json!(128)]),
        ),
    ]))
}

/// A deterministic spread of points: lr over 3 decades, layers and widths cycling.
fn trials(n: usize, metric: impl Fn(f64, i64, i64) -> f64) -> Vec<Trial> {
    (0..n)
        .map(|i| {
            let lr = 1e-4 * 1000f64.powf(((i * 37) % n) as f64 / (n - 1) as f64);
            let layers = 1 + (i * 5 % 8) as i64;
            let embd = [32, 64, 128][i % 3];
            Trial {
                swept: BTreeMap::from([
                    ("lr".to_string(), json!(lr)),
                    ("n_layer".to_string(), json!(layers)),
                    ("n_embd".to_string(), json!(embd)),
                ]),
                status: TrialStatus::Finished,
                curve: vec![metric(lr, layers, embd)],
            }
        })
        .collect()
}

#[test]
fn the_hyperparameter_the_metric_depends_on_ranks_first() {
    // Loss is lowest near lr = 3e-3 and ignores the rest.
    let imp = ped_anova(
        &space(),
        &trials(60, |lr, _, _| (lr.ln() - 3e-3f64.ln()).powi(2)),
        &[],
        Goal::Minimize,
    )
    .unwrap();
    assert_eq!(imp.budget, Budget::Full);
    assert_eq!((imp.results, imp.top), (60, 6));
    assert_eq!(imp.params[0].name, "lr", "{imp:#?}");
    assert!(imp.params[0].share > 0.6, "{imp:#?}");
    let total: f64 = imp.params.iter().map(|p| p.share).sum();
    assert!((total - 1.0).abs() < 1e-9);
    // The best runs' lr values lie near 3e-3.
    for v in &imp.params[0].top_values {
        let lr = v.as_f64().unwrap();
        assert!((1e-3..1e-2).contains(&lr), "{lr}");
    }

    // A categorical that decides everything.
    let imp = ped_anova(
        &space(),
        &trials(60, |_, _, embd| if embd == 128 { 1.0 } else { 2.0 } + 0.0),
        &[],
        Goal::Minimize,
    )
    .unwrap();
    assert_eq!(imp.params[0].name, "n_embd", "{imp:#?}");
    assert_eq!(imp.params[0].top_values, vec![json!(128); 6]);

    // An integer, and the direction of the goal.
    let imp = ped_anova(
        &space(),
        &trials(60, |_, layers, _| layers as f64),
        &[],
        Goal::Maximize,
    )
    .unwrap();
    assert_eq!(imp.params[0].name, "n_layer", "{imp:#?}");
    assert!(
        imp.params[0]
            .top_values
            .iter()
            .all(|v| v.as_i64() >= Some(7))
    );
}

#[test]
fn too_few_results_say_how_many_are_needed() {
    let few = trials(MIN_RESULTS - 1, |lr, _, _| lr);
    let e = ped_anova(&space(), &few, &[], Goal::Minimize).unwrap_err();
    assert_eq!(
        e,
        "4 runs have a result at whole runs; importance needs at least 5"
    );
    let pending: Vec<Trial> = trials(8, |lr, _, _| lr)
        .into_iter()
        .map(|t| Trial {
            status: TrialStatus::Pending,
            curve: vec![],
            ..t
        })
        .collect();
    let e = ped_anova(&space(), &pending, &[], Goal::Minimize).unwrap_err();
    assert!(e.starts_with("no run has a result yet"), "{e}");
    let nothing = Space::of(&BTreeMap::from([(
        "lr".to_string(),
        Param::Value(Value::from(1e-3)),
    )]));
    assert!(ped_anova(&nothing, &pending, &[], Goal::Minimize).is_err());
}

#[test]
fn a_rung_too_few_runs_reached_for_the_measure_gives_way_to_a_lower_one() {
    // 7 runs, 4 of them to the end: d + 1 = 4 results at a budget would do, but the
    // measure needs 5, so the first rung (7 results) is used, not the 4 whole runs.
    let mut ts = trials(7, |lr, _, _| (lr.ln() - 3e-3f64.ln()).powi(2));
    for (i, t) in ts.iter_mut().enumerate() {
        if i < 3 {
            t.status = TrialStatus::Stopped;
        } else {
            t.curve.extend([t.curve[0] - 0.1, t.curve[0] - 0.2]);
        }
    }
    let imp = ped_anova(&space(), &ts, &[1, 3], Goal::Minimize).unwrap();
    assert_eq!((imp.budget, imp.results), (Budget::Rung(1), 7));
}

#[test]
fn with_early_termination_the_highest_rung_enough_runs_reached_is_used() {
    // 30 runs stopped after one evaluation, 3 finished: d + 1 = 4 results needed at a
    // budget, so the first rung (33 results) is used, not the 3 whole runs.
    let mut ts = trials(33, |lr, _, _| (lr.ln() - 3e-3f64.ln()).powi(2));
    for (i, t) in ts.iter_mut().enumerate() {
        if i < 30 {
            t.status = TrialStatus::Stopped;
        } else {
            t.curve.push(t.curve[0] - 0.1);
        }
    }
    let imp = ped_anova(&space(), &ts, &[1, 3], Goal::Minimize).unwrap();
    assert_eq!(imp.budget, Budget::Rung(1));
    assert_eq!(imp.results, 33);
    assert_eq!(imp.params[0].name, "lr");
}

#[test]
fn the_spread_of_a_share_is_wide_on_few_runs_narrow_on_many_and_repeatable() {
    let metric = |lr: f64, _, _| (lr.ln() - 3e-3f64.ln()).powi(2);
    let lr_of =
        |imp: &super::Importance| imp.params.iter().find(|p| p.name == "lr").cloned().unwrap();
    let few = ped_anova(&space(), &trials(8, metric), &[], Goal::Minimize).unwrap();
    let many = ped_anova(&space(), &trials(240, metric), &[], Goal::Minimize).unwrap();
    let (few_lr, many_lr) = (lr_of(&few), lr_of(&many));
    assert!(few_lr.spread > 0.1, "{few:#?}");
    assert!(many_lr.spread < few_lr.spread / 2.0, "{few:#?} {many:#?}");
    assert!(many_lr.spread > 0.0 && many_lr.spread < 0.2, "{many:#?}");
    // Seeded: measuring the same results again gives the same spreads.
    let again = ped_anova(&space(), &trials(8, metric), &[], Goal::Minimize).unwrap();
    assert_eq!(again, few);
}
