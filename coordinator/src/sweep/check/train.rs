//! `train:`: the fixed hyperparameters of every run, merged onto the defaults through the
//! hyperparameter table ([`Hyperparams::with_overrides`]), so names, types and each value's
//! own rule are the table's.

use std::collections::BTreeMap;

use gptsweep_core::{HyperparamDef, Hyperparams};

use super::Checker;
use crate::sweep::file::SweepFile;

/// The base hyperparameters of every run; the defaults when `train:` has a bad value.
pub(super) fn check(c: &mut Checker, f: &SweepFile) -> Hyperparams {
    let defaults = Hyperparams::default();
    let Some(train) = &f.train else {
        return defaults;
    };
    let mut overrides = BTreeMap::new();
    let mut locs = BTreeMap::new();
    for (k, v) in &train.value {
        let def = match HyperparamDef::named(k) {
            Ok(def) => def,
            Err(e) => {
                c.err(v.referenced, format!("train.{e}"));
                continue;
            }
        };
        let value = v.value.to_json();
        // Each value's own rule, here with its line: a size past its bound
        // (`block_size: 1000000000000`) is named before anything is sized from it.
        if let Some(rule) = def.broken_rule(&value) {
            c.err(
                v.referenced,
                format!("train.{k}: {value} breaks {k}'s rule ({rule})"),
            );
            continue;
        }
        overrides.insert(k.clone(), value);
        locs.insert(k.clone(), v.referenced);
    }
    match defaults.with_overrides(&overrides) {
        Ok(hp) => divisible(c, f, &locs, hp),
        Err(e) => {
            c.err(locs[e.name()], format!("train.{e}"));
            defaults
        }
    }
}

/// `n_embd` fixed here (or by default) must be a multiple of `n_head` fixed here (or by
/// default): said at its line with the other problems, rather than at every planned run.
/// When either is swept, `reach.rs` (random, tpe) or the grid's points judge the pairs.
fn divisible(
    c: &mut Checker,
    f: &SweepFile,
    locs: &BTreeMap<String, serde_saphyr::Location>,
    hp: Hyperparams,
) -> Hyperparams {
    let swept = |k: &str| {
        f.parameters
            .as_ref()
            .is_some_and(|p| p.value.contains_key(k))
    };
    if swept("n_embd") || swept("n_head") || hp.n_head == 0 || hp.n_embd.is_multiple_of(hp.n_head) {
        return hp;
    }
    let Some((key, loc)) = ["n_embd", "n_head"]
        .iter()
        .find_map(|k| locs.get(*k).map(|l| (*k, *l)))
    else {
        return hp;
    };
    let default = |k: &str| {
        if locs.contains_key(k) {
            ""
        } else {
            " (the default)"
        }
    };
    c.err(
        loc,
        format!(
            "train.{key}: n_embd = {}{} must be a multiple of n_head = {}{}; e.g. n_embd = {} or n_head = {}",
            hp.n_embd,
            default("n_embd"),
            hp.n_head,
            default("n_head"),
            hp.n_embd.div_ceil(hp.n_head) * hp.n_head,
            largest_divisor(hp.n_embd, hp.n_head),
        ),
    );
    let defaults = Hyperparams::default();
    Hyperparams {
        n_embd: defaults.n_embd,
        n_head: defaults.n_head,
        ..hp
    }
}

/// The largest divisor of `n` that is at most `at_most` (at least 1).
fn largest_divisor(n: usize, at_most: usize) -> usize {
    (1..=at_most.min(n))
        .rev()
        .find(|d| n.is_multiple_of(*d))
        .unwrap_or(1)
}
