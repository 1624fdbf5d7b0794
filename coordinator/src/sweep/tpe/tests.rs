//! TPE on synthetic objectives, with the same seeded random draws `method: random` makes
//! standing in for the startup runs: it beats random search, is deterministic, spreads
//! parallel proposals apart, keeps to buildable points, handles categories and log scales,
//! and learns from runs stopped at a rung.

use std::collections::BTreeMap;

use serde_json::Value;

use gptsweep_core::rng::{Rng, Stream};

use super::*;
use crate::sweep::metric::Goal;
use crate::sweep::param::{Distribution, Param};

type Point = BTreeMap<String, Value>;

fn params(list: &[(&str, Param)]) -> BTreeMap<String, Param> {
    list.iter()
        .map(|(k, p)| (k.to_string(), p.clone()))
        .collect()
}

/// The draw `method: random` makes for run `i`.
fn random_point(params: &BTreeMap<String, Param>, seed: u64, i: usize) -> Point {
    let mut rng = Rng::keyed(seed, Stream::Plan, i as u64);
    params
        .iter()
        .map(|(k, p)| (k.clone(), p.draw(&mut rng)))
        .collect()
}

fn num(p: &Point, key: &str) -> f64 {
    p[key].as_f64().unwrap()
}

fn finished(swept: Point, value: f64) -> Trial {
    Trial {
        swept,
        status: TrialStatus::Finished,
        curve: vec![value],
    }
}

fn opts(n_startup: usize) -> TpeOptions {
    TpeOptions {
        n_startup,
        ..TpeOptions::default()
    }
}

/// A sequential TPE sweep of `n` runs on `f` (minimised); answers every run in order.
fn tpe_sweep(
    params: &BTreeMap<String, Param>,
    seed: u64,
    n: usize,
    f: impl Fn(&Point) -> f64,
    buildable: impl Fn(&Point) -> bool + Copy,
) -> Vec<Trial> {
    let space = Space::of(params);
    let mut trials = Vec::new();
    for i in 0..n {
        let swept = match propose(
            &space,
            &opts(10),
            seed,
            i,
            &trials,
            &[],
            Goal::Minimize,
            buildable,
        ) {
            Decision::Model { swept, .. } => swept,
            Decision::Random(_) => (0..)
                .map(|k| random_point(params, seed, i * 1000 + k))
                .find(|p| buildable(p))
                .unwrap(),
        };
        let v = f(&swept);
        trials.push(finished(swept, v));
    }
    trials
}

fn best(trials: &[Trial]) -> f64 {
    trials
        .iter()
        .map(|t| t.curve[0])
        .fold(f64::INFINITY, f64::min)
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// Median over `seeds` of TPE's best and of random search's best after `n` runs.
fn tpe_vs_random(
    params: &BTreeMap<String, Param>,
    n: usize,
    f: impl Fn(&Point) -> f64 + Copy,
) -> (f64, f64) {
    let seeds = 0..11u64;
    let tpe: Vec<f64> = seeds
        .clone()
        .map(|s| best(&tpe_sweep(params, s, n, f, |_| true)))
        .collect();
    let random: Vec<f64> = seeds
        .map(|s| {
            (0..n)
                .map(|i| f(&random_point(params, s, i * 1000)))
                .fold(f64::INFINITY, f64::min)
        })
        .collect();
    (median(tpe), median(random))
}

#[test]
fn tpe_beats_random_search_on_a_one_dimensional_log_scale_objective() {
    let p = params(&[(
        "lr",
        Param::range(1e-5, 1e-1, Distribution::LogUniformValues),
    )]);
    let f = |x: &Point| (num(x, "lr").ln() - 3e-3f64.ln()).powi(2);
    let (tpe, random) = tpe_vs_random(&p, 30, f);
    assert!(3.0 * tpe < random, "tpe {tpe} vs random {random}");
}

#[test]
fn tpe_beats_random_search_on_a_two_dimensional_mixed_objective() {
    let p = params(&[
        ("x", Param::range(-5.0, 5.0, Distribution::Uniform)),
        ("y", Param::range(-5.0, 5.0, Distribution::IntUniform)),
    ]);
    let f = |q: &Point| (num(q, "x") - 1.3).powi(2) + (num(q, "y") + 2.0).powi(2);
    let (tpe, random) = tpe_vs_random(&p, 40, f);
    assert!(3.0 * tpe < random, "tpe {tpe} vs random {random}");
}

#[test]
fn same_seed_and_results_give_the_same_proposals() {
    let p = params(&[
        ("x", Param::range(-5.0, 5.0, Distribution::Uniform)),
        ("c", Param::Values(vec!["a".into(), "b".into(), "c".into()])),
    ]);
    let f = |q: &Point| num(q, "x").powi(2) + if q["c"] == "b" { 0.0 } else { 4.0 };
    let a = tpe_sweep(&p, 7, 25, f, |_| true);
    let b = tpe_sweep(&p, 7, 25, f, |_| true);
    assert_eq!(a, b);
    let c = tpe_sweep(&p, 8, 25, f, |_| true);
    assert_ne!(a, c);
}

#[test]
fn pending_runs_spread_parallel_proposals_apart() {
    // Constant liar: six workers ask in turn before any reports. Each proposal is made
    // with the runs handed out before it counted as the worst results, so the six land
    // apart; without the lie (pending runs left out) they pile up where the model peaks.
    let p = params(&[("x", Param::range(0.0, 1.0, Distribution::Uniform))]);
    let space = Space::of(&p);
    let (mut with_liar, mut without) = (0.0, 0.0);
    for seed in 0..20u64 {
        let done: Vec<Trial> = (0..20)
            .map(|i| {
                let q = random_point(&p, seed, i);
                let v = (num(&q, "x") - 0.3).abs();
                finished(q, v)
            })
            .collect();
        let ask = |trials: &[Trial], index: usize| match propose(
            &space,
            &opts(10),
            seed,
            index,
            trials,
            &[],
            Goal::Minimize,
            |_| true,
        ) {
            Decision::Model { swept, .. } => num(&swept, "x"),
            Decision::Random(why) => panic!("{why}"),
        };
        let mut trials = done.clone();
        let mut liar = Vec::new();
        for k in 0..6 {
            let x = ask(&trials, 20 + k);
            assert!(!liar.contains(&x), "seed {seed}: {x} proposed twice");
            liar.push(x);
            trials.push(Trial {
                swept: [("x".to_string(), Value::from(x))].into(),
                status: TrialStatus::Pending,
                curve: Vec::new(),
            });
        }
        let honest: Vec<f64> = (0..6).map(|k| ask(&done, 20 + k)).collect();
        with_liar += spread(&liar);
        without += spread(&honest);
    }
    assert!(
        with_liar > 2.0 * without,
        "mean spread {} with pending runs counted, {} without",
        with_liar / 20.0,
        without / 20.0
    );
}

/// Mean absolute deviation from the mean.
fn spread(xs: &[f64]) -> f64 {
    let mean = xs.iter().sum::<f64>() / xs.len() as f64;
    xs.iter().map(|x| (x - mean).abs()).sum::<f64>() / xs.len() as f64
}

#[test]
fn every_model_proposal_is_a_buildable_model() {
    // The objective pulls towards n_embd 24 with 16 heads, which does not divide.
    let p = params(&[
        (
            "n_embd",
            Param::Values(vec![16.into(), 24.into(), 32.into()]),
        ),
        (
            "n_head",
            Param::Values(vec![2.into(), 3.into(), 4.into(), 16.into()]),
        ),
        (
            "lr",
            Param::range(1e-4, 1e-2, Distribution::LogUniformValues),
        ),
    ]);
    let buildable = |q: &Point| num(q, "n_embd") as i64 % num(q, "n_head") as i64 == 0;
    let f = |q: &Point| (num(q, "n_embd") - 24.0).abs() - num(q, "n_head") + num(q, "lr");
    for seed in 0..4 {
        let trials = tpe_sweep(&p, seed, 40, f, buildable);
        assert!(trials.iter().all(|t| buildable(&t.swept)));
    }
}

#[test]
fn the_best_category_is_proposed_most_once_learned() {
    let p = params(&[
        (
            "act",
            Param::Values(vec![
                "relu".into(),
                "gelu".into(),
                "tanh".into(),
                "silu".into(),
            ]),
        ),
        ("x", Param::range(0.0, 1.0, Distribution::Uniform)),
    ]);
    let f = |q: &Point| num(q, "x") + if q["act"] == "tanh" { 0.0 } else { 1.0 };
    let mut tanh = 0;
    for seed in 0..5 {
        let trials = tpe_sweep(&p, seed, 40, f, |_| true);
        tanh += trials[20..]
            .iter()
            .filter(|t| t.swept["act"] == "tanh")
            .count();
    }
    // Random search would pick it a quarter of the time (25 of 100).
    assert!(tanh > 60, "tanh in {tanh} of 100 late proposals");
}

#[test]
fn runs_stopped_at_a_rung_are_learned_from() {
    // Rungs at evaluations 1 and 3. Twelve runs were stopped at the first rung and two
    // finished: with three dimensions the model needs d + 1 = 4 results at a budget, which
    // only rung 1 has, so it is fit there on the stopped runs' values and follows them
    // towards x = 0.8.
    let p = params(&[
        ("x", Param::range(0.0, 1.0, Distribution::Uniform)),
        ("y", Param::range(0.0, 1.0, Distribution::Uniform)),
        ("z", Param::range(0.0, 1.0, Distribution::Uniform)),
    ]);
    let space = Space::of(&p);
    let value = |q: &Point| (num(q, "x") - 0.8).abs() + 2.0;
    let mut trials: Vec<Trial> = (0..14)
        .map(|i| {
            let q = random_point(&p, 1, i);
            let v = value(&q);
            Trial {
                swept: q,
                status: if i < 2 {
                    TrialStatus::Finished
                } else {
                    TrialStatus::Stopped
                },
                curve: if i < 2 {
                    vec![v, v - 1.0, v - 1.5, v - 1.6]
                } else {
                    vec![v]
                },
            }
        })
        .collect();
    let mut near = 0;
    for i in 14..34 {
        let d = propose(
            &space,
            &opts(10),
            1,
            i,
            &trials,
            &[1, 3],
            Goal::Minimize,
            |_| true,
        );
        let Decision::Model {
            swept,
            budget,
            observed,
            ..
        } = d
        else {
            panic!("{d:?}")
        };
        assert_eq!(budget, Budget::Rung(1));
        assert!(observed >= 14);
        if (num(&swept, "x") - 0.8).abs() < 0.2 {
            near += 1;
        }
        let v = value(&swept);
        trials.push(Trial {
            swept,
            status: TrialStatus::Stopped,
            curve: vec![v],
        });
    }
    // A random draw lands within 0.2 of 0.8 40% of the time.
    assert!(
        near >= 12,
        "{near} of 20 proposals near the stopped runs' best"
    );
}
