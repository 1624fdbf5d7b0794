//! `train:`: the fixed hyperparameters of every run, merged onto the defaults through the
//! hyperparameter table ([`Hyperparams::with_overrides`]), so names, types and each value's
//! own rule are the table's.

use std::collections::BTreeMap;

use gptsweep_gpt::{HyperparamDef, Hyperparams};

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
        Ok(hp) => hp,
        Err(e) => {
            c.err(locs[e.name()], format!("train.{e}"));
            defaults
        }
    }
}
